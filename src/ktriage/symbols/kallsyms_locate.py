"""
Finding kallsyms without VMCOREINFO
-----------------------------------

Linux 6.0 added the addresses of the kallsyms tables to VMCOREINFO (commit
f09bddbd8661, "vmcoreinfo: add kallsyms_num_syms symbol"); before it a dump says
only where ``_stext`` is. The tables are still in the dump, in the kernel image's
read-only data, below the data symbols VMCOREINFO names, and they can be told
apart from anything else by what ``scripts/kallsyms.c`` writes:

- ``kallsyms_token_table``: 256 NUL-terminated tokens. Every byte that occurs in a
  symbol name keeps its own one-byte token at its own index, so the tokens of
  ``0`` to ``9`` are ten consecutive strings ``"0\\0" "1\\0" ... "9\\0"``.
- ``kallsyms_token_index``: 256 ``u16`` offsets of the tokens in that table, just
  after it.
- ``kallsyms_num_syms`` (a ``u32``, 8-aligned like every table) just before
  ``kallsyms_names``, whose entries decode with those tokens to a type letter and
  a name.
- the addresses: ``kallsyms_offsets`` (``u32`` each) with ``kallsyms_relative_base``
  either just before ``kallsyms_num_syms`` (up to 6.1) or just after the token
  index (later kernels, and backports), or 64-bit ``kallsyms_addresses`` before
  ``kallsyms_num_syms`` (kernels without ``CONFIG_KALLSYMS_BASE_RELATIVE``). The
  one that puts ``_stext`` where VMCOREINFO says is the one.

Everything found is checked that way before it is used; what does not check out
is not kallsyms.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final

import drgn

from ktriage.source.printk import read_sparse

__all__ = ("build_fingerprint", "locate_kallsyms")

_DIGITS: Final = b"".join(bytes([c]) + b"\0" for c in b"0123456789")
_CHUNK: Final = 1 << 20
_MAX_SCAN: Final = 96 << 20
"""How far below the lowest data symbol the token table is looked for."""
_NAMES_SPANS: Final = (4 << 20, 24 << 20)
"""How far below the token table the names are looked for, first and at most (they
are 1.5-2.5 MB on distribution kernels, followed by the markers and, since 6.2, a
3-byte sequence number per symbol)."""
_TOKEN_WINDOW: Final = 8192
_MAX_COUNT: Final = 4_000_000
_IMAGE_SPAN: Final = 1 << 30
"""Symbols this far above ``_stext`` are in the kernel image (moved by KASLR as one)."""
_ZERO_TO_ONE: Final = bytes([1] + [0] * 255)
_NM_TYPES: Final = frozenset(b"aAbBcCdDgGiInNpPrRsStTuUvVwW?")


def _read_tolerant(prog: drgn.Program, address: int, size: int) -> bytes:
    # Pages missing from the dump (freed init memory, filtered pages) read as
    # zeros: nothing searched for is made of zeros.
    return bytes(read_sparse(prog, address, size)[0])


def _anchors(prog: drgn.Program, low: int, high: int) -> Iterator[int]:
    # Addresses of the digits' tokens, from high to low, read 1 MiB at a time.
    top = high
    carry = b""
    while top > low:
        bottom = max(low, top - _CHUNK)
        data = _read_tolerant(prog, bottom, top - bottom) + carry
        at = len(data)
        while (at := data.rfind(_DIGITS, 0, at)) >= 0:
            yield bottom + at
        carry = data[: len(_DIGITS) - 1]
        top = bottom


def _token_tables(prog: drgn.Program, anchor: int) -> tuple[int, int, list[bytes]] | None:
    """``(kallsyms_token_table, kallsyms_token_index, tokens)`` around a digits
    anchor, or ``None`` when the index that must follow the table is not there."""
    base = anchor - _TOKEN_WINDOW // 2
    data = _read_tolerant(prog, base, _TOKEN_WINDOW + 512)
    start = anchor - base
    for at in range(start + len(_DIGITS) + (-(anchor + len(_DIGITS)) % 8), _TOKEN_WINDOW, 8):
        index = array("H", data[at : at + 512])
        offset = index[0x30]
        table = start - offset
        if index[0] != 0 or table < 0 or offset == 0:
            continue
        if any(index[0x30 + k] != offset + 2 * k for k in range(10)):
            continue
        if sorted(index) != index.tolist() or len(set(index)) != 256:
            continue
        ends = [data.find(b"\0", table + o) for o in index]
        if min(ends) < 0 or ends[-1] >= at:
            continue
        if any(ends[k] + 1 != table + index[k + 1] for k in range(255)):
            continue
        tokens = [data[table + o : end] for o, end in zip(index, ends, strict=True)]
        return base + table, base + at, tokens
    return None


def _names_start(
    prog: drgn.Program, table: int, floor: int, tokens: Sequence[bytes]
) -> tuple[int, int, bytes] | None:
    """``(kallsyms_num_syms, its value, the names)`` below the token table."""
    for span in _NAMES_SPANS:
        low = max(floor, table - span) & ~7
        data = _read_tolerant(prog, low, table - low)
        found = _names_in(data, tokens)
        if found is not None:
            at, count, end = found
            return low + at, count, data[at + 8 : end]
        if low <= floor:
            break
    return None


def _names_in(data: bytes, tokens: Sequence[bytes]) -> tuple[int, int, int] | None:
    # The 8-aligned count whose names start plausibly and run, entry by entry, to
    # the markers that must follow them: u32 0, then the offset of entry 256.
    words = memoryview(data)[: len(data) // 8 * 8].cast("Q")
    found = None
    for slot in _count_slots(data[: len(words) * 8]):
        count = words[slot]
        if count > _MAX_COUNT:
            continue
        at = slot * 8
        if not _plausible(data, at + 8, tokens):
            continue
        end = _names_end(data, at + 8, count)
        if end is not None:
            found = (at, count, end)  # the last that checks out is nearest the tokens
    return found


def _count_slots(data: bytes) -> Iterator[int]:
    # The 8-byte words of *data* holding 256 to 2**24 - 1: bytes 3-7 zero, byte 1
    # or 2 not. Found with whole-buffer integer operations; a word-by-word loop
    # in Python takes 70 ms on 4 MiB.
    n = len(data) // 8
    high = 0
    for k in range(3, 8):
        high |= int.from_bytes(data[k::8], "little")
    middle = int.from_bytes(data[1::8], "little") | int.from_bytes(data[2::8], "little")
    small = middle.to_bytes(n, "little").translate(_ZERO_TO_ONE)
    flags = (high | int.from_bytes(small, "little")).to_bytes(n, "little")
    slot = flags.find(0)
    while slot >= 0:
        yield slot
        slot = flags.find(0, slot + 1)


def _entry(data: bytes, at: int) -> tuple[int, int] | None:
    # The packed name at *at*: where its token bytes start and where it ends. A
    # length with the top bit set takes two bytes (6.1+). None past the data, or
    # for an empty entry (there is none in kallsyms).
    size = len(data)
    if at >= size:
        return None
    length = data[at]
    if length & 0x80:
        at += 1
        if at >= size:
            return None
        length = (length & 0x7F) | (data[at] << 7)
    if length == 0:
        return None
    return at + 1, at + 1 + length


def _name(data: bytes, span: tuple[int, int], tokens: Sequence[bytes]) -> bytes:
    # A packed name decoded: its type letter, then the symbol's name.
    return b"".join(tokens[b] for b in data[span[0] : span[1]])


def _names_end(data: bytes, start: int, count: int) -> int | None:
    # Where *count* entries from *start* end, if the markers follow them there.
    at = start
    entry_256 = None
    for i in range(count):
        if i == 256:
            entry_256 = at - start
        span = _entry(data, at)
        if span is None:
            return None
        at = span[1]
    markers = (at + 7) & ~7
    if markers + 8 > len(data):
        return None
    first, second = struct.unpack_from("<II", data, markers)
    return at if first == 0 and (entry_256 is None or second == entry_256) else None


def _plausible(data: bytes, at: int, tokens: Sequence[bytes]) -> bool:
    # The first eight entries, one-byte lengths all, decode to a type letter and a
    # printable name.
    for _ in range(8):
        span = _entry(data, at)
        if span is None or data[at] & 0x80:
            return False
        name = _name(data, span, tokens)
        if len(name) < 2 or name[0] not in _NM_TYPES or not name[1:].isascii():
            return False
        at = span[1]
    return True


def _index_of(names: bytes, tokens: Sequence[bytes], wanted: bytes) -> int | None:
    # The index of the first entry named *wanted* (type letter aside), decoding no
    # further than that: _stext comes early in address order.
    at = 0
    for i in itertools.count():
        span = _entry(names, at)
        if span is None:
            return None
        if _name(names, span, tokens)[1:] == wanted:
            return i
        at = span[1]
    return None


def _address_tables(num_syms: int, count: int, token_index: int) -> Iterator[dict[str, int]]:
    # Where the addresses may be, most likely first (see the module's docstring).
    padded = (4 * count + 7) & ~7
    yield {"kallsyms_offsets": num_syms - 8 - padded, "kallsyms_relative_base": num_syms - 8}
    after = (token_index + 512 + 7) & ~7
    yield {"kallsyms_offsets": after, "kallsyms_relative_base": after + padded}
    yield {"kallsyms_addresses": num_syms - 8 * count}


def build_fingerprint(info: Mapping[str, str]) -> str:
    """
    A key for a kernel build from its VMCOREINFO alone (kernels before 6.0 have no
    kallsyms lines there, and before 5.13 no build ID): the release, the build ID
    if any, where the kernel-image symbols VMCOREINFO names are before KASLR, and
    the structure layouts it describes; not ``NUMBER()`` lines, some of which
    change with every boot (``phys_base``). Builds that share it are told apart by
    checking what is found under it.
    """
    slide = _hex(info.get("KERNELOFFSET"))
    stext = _hex(info.get("SYMBOL(_stext)"))
    parts = [info.get("OSRELEASE", ""), info.get("BUILD-ID", "")]
    for key, value in sorted(info.items()):
        if key.startswith(("OFFSET(", "SIZE(", "LENGTH(")):
            parts.append(f"{key}={value}")
        elif key.startswith("SYMBOL(") and 0 <= _hex(value) - stext < _IMAGE_SPAN:
            parts.append(f"{key}={_hex(value) - slide:x}")
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _hex(value: str | None) -> int:
    try:
        return int(value or "0", 16)
    except ValueError:
        return 0


def locate_kallsyms(
    prog: drgn.Program,
    symbols: dict[str, int],
    places_stext: Callable[[dict[str, int], int, int], bool],
) -> dict[str, int] | None:
    """
    The kallsyms tables of a dump whose VMCOREINFO does not locate them, in the
    shape of VMCOREINFO's ``SYMBOL()`` lines, or ``None`` when they are not found.

    :param symbols: VMCOREINFO's symbols (``_stext`` is needed).
    :param places_stext: whether candidate tables (``where``, symbol count, index
        of ``_stext``) put ``_stext`` where VMCOREINFO does.
    """
    stext = symbols.get("_stext")
    if stext is None:
        return None
    above = [address for address in symbols.values() if address > stext]
    high = min(above, default=stext + _MAX_SCAN)
    low = max(stext, high - _MAX_SCAN)
    for anchor in _anchors(prog, low, high):
        tables = _token_tables(prog, anchor)
        if tables is None:
            continue
        table, index, tokens = tables
        names = _names_start(prog, table, stext, tokens)
        if names is None:
            continue
        num_syms, count, packed = names
        stext_index = _index_of(packed, tokens, b"_stext")
        if stext_index is None:
            continue
        where = {
            "_stext": stext,
            "kallsyms_num_syms": num_syms,
            "kallsyms_names": num_syms + 8,
            "kallsyms_token_table": table,
            "kallsyms_token_index": index,
        }
        for addresses in _address_tables(num_syms, count, index):
            candidate = {**where, **addresses}
            if places_stext(candidate, count, stext_index):
                return candidate
        return None
    return None
