"""
Kallsyms
--------

Symbols from the kernel's own kallsyms tables in the dump, for programs opened
without a vmlinux, registered as drgn symbol finders.

drgn 0.3.0 has a kallsyms loader (``drgn.helpers.linux.kallsyms``), but it reads
the compressed names one byte per symbol through the program's memory reader (one
``pread`` each on an ELF dump: 0.3-0.5 s for 94k-163k symbols) and builds a
``drgn.Symbol`` per symbol. Here each table is read once, names are decoded with
one C-level ``charmap`` call per symbol and kept as plain lists, and a
``drgn.Symbol`` is made only for what a lookup returns. Decoded names are cached
by the kernel's build ID (they are the same for every dump of a build), so a dump
of a known build reads only the small tables and the addresses.

What would otherwise mislead is fixed in one place:

- Per-CPU symbols are offsets from zero (``__per_cpu_start`` is 0 on x86-64 SMP), so
  an address lookup below ``__per_cpu_end`` would name small numbers, NULL included
  (``__per_cpu_start+0x0``). Such lookups find nothing here; lookups by name still
  find the per-CPU symbols.
- kallsyms has no sizes: a symbol's size is the distance to the next symbol at a
  higher address. Inside the kernel image that holds however far it is (crash names
  any address after the nearest symbol below it); outside, 64 KiB or more counts as
  unknown (0), as drgn does. Never take an object's length from it (see
  :mod:`ktriage.symbols.declarations`).
- Several names at one address: a linker-script marker (``__sched_text_start``)
  gives way to the function that shares its address (``io_schedule_timeout``), as
  the kernel's own ``scripts/kallsyms.c`` ranks them.
"""

from __future__ import annotations

import bisect
import codecs
import dataclasses
import hashlib
import itertools
import json
import operator
import os
import struct
import zlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, overload

import drgn

from ktriage.errors import DebuginfoError
from ktriage.facts.base import Record
from ktriage.packed import PackedStrings
from ktriage.source.printk import vmcoreinfo
from ktriage.symbols.buildid import dump_build_id

__all__ = (
    "KallsymsInfo",
    "KallsymsTable",
    "ModuleKallsyms",
    "decode_names",
    "load_kallsyms",
    "load_module_symbols",
    "module_symbol_index",
    "unreadable_module_symbols",
)

VMLINUX_FINDER: Final = "ktriage-kallsyms"
MODULE_FINDER: Final = "ktriage-module-kallsyms"
_CACHE_KEY: Final = "ktriage.symbols.kallsyms"

_MAX_UNSIZED: Final = 0x10000
"""Outside the kernel image, a gap this big to the next symbol means "size unknown"."""
_MAX_SYMS: Final = 4_000_000
_MAX_NAMES_BYTES: Final = 64 << 20
_MAX_TOKEN_BYTES: Final = 64 << 10
_NM_TYPES: Final = frozenset("aAbBcCdDgGiInNpPrRsStTuUvVwW?")

# nm type letter -> drgn binding/kind, as drgn's own kallsyms finder maps them.
_OBJECT_TYPES: Final = frozenset("bcdgrv")


def _binding(kind_char: str) -> drgn.SymbolBinding:
    if kind_char == "u":
        return drgn.SymbolBinding.UNIQUE
    if kind_char in "vVwW":
        return drgn.SymbolBinding.WEAK
    if kind_char.isupper():
        return drgn.SymbolBinding.GLOBAL
    # Lowercase is usually local, but not always.
    return drgn.SymbolBinding.UNKNOWN


def _kind(kind_char: str) -> drgn.SymbolKind:
    lower = kind_char.lower()
    if lower in _OBJECT_TYPES:
        return drgn.SymbolKind.OBJECT
    if lower == "t":
        return drgn.SymbolKind.FUNC
    return drgn.SymbolKind.UNKNOWN


def _is_linker_symbol(name: str) -> bool:
    # Names the linker script defines: __start_x/__stop_x, _stext, __x_start,
    # _x_end, __x_begin... (the pattern scripts/kallsyms.c ranks last).
    if name.startswith(("__start_", "__stop_")):
        return True
    return name.startswith("_") and name.endswith(("_start", "_end", "_begin", "text"))


class KallsymsTable:
    """The vmlinux kallsyms of a dump, decoded, and a drgn symbol finder over them.

    ``names[i]`` has the nm type letter ``types[i]``; ``addresses`` is sorted
    (the kernel keeps kallsyms in address order). ``order`` lists the indexes in
    name order (made on first use when not given).
    """

    def __init__(
        self,
        names: Sequence[str],
        types: str,
        addresses: Sequence[int],
        per_cpu_end: int,
        image: tuple[int, int],
        order: Sequence[int] | None = None,
    ) -> None:
        if not len(names) == len(types) == len(addresses):
            raise ValueError("kallsyms names, types and addresses differ in number")
        self.names = names
        self.types = types
        self.addresses = addresses
        self.per_cpu_end = per_cpu_end
        """Address lookups below this find nothing (0 when per-CPU symbols are absolute)."""
        self.image = image
        """``(_text, _end)``: inside it, a symbol runs up to the next one however far."""
        self._order = order

    def __len__(self) -> int:
        return len(self.names)

    # Lookups -----------------------------------------------------------------

    def _by_name(self) -> Sequence[int]:
        if self._order is None:
            self._order = _name_order(self.names)
        return self._order

    def index_of(self, name: str) -> int | None:
        """Index of the first (lowest-address) symbol called ``name``."""
        return _first_index(self.names, self._by_name(), name)

    def indices_of(self, name: str) -> list[int]:
        """Indices of every symbol called ``name`` (static functions repeat)."""
        order = self._by_name()
        at = bisect.bisect_left(order, name, key=self.names.__getitem__)
        found = []
        while at < len(order) and self.names[order[at]] == name:
            found.append(order[at])
            at += 1
        return found

    def _end(self, i: int) -> int:
        # Where symbol i ends: the next higher address, 0 for "unknown".
        address = self.addresses[i]
        j = bisect.bisect_right(self.addresses, address, i)
        in_image = self.image[0] <= address < self.image[1]
        if j < len(self.addresses):
            end = self.addresses[j]
            if in_image:
                return min(end, self.image[1])
            return end if end - address < _MAX_UNSIZED else 0
        return self.image[1] if in_image else 0

    def symbol(self, i: int) -> drgn.Symbol:
        """Symbol ``i`` as drgn represents it."""
        letter = self.types[i]
        address = self.addresses[i]
        end = self._end(i)
        size = end - address if end > address else 0
        return drgn.Symbol(self.names[i], address, size, _binding(letter), _kind(letter))

    def index_at(self, address: int) -> int | None:
        """Index of the symbol that contains ``address``, named as the kernel names it."""
        if address < self.per_cpu_end:
            return None
        last = bisect.bisect_right(self.addresses, address) - 1
        if last < 0:
            return None
        if not address < self._end(last):
            return None
        start = self.addresses[last]
        first = bisect.bisect_left(self.addresses, start, 0, last)
        if first == last or not _is_linker_symbol(self.names[last]):
            return last
        for i in range(first, last):
            if not _is_linker_symbol(self.names[i]):
                return i
        return last

    def __call__(
        self, prog: drgn.Program, name: str | None, address: int | None, one: bool
    ) -> list[drgn.Symbol]:
        """The ``prog.register_symbol_finder`` callback."""
        del prog
        if name is not None:
            if one and address is None:
                first = self.index_of(name)
                return [] if first is None else [self.symbol(first)]
            found = self.indices_of(name)
            if address is not None:
                found = [i for i in found if self.addresses[i] <= address < self._end(i)]
        elif address is not None:
            at = self.index_at(address)
            found = [] if at is None else [at]
        else:
            found = list(range(len(self.names)))
        if one:
            found = found[:1]
        return [self.symbol(i) for i in found]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class KallsymsInfo(Record):
    """What :func:`load_kallsyms` found."""

    count: int
    """Number of vmlinux symbols (``kallsyms_num_syms``)."""
    text: tuple[int, int]
    """``(_text, _end)``: the kernel image's address range."""
    per_cpu_end: int
    """``__per_cpu_end`` when per-CPU symbols are zero-based, else 0."""
    located: bool = False
    """Whether the tables were found by searching kernel memory (VMCOREINFO before
    Linux 6.0 does not locate them; see :mod:`ktriage.symbols.kallsyms_locate`)."""


def _vmcoreinfo_symbols(prog: drgn.Program) -> dict[str, int]:
    # SYMBOL(name)=address lines of VMCOREINFO.
    symbols = {}
    for key, value in vmcoreinfo(prog).items():
        if key.startswith("SYMBOL(") and key.endswith(")"):
            try:
                symbols[key[7:-1]] = int(value, 16)
            except ValueError:
                continue
    return symbols


def decode_names(names: bytes, count: int, tokens: Sequence[bytes]) -> list[str]:
    """Decode ``count`` compressed kallsyms names (type letter first) from ``names``.

    Each name is a token count, then that many token indexes into ``tokens``. Since
    Linux kernel commit 73bbb94466fd ("kallsyms: support "big" kernel symbols") (in
    v6.1) a count with the top bit set takes two bytes; before it, names were under
    128 characters, so that bit was never set and reading it this way is right for
    every kernel.

    :raises ValueError: when the tables run out or a name is not a kallsyms entry
    """
    mapping = {value: token.decode("latin-1") for value, token in enumerate(tokens)}
    decode = codecs.charmap_decode
    entries: list[str] = []
    append = entries.append
    i = 0
    size = len(names)
    for _ in range(count):
        if i >= size:
            raise ValueError("kallsyms names end early")
        length = names[i]
        if length & 0x80:
            i += 1
            if i >= size:
                raise ValueError("kallsyms names end early")
            length = (length & 0x7F) | (names[i] << 7)
        end = i + 1 + length
        if end > size:
            raise ValueError("kallsyms names end early")
        append(decode(names[i + 1 : end], "strict", mapping)[0])
        i = end
    for entry in entries[:: max(1, count // 64)]:
        if not entry or entry[0] not in _NM_TYPES:
            raise ValueError(f"kallsyms name {entry[:20]!r} has no type letter")
    return entries


def _read(prog: drgn.Program, address: int, size: int, what: str) -> bytes:
    try:
        return bytes(prog.read(address, size))
    except drgn.FaultError as e:
        raise DebuginfoError(
            f"cannot read kallsyms {what} at {address:#x} from the dump ({e})",
            "the dump may be incomplete; give a vmlinux",
        ) from e


def _tokens(prog: drgn.Program, where: dict[str, int]) -> tuple[int, list[bytes]]:
    count = int.from_bytes(_read(prog, where["kallsyms_num_syms"], 4, "count"), "little")
    if not 0 < count <= _MAX_SYMS:
        raise DebuginfoError(f"kallsyms_num_syms is {count}", "the dump looks corrupt")
    index = array("H", _read(prog, where["kallsyms_token_index"], 512, "token index"))
    table_size = max(index) + 1
    table = _read(prog, where["kallsyms_token_table"], table_size, "token table")
    more = _read(prog, where["kallsyms_token_table"] + table_size, _MAX_TOKEN_BYTES, "tokens")
    end = more.find(b"\0")
    if end < 0:
        raise DebuginfoError("kallsyms token table has no end", "the dump looks corrupt")
    table += more[: end + 1]
    tokens = []
    for offset in index:
        stop = table.find(b"\0", offset)
        if stop < 0:
            raise DebuginfoError("kallsyms token table has no end", "the dump looks corrupt")
        tokens.append(table[offset:stop])
    return count, tokens


def _packed_names(prog: drgn.Program, where: dict[str, int]) -> bytes:
    # The names run up to the next table the linker placed after them (markers, or
    # the token table); read that stretch at once.
    start = where["kallsyms_names"]
    after = [address for address in where.values() if address > start]
    size = min(min(after) - start if after else _MAX_NAMES_BYTES, _MAX_NAMES_BYTES)
    return _read(prog, start, size, "names")


def _name_order(names: Sequence[str]) -> array[int]:
    # Stable, so repeated names stay in address order.
    return array("I", sorted(range(len(names)), key=names.__getitem__))


def _first_index(names: Sequence[str], order: Sequence[int], name: str) -> int | None:
    # The first index called name, by bisection of the indexes in name order.
    at = bisect.bisect_left(order, name, key=names.__getitem__)
    if at < len(order) and names[order[at]] == name:
        return order[at]
    return None


@dataclass(frozen=True, eq=False, repr=False)
class _Cached(Record):
    names: Sequence[str]
    types: str
    order: array[int]
    checked_offsets: int
    """CRC-32 of the kallsyms offsets last found in order with these names (0: none)."""


# The cache file, named by the key of the tables: the magic line, the CRC-32 of the
# rest (integrity only: a torn or damaged file is not used), then the symbol count,
# the CRC-32 of the offsets table found in order, the name order and the start of
# each name (4 bytes per symbol each), the type letters and the names, run together.
_CACHE_MAGIC: Final = b"ktriage-kallsyms/2\n"
_CACHE_HEADER: Final = struct.Struct("<III")


def _load_cache(path: Path, count: int) -> _Cached | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_CACHE_MAGIC) + _CACHE_HEADER.size
    if not data.startswith(_CACHE_MAGIC) or len(data) < head + 9 * count + 4:
        return None
    crc, saved_count, checked = _CACHE_HEADER.unpack_from(data, len(_CACHE_MAGIC))
    if saved_count != count or zlib.crc32(memoryview(data)[len(_CACHE_MAGIC) + 4 :]) != crc:
        return None
    at = head
    order = array("I", data[at : at + 4 * count])
    at += 4 * count
    starts = array("I", data[at : at + 4 * (count + 1)])
    at += 4 * (count + 1)
    types = data[at : at + count].decode("latin-1")
    text = data[at + count :].decode("latin-1")
    try:
        names = PackedStrings(text, starts)
    except ValueError:
        return None
    return _Cached(names, types, order, checked)


def _save_cache(path: Path, cached: _Cached) -> None:
    names = cached.names
    count = len(names)
    packed = PackedStrings.pack(names)
    starts, text = packed.starts, packed.text
    body = (
        cached.order.tobytes()
        + starts.tobytes()
        + cached.types.encode("latin-1")
        + text.encode("latin-1")
    )
    rest = struct.pack("<II", count, cached.checked_offsets) + body
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(_CACHE_MAGIC + struct.pack("<I", zlib.crc32(rest)) + rest)
        partial.replace(path)
    except (OSError, UnicodeEncodeError):
        pass


def _cache_key(
    prog: drgn.Program, where: dict[str, int], count: int, tokens: list[bytes]
) -> tuple[str, bytes | None]:
    # Names are the same for every dump of a build: with the build ID in VMCOREINFO
    # (Linux 5.9+) the key needs only the small tables, and the 1-2 MB of packed
    # names are read only on a miss. Without it, the key hashes the packed names.
    digest = hashlib.blake2b(digest_size=16)
    for token in tokens:
        digest.update(token + b"\0")
    digest.update(count.to_bytes(4, "little"))
    build_id = dump_build_id(prog)
    if build_id is not None:
        digest.update(b"build-id " + build_id.encode())
        return digest.hexdigest(), None
    packed = _packed_names(prog, where)
    digest.update(packed)
    return digest.hexdigest(), packed


class _RelativeAddresses(Sequence[int]):
    # kallsyms addresses computed from the 32-bit offsets when asked for (bisect
    # asks for a few), instead of a 100k-element list made for every dump.
    def __init__(self, offsets: array[int], base: int, absolute_percpu: bool) -> None:
        self.offsets = offsets
        self.base = base
        self.absolute_percpu = absolute_percpu

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[int]: ...

    def __getitem__(self, i: int | slice) -> int | Sequence[int]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        value = self.offsets[i]
        if self.absolute_percpu:
            return value if value >= 0 else self.base - 1 - value
        return self.base + (value & 0xFFFFFFFF)

    def in_order(self) -> bool:
        """Whether the addresses ascend (checked at C speed on the offsets)."""
        offsets = self.offsets
        if not self.absolute_percpu:
            unsigned = array("I", offsets.tobytes())
            return sorted(unsigned) == unsigned.tolist()
        # Absolute entries (non-negative, ascending) first, then relative ones
        # (negative, descending).
        absolute = 0
        while absolute < len(offsets) and offsets[absolute] >= 0:
            absolute += 1
        head, tail = offsets[:absolute].tolist(), offsets[absolute:].tolist()
        if tail and max(tail) >= 0:
            return False
        return sorted(head) == head and sorted(tail, reverse=True) == tail


def _misplaced_stext(table: str) -> DebuginfoError:
    return DebuginfoError(
        f"kallsyms {table} do not place _stext where VMCOREINFO says",
        "the dump looks corrupt; give a vmlinux",
    )


def _addresses(
    prog: drgn.Program, where: dict[str, int], count: int, stext_index: int, checked: int
) -> tuple[Sequence[int], int]:
    # The addresses, and the CRC-32 of the offsets table when it was found in order
    # (checking the order of 100k-160k offsets takes 10 ms; a table with the CRC
    # that was checked last time is not checked again).
    if "kallsyms_offsets" not in where:
        # Before CONFIG_KALLSYMS_BASE_RELATIVE: absolute addresses.
        data = _read(prog, where["kallsyms_addresses"], 8 * count, "addresses")
        addresses = array("Q", data).tolist()
        if "_stext" in where and addresses[stext_index] != where["_stext"]:
            raise _misplaced_stext("addresses")
        if sorted(addresses) != addresses:
            raise DebuginfoError("kallsyms addresses are not in order", "the dump looks corrupt")
        return addresses, 0
    raw = _read(prog, where["kallsyms_offsets"], 4 * count, "offsets")
    offsets = array("i", raw)
    base = int.from_bytes(_read(prog, where["kallsyms_relative_base"], 8, "base"), "little")
    stext = where.get("_stext")
    # With CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86-64 SMP kernels of this era),
    # non-negative offsets are absolute and negative ones count down from the base;
    # without it, every offset counts up from the base. Where _stext lands tells.
    relative = _RelativeAddresses(offsets, base, absolute_percpu=False)
    if stext is None or relative[stext_index] != stext:
        relative = _RelativeAddresses(offsets, base, absolute_percpu=True)
        if stext is not None and relative[stext_index] != stext:
            raise _misplaced_stext("offsets")
    crc = zlib.crc32(raw + bytes([relative.absolute_percpu]))
    if crc != checked and not relative.in_order():
        raise DebuginfoError("kallsyms addresses are not in order", "the dump looks corrupt")
    return relative, crc


def load_kallsyms(prog: drgn.Program, cache_dir: Path | None = None) -> KallsymsInfo:
    """Register the vmlinux kallsyms of the dump as *prog*'s first symbol finder.

    Linux 6.0 and later (or a backport of commit f09bddbd8661, "vmcoreinfo: add
    kallsyms_num_syms symbol") locate the tables in VMCOREINFO; for older kernels
    they are searched for in kernel memory (:mod:`ktriage.symbols.kallsyms_locate`),
    and where they were found is kept in ``cache_dir`` for the next dump of the
    build. ``cache_dir`` also keeps decoded names by the kernel's build ID (or,
    without one in VMCOREINFO, by the hash of the compressed tables).

    Calling it again on the same program returns what the first call found.

    :raises DebuginfoError: when the tables are neither located by VMCOREINFO nor
        found in memory, or are corrupt
    """
    loaded = prog.cache.get(_CACHE_KEY)
    if isinstance(loaded, KallsymsInfo):
        return loaded
    where = _vmcoreinfo_symbols(prog)
    if _complete(where):
        info = _load_tables(prog, where, cache_dir, located=False)
    else:
        info = _load_located(prog, where, cache_dir)
    prog.cache[_CACHE_KEY] = info
    return info


def _complete(where: dict[str, int]) -> bool:
    # Whether *where* locates every table load_kallsyms reads.
    needed = ("kallsyms_num_syms", "kallsyms_names", "kallsyms_token_table")
    return all(name in where for name in (*needed, "kallsyms_token_index")) and (
        ("kallsyms_offsets" in where and "kallsyms_relative_base" in where)
        or "kallsyms_addresses" in where
    )


def _load_located(
    prog: drgn.Program, where: dict[str, int], cache_dir: Path | None
) -> KallsymsInfo:
    # Before Linux 6.0: where the tables were found for this build last time, if
    # they check out there, else a search of the kernel's read-only data.
    from ktriage.symbols.kallsyms_locate import build_fingerprint, locate_kallsyms

    stext = where.get("_stext")
    memo = None
    if cache_dir is not None and stext is not None:
        memo = cache_dir / f"{build_fingerprint(vmcoreinfo(prog))}.where"
        remembered = _read_where(memo, stext)
        if remembered is not None:
            try:
                return _load_tables(prog, {**where, **remembered}, cache_dir, located=True)
            except DebuginfoError:
                pass  # another build with the same fingerprint, or a damaged file
    found = locate_kallsyms(prog, where, _places_stext(prog))
    if found is None:
        raise DebuginfoError(
            "cannot read kallsyms from the dump: VMCOREINFO does not locate the tables "
            "(it does since Linux 6.0) and they were not found in the kernel's memory",
            "give a vmlinux",
        )
    info = _load_tables(prog, found, cache_dir, located=True)
    if memo is not None and stext is not None:
        _write_where(memo, found, stext)
    return info


def _read_where(path: Path, stext: int) -> dict[str, int] | None:
    # {table: offset from _stext}, as _write_where keeps it.
    try:
        offsets = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(offsets, dict) or not all(
        isinstance(k, str) and k.startswith("kallsyms_") and isinstance(v, int)
        for k, v in offsets.items()
    ):
        return None
    where = {name: stext + offset for name, offset in offsets.items()}
    return where if _complete(where) else None


def _write_where(path: Path, where: dict[str, int], stext: int) -> None:
    offsets = {k: v - stext for k, v in where.items() if k.startswith("kallsyms_")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(offsets, sort_keys=True))
        partial.replace(path)
    except OSError:
        pass


def _load_tables(
    prog: drgn.Program, where: dict[str, int], cache_dir: Path | None, *, located: bool
) -> KallsymsInfo:
    count, tokens = _tokens(prog, where)
    key, packed = _cache_key(prog, where, count, tokens)
    path = cache_dir / f"{key}.kallsyms" if cache_dir is not None else None
    cached = _load_cache(path, count) if path is not None else None
    fresh = cached is None
    if cached is None:
        try:
            entries = decode_names(
                packed if packed is not None else _packed_names(prog, where), count, tokens
            )
        except ValueError as e:
            raise DebuginfoError(f"kallsyms tables are corrupt: {e}", "give a vmlinux") from e
        decoded = [entry[1:] for entry in entries]
        cached = _Cached(decoded, "".join(entry[0] for entry in entries), _name_order(decoded), 0)
    names, types, order = cached.names, cached.types, cached.order

    def index(name: str) -> int:
        i = _first_index(names, order, name)
        if i is None:
            raise DebuginfoError(
                f"kallsyms has no {name}", "the kallsyms tables in the dump look corrupt"
            )
        return i

    addresses, checked = _addresses(prog, where, count, index("_stext"), cached.checked_offsets)
    if path is not None and (fresh or checked != cached.checked_offsets):
        _save_cache(path, dataclasses.replace(cached, checked_offsets=checked))
    per_cpu = _first_index(names, order, "__per_cpu_start")
    per_cpu_end = 0
    if per_cpu is not None and not addresses[per_cpu]:
        per_cpu_end = addresses[index("__per_cpu_end")]
    text = (addresses[index("_text")], addresses[index("_end")])
    if not text[0] < text[1]:
        raise DebuginfoError("kallsyms gives an empty kernel image", "the dump looks corrupt")
    table = KallsymsTable(names, types, addresses, per_cpu_end, text, order)
    prog.register_symbol_finder(VMLINUX_FINDER, table, enable_index=0)
    return KallsymsInfo(count=count, text=text, per_cpu_end=per_cpu_end, located=located)


def _places_stext(prog: drgn.Program) -> Callable[[dict[str, int], int, int], bool]:
    # For locate_kallsyms: whether candidate tables put _stext where VMCOREINFO does.
    def check(where: dict[str, int], count: int, stext_index: int) -> bool:
        try:
            _addresses(prog, where, count, stext_index, 0)
        except DebuginfoError:
            return False
        return True

    return check


# Elf64_Sym: st_name, st_info, st_other, st_shndx, st_value, st_size.
_ELF64_SYM: Final = struct.Struct("<IBBHQQ")
_STT_KINDS: Final = {
    0: drgn.SymbolKind.UNKNOWN,
    1: drgn.SymbolKind.OBJECT,
    2: drgn.SymbolKind.FUNC,
    3: drgn.SymbolKind.SECTION,
    4: drgn.SymbolKind.FILE,
    5: drgn.SymbolKind.COMMON,
    6: drgn.SymbolKind.TLS,
    10: drgn.SymbolKind.IFUNC,
}
_STB_BINDINGS: Final = {
    0: drgn.SymbolBinding.LOCAL,
    1: drgn.SymbolBinding.GLOBAL,
    2: drgn.SymbolBinding.WEAK,
    10: drgn.SymbolBinding.UNIQUE,
}


class _ModuleTable:
    """One module's kallsyms: its named Elf64_Sym records in address order (stable)
    and its string table, answering lookups as ``drgn.SymbolIndex`` does
    (libdrgn/symbol.c) and making a ``drgn.Symbol`` only for what it returns."""

    def __init__(
        self, records: list[tuple[int, int, int, int, int, int]], strtab: bytes, elf_info: bool
    ) -> None:
        self.records = sorted(records, key=operator.itemgetter(4))
        self.strtab = strtab
        self.elf_info = elf_info
        """Whether st_info is ELF's (since v5.2), else an nm letter."""
        self.starts = [record[4] for record in self.records]
        ends = [record[4] + record[5] for record in self.records]
        # The highest end among the symbols up to each one: where an address
        # lookup can start (symbols may nest).
        self.max_ends = list(itertools.accumulate(ends, max))
        sized = [(start, end) for start, end in zip(self.starts, ends, strict=True) if end > start]
        self.span = (min(a for a, _ in sized), max(b for _, b in sized)) if sized else (0, 0)
        """What the sized symbols cover: no other address is in any of them."""
        self._made: dict[int, drgn.Symbol] = {}

    def __len__(self) -> int:
        return len(self.records)

    def symbol(self, i: int) -> drgn.Symbol:
        """Record ``i`` as drgn represents it."""
        found = self._made.get(i)
        if found is not None:
            return found
        name_offset, info, _other, _shndx, value, size = self.records[i]
        end = self.strtab.find(b"\0", name_offset)
        if end < 0:
            raise ValueError("module symbol name runs past the string table")
        name = self.strtab[name_offset:end].decode("ascii", "replace")
        if self.elf_info:
            binding = _STB_BINDINGS.get(info >> 4, drgn.SymbolBinding.UNKNOWN)
            kind = _STT_KINDS.get(info & 0xF, drgn.SymbolKind.UNKNOWN)
        else:
            letter = chr(info)
            binding, kind = _binding(letter), _kind(letter)
        found = self._made[i] = drgn.Symbol(name, value, size, binding, kind)
        return found

    def symbols(self) -> list[drgn.Symbol]:
        """Every symbol, in address order."""
        return [self.symbol(i) for i in range(len(self.records))]

    def containing(self, address: int, one: bool) -> list[drgn.Symbol]:
        """The symbols containing ``address``, in address order."""
        found = []
        for i in range(
            bisect.bisect_right(self.max_ends, address), bisect.bisect_right(self.starts, address)
        ):
            _, _, _, _, value, size = self.records[i]
            if value <= address < value + size:
                found.append(self.symbol(i))
                if one:
                    break
        return found

    def named(self, name: str) -> list[drgn.Symbol]:
        """The symbols called ``name``, in address order."""
        encoded = name.encode()
        needle = b"\0" + encoded + b"\0"
        strtab = self.strtab
        if needle not in strtab:
            return []
        found = []
        for i, record in enumerate(self.records):
            start = record[0]
            if strtab.startswith(encoded, start) and strtab.find(b"\0", start) == start + len(
                encoded
            ):
                found.append(self.symbol(i))
        return found


class _ModuleMeta:
    # Where a module's kallsyms are (kernel/module/kallsyms.c).
    __slots__ = ("count", "elf_info", "strtab", "symtab")

    def __init__(self, *, count: int, symtab: int, strtab: int, elf_info: bool) -> None:
        self.count = count
        self.symtab = symtab
        self.strtab = strtab
        self.elf_info = elf_info


def _module_meta(module: drgn.Object) -> _ModuleMeta:
    try:
        kallsyms = module.kallsyms
    except AttributeError:
        kallsyms = module  # before struct mod_kallsyms (v4.5)
    count = kallsyms.num_symtab.value_()
    if count > _MAX_SYMS:
        raise ValueError(f"module has {count} symbols")
    # Since Linux kernel commit 1c7651f43777 ("kallsyms: store type information in
    # its own array") (in v5.2), st_info is the ELF one and the nm letter is in
    # typetab; before, st_info held the nm letter.
    try:
        kallsyms.member_("typetab")
        elf_info = True
    except LookupError:
        elf_info = False
    if count <= 0:
        return _ModuleMeta(count=0, symtab=0, strtab=0, elf_info=elf_info)
    return _ModuleMeta(
        count=count,
        symtab=kallsyms.symtab.value_(),
        strtab=kallsyms.strtab.value_(),
        elf_info=elf_info,
    )


def _module_table(prog: drgn.Program, meta: _ModuleMeta) -> _ModuleTable:
    # The module's ELF symbol table kept for kallsyms, read as raw bytes: one read
    # for the symbols, one for the names.
    if meta.count <= 0:
        return _ModuleTable([], b"", meta.elf_info)
    symtab = prog.read(meta.symtab, meta.count * _ELF64_SYM.size)
    records = [record for record in _ELF64_SYM.iter_unpack(symtab) if record[0]]
    if not records:
        return _ModuleTable([], b"", meta.elf_info)
    last = max(record[0] for record in records)
    strtab = prog.read(meta.strtab, last)
    tail = meta.strtab + last
    while True:
        chunk = prog.read(tail, 64 - tail % 64)
        strtab += chunk
        tail += len(chunk)
        if b"\0" in chunk or len(strtab) > last + 4096:
            break
    return _ModuleTable(records, strtab, meta.elf_info)


# Below the kernel's half of the address space: per-CPU offsets (and user space).
_PER_CPU_LIMIT: Final = 1 << 63


class _LazyModule:
    """A module's kallsyms table, read from the dump when a lookup first needs it."""

    def __init__(
        self,
        module: drgn.Object,
        meta: _ModuleMeta,
        ranges: Sequence[tuple[int, int]] | None,
    ) -> None:
        self._module = module
        self.meta = meta
        self.ranges = ranges
        """The module's memory (drgn's address ranges of it); ``None``: not known."""
        self._table: _ModuleTable | None = None
        self.error: str | None = None
        """Why the table could not be read (it is then empty)."""

    @property
    def table(self) -> _ModuleTable:
        if self._table is None:
            try:
                self._table = _module_table(self._module.prog_, self.meta)
            except (drgn.FaultError, ValueError, OverflowError) as e:
                # Not in the dump: the module has no symbols, the others still do.
                self.error = str(e)
                self._table = _ModuleTable([], b"", self.meta.elf_info)
        return self._table

    def name(self) -> str:
        try:
            name: bytes = self._module.name.string_()
            return name.decode(errors="replace")
        except (drgn.FaultError, ValueError):
            return f"module at {self._module.value_():#x}"

    def may_hold(self, address: int) -> bool:
        """Whether a symbol of the module can contain *address*: its memory does, or
        *address* is low enough to be a per-CPU offset (a module's per-CPU variables
        are listed at their offset in the per-CPU area)."""
        return (
            self.ranges is None
            or address < _PER_CPU_LIMIT
            or any(lo <= address < hi for lo, hi in self.ranges)
        )


def _module_tables(prog: drgn.Program) -> list[_LazyModule]:
    from drgn.helpers.linux.module import for_each_module

    # drgn's modules (create_loaded_modules) know each module's memory.
    ranges: dict[int, Sequence[tuple[int, int]]] = {}
    for module in prog.modules():
        if isinstance(module, drgn.RelocatableModule) and module.object:
            ranges[module.object.value_()] = module.address_ranges
    return [
        _LazyModule(module, _module_meta(module), ranges.get(module.value_()))
        for module in for_each_module(prog)
    ]


class ModuleKallsyms:
    """The kallsyms of loaded modules as a drgn symbol finder, answering as one
    ``drgn.SymbolIndex`` of them all would.

    A module's table is read from the dump when a lookup first needs it: an
    address lookup reads only the module whose memory holds the address. A
    ``drgn.Symbol`` is made only for what a lookup returns (a backtrace through a
    module names a few of its thousands); listing every symbol, or a lookup by
    name and address together, makes the index of them all. Several symbols of one
    name come in address order (drgn's index leaves their order open). A module
    whose table is not in the dump has no symbols.
    """

    def __init__(self, modules: list[_LazyModule]) -> None:
        self._modules = modules
        self._all: drgn.SymbolIndex | None = None

    def __len__(self) -> int:
        return sum(len(module.table) for module in self._modules)

    def entries(self) -> int:
        """Entries of the modules' tables, unnamed ones too (nothing is read)."""
        return sum(module.meta.count for module in self._modules)

    def unreadable(self) -> list[str]:
        """The tables that lookups so far could not read from the dump, a line each."""
        return [
            f"kallsyms of module {module.name()} not in the dump ({module.error}): "
            "its addresses print without symbol names"
            for module in self._modules
            if module.error is not None
        ]

    def index(self) -> drgn.SymbolIndex:
        """One index of every module's symbols (made on first use)."""
        if self._all is None:
            symbols = [s for module in self._modules for s in module.table.symbols()]
            symbols.sort(key=operator.attrgetter("address"))
            self._all = drgn.SymbolIndex(symbols)
        return self._all

    def __call__(
        self, prog: drgn.Program, name: str | None, address: int | None, one: bool
    ) -> list[drgn.Symbol]:
        """The ``prog.register_symbol_finder`` callback."""
        if (name is None) == (address is None):
            return list(self.index()(prog, name, address, one))
        if name is not None:
            found = [s for module in self._modules for s in module.table.named(name)]
        else:
            assert address is not None
            found = [
                s
                for module in self._modules
                if module.may_hold(address)
                and module.table.span[0] <= address < module.table.span[1]
                for s in module.table.containing(address, one)
            ]
        # As the index of all would list them: by address, then module order.
        found.sort(key=operator.attrgetter("address"))
        return found[:1] if one else found


def module_symbol_index(prog: drgn.Program) -> ModuleKallsyms:
    """A symbol finder over every loaded module's kallsyms.

    Needs the types of ``struct module`` (from BTF or DWARF) and the ``modules``
    list. Module symbols are absolute addresses with ELF sizes.
    """
    return ModuleKallsyms(_module_tables(prog))


def load_module_symbols(prog: drgn.Program) -> int:
    """Register the kallsyms of loaded modules; returns how many entries their
    tables have (read as lookups need them). The finder is kept as
    ``prog.cache[MODULE_FINDER]`` (see :func:`unreadable_module_symbols`)."""
    finder = module_symbol_index(prog)
    prog.register_symbol_finder(MODULE_FINDER, finder, enable_index=1)
    prog.cache[MODULE_FINDER] = finder
    return finder.entries()


def unreadable_module_symbols(prog: drgn.Program) -> list[str]:
    """What :func:`load_module_symbols` could not read from the dump so far, a line
    per module (tables are read as lookups need them: ask after the analysis)."""
    finder = prog.cache.get(MODULE_FINDER)
    return finder.unreadable() if isinstance(finder, ModuleKallsyms) else []
