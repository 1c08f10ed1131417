"""
BTF tier
--------

Set up a drgn :class:`drgn.Program` on a kernel dump with no vmlinux at all, so that
drgn's helpers and ktriage's collectors run on it unchanged:

- symbols from the dump's kallsyms (vmlinux and modules),
- types from the kernel's own BTF (vmlinux, and each module's BTF where it has one),
- global variables: per-CPU ones from BTF, the rest from
  :mod:`ktriage.symbols.declarations`, functions from BTF ``FUNC`` records,
  enumerators as constants,
- stack unwinding with the kernel's in-memory ORC tables, which drgn uses once the
  kernel's text range and the loaded modules are known.

:func:`load_symbols_tier` is the fallback when BTF is missing or corrupt: symbols
and unwinding only. :func:`load_btf_types` puts the same types and globals in front
of a vmlinux's DWARF on the DWARF tier (see :mod:`ktriage.symbols.absent`).
"""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import drgn

from ktriage.cache import cache_root
from ktriage.errors import DebuginfoError, KtriageError
from ktriage.facts.base import Record
from ktriage.facts.debuginfo import DebuginfoFacts, Tier
from ktriage.source.printk import read_sparse
from ktriage.symbols.btf import Btf, BtfError, BtfKind, BtfTypeConverter, parse_btf
from ktriage.symbols.buildid import dump_build_id
from ktriage.symbols.declarations import Declaration, declaration, resolve_length
from ktriage.symbols.kallsyms import KallsymsInfo, load_kallsyms, load_module_symbols

__all__ = (
    "BTF_NOTES",
    "SYMBOLS_NOTES",
    "BtfTypes",
    "GlobalFinder",
    "TierInfo",
    "load_btf_tier",
    "load_btf_types",
    "load_symbols_tier",
    "orc_undefined",
    "read_btf_file",
    "recover_orc_gap",
    "tier_facts",
)

_T = TypeVar("_T")

TYPE_FINDER: Final = "ktriage-btf"
OBJECT_FINDER: Final = "ktriage-btf-globals"

BTF_NOTES: Final = (
    "no source lines or inline frames on the BTF tier",
    "global variable types come from ktriage's declaration table; "
    "other non-per-CPU globals have no type",
)
SYMBOLS_NOTES: Final = (
    "no types on the symbols tier: only symbol names, raw memory and ORC unwinding",
    "no source lines or inline frames on the symbols tier",
)

# Types every collector needs: BTF without them is not the kernel's.
_ESSENTIAL_TYPES: Final = ("struct task_struct", "struct list_head", "struct module")
_STRUCT: Final = frozenset((drgn.TypeKind.STRUCT,))
_SHT_NOBITS: Final = 8
# Far beyond any real vmlinux BTF (6.1: 4.4 MB).
_MAX_BTF_SIZE: Final = 256 << 20


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class TierInfo(Record):
    """What a no-vmlinux tier loaded."""

    tier: str
    """``btf`` or ``symbols`` (:class:`ktriage.facts.debuginfo.Tier`)."""
    source: str
    """``btf`` (from the dump), ``btf-file`` (given by the user) or ``kallsyms``."""
    symbols: int
    """vmlinux kallsyms symbols."""
    module_symbols: int
    """Entries of the modules' kallsyms tables (read as lookups need them)."""
    types: int
    """vmlinux BTF type records (0 on the symbols tier)."""
    module_types: int
    """Module BTF type records."""
    modules: tuple[str, ...]
    """Loaded modules."""
    modules_with_btf: tuple[str, ...]
    """Loaded modules whose BTF was loaded (out-of-tree modules usually have none)."""
    timings: tuple[tuple[str, float], ...]
    """Seconds per step, in order."""
    notes: tuple[str, ...]
    """What this tier cannot give, and anything that went wrong on the way."""


class GlobalFinder:
    """A drgn object finder for variables, functions and constants from BTF.

    Variables: the declared ones (:mod:`ktriage.symbols.declarations`), then
    per-CPU ones from BTF ``VAR`` records; functions from BTF ``FUNC`` records;
    each at its kallsyms address. Constants: BTF enumerators.
    """

    def __init__(self, converter: BtfTypeConverter) -> None:
        self.converter = converter
        self._cache: dict[tuple[str, int, int], drgn.Object | None] = {}
        self._unknown_function: drgn.Type | None = None

    def __call__(
        self, prog: drgn.Program, name: str, flags: drgn.FindObjectFlags, filename: str | None
    ) -> drgn.Object | None:
        """The ``prog.register_object_finder`` callback."""
        if filename:
            return None
        # Module BTF added later may answer what the vmlinux BTF did not.
        key = (name, flags.value, len(self.converter.splits))
        if key in self._cache:
            return self._cache[key]
        result = None
        if flags & drgn.FindObjectFlags.VARIABLE:
            decl = declaration(name)
            if decl is not None:
                result = self._declared(prog, name, decl)
        # The vmlinux BTF first, module BTF only for what it lacks: a module's
        # split BTF has only the module's own names.
        for btf in self._btfs() if result is None else ():
            if flags & drgn.FindObjectFlags.CONSTANT:
                result = self._constant(btf, name)
            if result is None and flags & drgn.FindObjectFlags.VARIABLE:
                result = self._from_btf(prog, btf, name, BtfKind.VAR)
            if result is None and flags & drgn.FindObjectFlags.FUNCTION:
                result = self._from_btf(prog, btf, name, BtfKind.FUNC)
            if result is not None:
                break
        if result is None and flags & drgn.FindObjectFlags.FUNCTION:
            result = self._function_symbol(prog, name)
        self._cache[key] = result
        return result

    def _function_symbol(self, prog: drgn.Program, name: str) -> drgn.Object | None:
        # A function kallsyms has and the BTF does not describe (older pahole left
        # out many, e.g. vmemmap_populate, whose presence drgn checks to learn the
        # memory model): at its address, with no known prototype.
        try:
            symbol = prog.symbol(name)
        except LookupError:
            return None
        if symbol.kind != drgn.SymbolKind.FUNC or symbol.name != name:
            return None
        if self._unknown_function is None:
            self._unknown_function = prog.function_type(prog.void_type(), (), True)
        return drgn.Object(prog, self._unknown_function, address=symbol.address)

    def _btfs(self) -> list[Btf]:
        return [self.converter.btf, *(split for _, split in self.converter.splits)]

    def _constant(self, btf: Btf, name: str) -> drgn.Object | None:
        for type_id, value in btf.find_enumerator(name):
            return drgn.Object(self.converter.prog, self.converter.type(type_id, btf), value)
        return None

    @staticmethod
    def _address(prog: drgn.Program, name: str) -> int | None:
        try:
            return int(prog.symbol(name).address)
        except LookupError:
            return None

    def _declared(self, prog: drgn.Program, name: str, decl: Declaration) -> drgn.Object | None:
        address = self._address(prog, name)
        if address is None:
            return None
        type_ = self.declared_type(prog, decl, address)
        return None if type_ is None else drgn.Object(prog, type_, address=address)

    def _from_btf(self, prog: drgn.Program, btf: Btf, name: str, kind: int) -> drgn.Object | None:
        # A per-CPU variable (BTF VAR) or a function (BTF FUNC), at its kallsyms address.
        for type_id in btf.find(name, (kind,)):
            address = self._address(prog, name)
            if address is None:
                return None
            return drgn.Object(prog, self.converter.type(type_id, btf), address=address)
        return None

    def declared_type(
        self, prog: drgn.Program, decl: Declaration, address: int | None
    ) -> drgn.Type | None:
        """The type of *decl* from BTF (``None`` if BTF lacks it).

        With no *address*, lengths derived from memory are left out (incomplete).
        """
        element = None
        for spec in decl.type:
            element = self._find_type(prog, spec)
            if element is not None:
                break
        if element is None:
            return None
        if not decl.array:
            return element
        if address is None:
            length = decl.length if not isinstance(decl.length, str) else None
            if isinstance(decl.length, str) and not decl.length.startswith("@"):
                length = resolve_length(prog, decl, 0, element)
        else:
            length = resolve_length(prog, decl, address, element)
        return prog.array_type(element, length)

    def _find_type(self, prog: drgn.Program, spec: str) -> drgn.Type | None:
        if spec.startswith("struct {") and spec.endswith("}"):
            members = [m.strip() for m in spec[len("struct {") : -1].split(",")]
            found = self.converter.btf.find_anonymous(BtfKind.STRUCT, members)
            return self.converter.type(found[0]) if found else None
        try:
            return prog.type(spec)
        except LookupError:
            return None


def read_btf_file(path: Path) -> tuple[bytes, str | None]:
    """The vmlinux BTF in *path*, and the build ID of the ELF it came from.

    *path* is raw BTF (a copy of ``/sys/kernel/btf/vmlinux``), an ELF vmlinux (with
    or without debuginfo) or a bzImage (``/boot/vmlinuz-*``: its payload is the
    stripped vmlinux, which keeps ``.BTF``). bzImage payloads compressed with gzip,
    bzip2, xz or LZMA decompress in Python; zstd needs the ``zstd`` program.

    drgn 0.3.0 does not hand out ELF section contents, hence the section lookup
    here: the section headers and the build-ID note only.

    :raises DebuginfoError: when *path* cannot be read or holds no BTF
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DebuginfoError(f"cannot read {path}: {e.strerror}", "check the path") from e
    if data[:2] in (b"\x9f\xeb", b"\xeb\x9f"):
        return data, None
    if data[0x202:0x206] == b"HdrS":
        data = _bzimage_payload(path, data)
    if data[:4] != b"\x7fELF":
        raise DebuginfoError(
            f"{path} is neither BTF, an ELF vmlinux nor a bzImage",
            "point to /sys/kernel/btf/vmlinux, a vmlinux or /boot/vmlinuz-RELEASE",
        )
    btf, sections = _btf_section(path, data)
    return btf, _elf_build_id(data, sections)


def _btf_section(path: Path, data: bytes | mmap.mmap) -> tuple[bytes, dict[str, tuple[int, int]]]:
    # The .BTF section of an ELF file, and the file's sections.
    sections = _elf_sections(path, data)
    if ".BTF" not in sections:
        raise DebuginfoError(
            f"{path} has no .BTF section",
            "the kernel was built without CONFIG_DEBUG_INFO_BTF; give a vmlinux with DWARF",
        )
    start, size = sections[".BTF"]
    return data[start : start + size], sections


def _bzimage_payload(path: Path, data: bytes) -> bytes:
    # Boot protocol 2.08+ (Documentation/arch/x86/boot.rst): setup_sects at 0x1f1,
    # payload_offset/payload_length at 0x248, relative to the protected-mode code.
    import bz2
    import lzma
    import shutil
    import subprocess
    import zlib

    if len(data) < 0x250 or int.from_bytes(data[0x206:0x208], "little") < 0x208:
        raise DebuginfoError(f"{path}: bzImage too old to locate its payload", "")
    setup = (data[0x1F1] or 4) + 1
    offset = int.from_bytes(data[0x248:0x24C], "little")
    length = int.from_bytes(data[0x24C:0x250], "little")
    start = setup * 512 + offset
    payload = data[start : start + length]
    if len(payload) != length or length < 4:
        raise DebuginfoError(f"{path}: bzImage payload runs past the end", "")
    # The kernel's build appends the uncompressed size (4 bytes) to the stream:
    # decompressors that stop at the end of their stream ignore it, zstd is given
    # the stream without it.
    try:
        if payload[:2] == b"\x1f\x8b":
            return zlib.decompressobj(wbits=31).decompress(payload)
        if payload[:3] == b"BZh":
            return bz2.BZ2Decompressor().decompress(payload)
        if payload[:6] == b"\xfd7zXZ\x00" or payload[:3] == b"\x5d\x00\x00":
            return lzma.LZMADecompressor().decompress(payload)
        if payload[:4] == b"\x28\xb5\x2f\xfd":
            zstd = shutil.which("zstd")
            if zstd is None:
                raise DebuginfoError(
                    f"{path} is zstd-compressed and there is no zstd program",
                    "install zstd, or extract the vmlinux (scripts/extract-vmlinux)",
                )
            return subprocess.run(
                [zstd, "-dcq"], input=payload[:-4], capture_output=True, check=True
            ).stdout
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as e:
        raise DebuginfoError(f"cannot decompress {path}: {e}", "the file may be damaged") from e
    except subprocess.CalledProcessError as e:
        message = e.stderr.decode(errors="replace").strip()
        raise DebuginfoError(f"cannot decompress {path}: {message}", "") from e
    raise DebuginfoError(
        f"{path}: unknown bzImage compression ({payload[:4].hex()})",
        "extract the vmlinux (scripts/extract-vmlinux) and give that",
    )


def _elf_sections(path: Path, data: bytes | mmap.mmap) -> dict[str, tuple[int, int]]:
    # ELF64 little-endian section headers: name -> (file offset, size), checked.
    if len(data) < 64 or data[4] != 2 or data[5] != 1:
        raise DebuginfoError(f"{path}: only little-endian ELF64 kernels are supported", "")
    shoff = int.from_bytes(data[0x28:0x30], "little")
    shentsize = int.from_bytes(data[0x3A:0x3C], "little")
    shnum = int.from_bytes(data[0x3C:0x3E], "little")
    shstrndx = int.from_bytes(data[0x3E:0x40], "little")
    if shentsize < 64 or shoff + shnum * shentsize > len(data) or shstrndx >= shnum:
        raise DebuginfoError(f"{path}: corrupt ELF section headers", "")
    headers = []
    for i in range(shnum):
        at = shoff + i * shentsize
        name = int.from_bytes(data[at : at + 4], "little")
        kind = int.from_bytes(data[at + 4 : at + 8], "little")
        offset = int.from_bytes(data[at + 0x18 : at + 0x20], "little")
        size = int.from_bytes(data[at + 0x20 : at + 0x28], "little")
        headers.append((name, kind, offset, size))
    _, _, str_offset, str_size = headers[shstrndx]
    strtab = data[str_offset : str_offset + str_size]
    sections = {}
    for name, kind, offset, size in headers:
        if kind == _SHT_NOBITS or offset + size > len(data) or name >= len(strtab):
            continue
        sections[strtab[name : strtab.find(b"\0", name)].decode(errors="replace")] = (
            offset,
            size,
        )
    return sections


def _elf_build_id(data: bytes, sections: dict[str, tuple[int, int]]) -> str | None:
    # The NT_GNU_BUILD_ID note ("GNU", type 3), in .notes (vmlinux) or
    # .note.gnu.build-id.
    for name in (".notes", ".note.gnu.build-id"):
        if name not in sections:
            continue
        start, size = sections[name]
        at, end = start, start + size
        while at + 12 <= end:
            namesz = int.from_bytes(data[at : at + 4], "little")
            descsz = int.from_bytes(data[at + 4 : at + 8], "little")
            kind = int.from_bytes(data[at + 8 : at + 12], "little")
            name_at = at + 12
            desc_at = name_at + (namesz + 3) // 4 * 4
            if kind == 3 and data[name_at : name_at + namesz] == b"GNU\0":
                return data[desc_at : desc_at + descsz].hex()
            at = desc_at + (descsz + 3) // 4 * 4
    return None


def _cache_dir(given: Path | None) -> Path:
    return given if given is not None else cache_root() / "btf"


def _vmlinux_btf(
    prog: drgn.Program,
    directory: Path,
    notes: list[str],
    build_id: str | None,
    read: Callable[[], bytes] | None = None,
) -> Btf:
    # The BTF of a build never changes: keep it and the walk over its records by
    # build ID, and use them when the dump's BTF has the same size. *read* gives
    # the BTF when it is not kept (default: the dump's).
    if read is None:
        read = lambda: _read_vmlinux_btf(prog)  # noqa: E731
    if build_id is None:
        return parse_btf(read())
    raw_path, index_path = directory / f"{build_id}.btf", directory / f"{build_id}.idx"
    try:
        size = prog.symbol("__stop_BTF").address - prog.symbol("__start_BTF").address
        cached = raw_path.read_bytes()
        if len(cached) == size:
            try:
                return parse_btf(cached, index=index_path.read_bytes())
            except BtfError:
                pass  # a damaged cache: read the dump's
    except (OSError, LookupError):
        pass
    btf = parse_btf(data := read())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, content in ((raw_path, data), (index_path, btf.export_index())):
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(content)
            partial.replace(path)
    except OSError as e:
        notes.append(f"BTF not cached in {directory}: {e.strerror}")
    return btf


def tier_facts(info: TierInfo) -> DebuginfoFacts:
    """The ``debuginfo`` facts of a run on this tier (``tier: "btf"`` or ``"symbols"``)."""
    return DebuginfoFacts(
        tier=Tier.BTF if info.tier == "btf" else Tier.SYMBOLS,
        source="kallsyms" if info.tier == "symbols" else "btf",
        modules=info.modules_with_btf,
        notes=info.notes,
    )


def _read_vmlinux_btf(prog: drgn.Program) -> bytes:
    try:
        start = prog.symbol("__start_BTF").address
        stop = prog.symbol("__stop_BTF").address
    except LookupError as e:
        raise DebuginfoError(
            "the kernel has no BTF (no __start_BTF in kallsyms)",
            "it was built without CONFIG_DEBUG_INFO_BTF; give a vmlinux",
        ) from e
    if not 0 < stop - start <= _MAX_BTF_SIZE:
        raise BtfError(f"__start_BTF..__stop_BTF spans {stop - start} bytes")
    try:
        return bytes(prog.read(start, stop - start))
    except drgn.FaultError as e:
        raise BtfError(
            f"the BTF at {start:#x} is not in the dump ({e})",
            "the dump may have been filtered too hard; give a vmlinux",
        ) from e


def _main_module(prog: drgn.Program, text: tuple[int, int]) -> None:
    # drgn 0.3.0 finds the kernel's ORC tables itself once the kernel's module has
    # its address range; module ORC comes with create_loaded_modules().
    module = prog.main_module(name="kernel", create=True)
    module.address_range = text


def _step(timings: list[tuple[str, float]], name: str, start: float) -> float:
    now = time.perf_counter()
    timings.append((name, round(now - start, 4)))
    return now


def load_btf_tier(
    prog: drgn.Program, btf_file: Path | None = None, cache_dir: Path | None = None
) -> TierInfo:
    """Make *prog* (a kernel core dump with no debug info) usable without a vmlinux.

    :param prog: a program after ``set_core_dump()``, with no debug info loaded
    :param btf_file: BTF to use instead of the dump's: raw BTF, an ELF vmlinux or
        the ``/boot/vmlinuz`` of the crashed kernel (:func:`read_btf_file`)
    :param cache_dir: where to keep the parsed vmlinux BTF by build ID and decoded
        kallsyms names by content (default
        ``$KTRIAGE_CACHE/btf``; unwritable is fine: nothing is kept)
    :raises DebuginfoError: when there is no BTF or it is corrupt (:class:`BtfError`);
        the caller then falls back to :func:`load_symbols_tier` (on the same program
        or a fresh one)
    """
    timings: list[tuple[str, float]] = []
    notes = list(BTF_NOTES)
    t = time.perf_counter()
    directory = _cache_dir(cache_dir)
    kallsyms = load_kallsyms(prog, directory)
    notes += _kallsyms_notes(kallsyms)
    t = _step(timings, "kallsyms", t)
    if btf_file is not None:
        data, build_id = read_btf_file(btf_file)
        dump_build = dump_build_id(prog)
        if build_id and dump_build and build_id != dump_build:
            raise DebuginfoError(
                f"{btf_file} is build {build_id}, the dump's kernel is build {dump_build}",
                "give the vmlinuz or vmlinux of the kernel that crashed",
            )
        source = "btf-file"
        btf = parse_btf(data)
    else:
        btf = _vmlinux_btf(prog, directory, notes, dump_build_id(prog))
        source = "btf"
    t = _step(timings, "btf", t)
    converter = _install(prog, btf, object_index=-1)
    t = _step(timings, "types", t)
    _main_module(prog, kallsyms.text)
    modules = _create_modules(prog, notes)
    t = _step(timings, "modules", t)
    module_symbols = _guarded(lambda: load_module_symbols(prog), 0, "module kallsyms", notes)
    t = _step(timings, "module-kallsyms", t)
    with_btf = _load_module_btf(prog, converter, notes)
    _step(timings, "module-btf", t)
    return TierInfo(
        tier="btf",
        source=source,
        symbols=kallsyms.count,
        module_symbols=module_symbols,
        types=len(btf),
        module_types=sum(len(split) for _, split in converter.splits),
        modules=modules,
        modules_with_btf=with_btf,
        timings=tuple(timings),
        notes=tuple(notes),
    )


def _install(prog: drgn.Program, btf: Btf, *, object_index: int) -> BtfTypeConverter:
    # The type finder goes first; the object finder at object_index.
    converter = BtfTypeConverter(prog, btf)
    prog.register_type_finder(TYPE_FINDER, converter.type_finder, enable_index=0)
    prog.register_object_finder(OBJECT_FINDER, GlobalFinder(converter), enable_index=object_index)
    try:
        for name in _ESSENTIAL_TYPES:
            # Asked of the BTF itself: on the DWARF tier, prog.type() would let the
            # DWARF answer what the BTF lacks.
            found = converter.find(name.removeprefix("struct "), _STRUCT)
            if found is None:
                raise LookupError(name)
            found.members  # noqa: B018 - builds and checks the structure
    except (LookupError, BtfError) as e:
        # Leave the program as it was: no BTF finders.
        prog.set_enabled_type_finders([f for f in prog.enabled_type_finders() if f != TYPE_FINDER])
        prog.set_enabled_object_finders(
            [f for f in prog.enabled_object_finders() if f != OBJECT_FINDER]
        )
        if isinstance(e, BtfError):
            raise
        raise BtfError(f"the BTF has no {e.args[0] if e.args else 'essential type'}") from e
    return converter


def load_btf_types(
    prog: drgn.Program,
    build_id: str | None,
    cache_dir: Path | None = None,
    vmlinux: Path | None = None,
) -> BtfTypes:
    """Answer *prog*'s type lookups from the dump's BTF ahead of its DWARF.

    For the DWARF tier: drgn indexes a vmlinux's whole DWARF (0.2-0.3 s, 200 MB)
    the first time a name is looked up in it. Types and the declared globals
    answered by the kernel's own BTF (the same types: pahole writes it from that
    DWARF) leave DWARF to what only it has: source lines, inline frames, frame
    variables, and any name BTF lacks, which drgn's DWARF finders, still enabled
    after the BTF ones, then answer (the index is made then).

    :param prog: a kernel program whose vmlinux debug file is loaded with
        ``Module.try_file`` (which does not index), before anything looks a name up
    :param build_id: the kernel's build ID (the BTF cache key; the dump's
        VMCOREINFO cannot be read before types are there)
    :param vmlinux: the vmlinux loaded: its ``.BTF`` section is read instead of the
        dump's memory when the BTF is not in the cache (the file is the user's, the
        memory may be what the crash damaged)
    :raises DebuginfoError: when the dump has no usable BTF; *prog* is then as
        it was (DWARF answers everything)
    """
    notes: list[str] = []
    directory = _cache_dir(cache_dir)
    # After drgn's "linux" object finder (VMCOREINFO, jiffies...), before "dwarf".
    index = 1 if "linux" in prog.enabled_object_finders() else 0
    read = None if vmlinux is None else lambda: _file_btf(vmlinux)
    btf = _vmlinux_btf(prog, directory, notes, build_id, read)
    converter = _install(prog, btf, object_index=index)
    return BtfTypes(converter, notes)


def _file_btf(path: Path) -> bytes:
    # The .BTF section of an ELF vmlinux, through a mapping (a vmlinux with DWARF
    # is hundreds of MB; read_btf_file reads whole files).
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:4] != b"\x7fELF":
                raise DebuginfoError(f"{path} is not an ELF file", "")
            btf, _ = _btf_section(path, data)
            if not 0 < len(btf) <= _MAX_BTF_SIZE:
                raise BtfError(f"{path}: .BTF of {len(btf)} bytes")
            return btf
    except (OSError, ValueError) as e:
        raise DebuginfoError(f"cannot read the BTF of {path}: {e}", "") from e


@dataclass
class BtfTypes:
    """The BTF finders :func:`load_btf_types` installed."""

    converter: BtfTypeConverter
    notes: list[str]

    def load_modules(self) -> tuple[str, ...]:
        """Add the BTF of every loaded module that has one (after ``create_loaded_modules``)."""
        # Module types come from DWARF on this tier when the kernel keeps no BTF of
        # them (before 5.11): nothing to say then.
        return _load_module_btf(self.converter.prog, self.converter, self.notes, quiet=True)


def _guarded(fn: Callable[[], _T], default: _T, what: str, notes: list[str]) -> _T:
    # Steps after the vmlinux BTF are best effort: a module's corrupt data costs that
    # module, not the tier.
    try:
        return fn()
    except (drgn.FaultError, LookupError, ValueError, KtriageError) as e:
        notes.append(f"{what} failed: {e}")
        return default


def _create_modules(prog: drgn.Program, notes: list[str]) -> tuple[str, ...]:
    def create() -> tuple[str, ...]:
        prog.create_loaded_modules()
        return tuple(
            m.name
            for m in prog.modules()
            if isinstance(m, drgn.RelocatableModule) and m.name != "kernel"
        )

    return _guarded(create, (), "module list", notes)


def _load_module_btf(
    prog: drgn.Program, converter: BtfTypeConverter, notes: list[str], *, quiet: bool = False
) -> tuple[str, ...]:
    # Module BTF is freed from struct module after init; the kernel keeps its copy
    # on btf_modules (kernel/bpf/btf.c, since Linux kernel commit 36e68442d1af
    # ("bpf: Load and verify kernel module BTFs") (in v5.11)).
    from drgn.helpers.linux.list import list_for_each_entry

    loaded = []
    try:
        # The symbol first: on the DWARF tier a variable lookup BTF cannot answer
        # would make drgn index the whole DWARF (0.2-0.3 s) to learn it is absent.
        prog.symbol("btf_modules")
        head = prog["btf_modules"]
    except LookupError:
        if not quiet:
            notes.append("no module BTF: the kernel keeps none (btf_modules, Linux 5.11+)")
        return ()
    try:
        entries = list(list_for_each_entry("struct btf_module", head.address_of_(), "list"))
    except (LookupError, drgn.FaultError) as e:
        notes.append(f"no module BTF: {e}")
        return ()
    for entry in entries:
        try:
            name = entry.module.name.string_().decode(errors="replace")
            btf = entry.btf
            size = btf.data_size.value_()
            if not 0 < size <= _MAX_BTF_SIZE:
                raise BtfError(f"module BTF of {size} bytes")
            split = parse_btf(prog.read(btf.data.value_(), size), base=converter.btf)
        except (drgn.FaultError, LookupError, ValueError, KtriageError) as e:
            notes.append(f"module BTF skipped: {e}")
            continue
        converter.add_split(name, split)
        loaded.append(name)
    return tuple(loaded)


def load_symbols_tier(prog: drgn.Program, cache_dir: Path | None = None) -> TierInfo:
    """Give *prog* kallsyms symbols and ORC unwinding only (no types).

    The fallback when :func:`load_btf_tier` fails, on the same program or a fresh one.
    Module symbols and module unwinding need ``struct module``, so only the core
    kernel's are loaded.

    :raises DebuginfoError: when the dump's kallsyms cannot be read
    """
    timings: list[tuple[str, float]] = []
    t = time.perf_counter()
    directory = _cache_dir(cache_dir)
    kallsyms: KallsymsInfo = load_kallsyms(prog, directory)
    t = _step(timings, "kallsyms", t)
    _main_module(prog, kallsyms.text)
    _step(timings, "modules", t)
    return TierInfo(
        tier="symbols",
        source="kallsyms",
        symbols=kallsyms.count,
        module_symbols=0,
        types=0,
        module_types=0,
        modules=(),
        modules_with_btf=(),
        timings=tuple(timings),
        notes=(*SYMBOLS_NOTES, *_kallsyms_notes(kallsyms)),
    )


def _kallsyms_notes(kallsyms: KallsymsInfo) -> list[str]:
    if not kallsyms.located:
        return []
    return [
        "kallsyms found by searching the kernel's memory: the dump's VMCOREINFO does not "
        "locate them (it does since Linux 6.0)"
    ]


# ORC_REG_UNDEFINED and, since v6.4, ORC_TYPE_UNDEFINED (orc_types.h).
_ORC_REG_UNDEFINED: Final = 0
_ORC_TYPE_UNDEFINED_V3: Final = 0
# How far above a frame with no ORC data to look for its caller's return address.
_RECOVER_SCAN_BYTES: Final = 1024
_PT_REGS_FROM_DRGN: Final = (
    ("r15", "r15"),
    ("r14", "r14"),
    ("r13", "r13"),
    ("r12", "r12"),
    ("bp", "rbp"),
    ("bx", "rbx"),
    ("r11", "r11"),
    ("r10", "r10"),
    ("r9", "r9"),
    ("r8", "r8"),
    ("ax", "rax"),
    ("cx", "rcx"),
    ("dx", "rdx"),
    ("si", "rsi"),
    ("di", "rdi"),
)


def orc_undefined(prog: drgn.Program, pc: int) -> bool | None:
    """Whether the kernel's ORC table says *pc* cannot be unwound.

    Looks *pc* up (binary search, in the dump) in the vmlinux ORC tables
    (``__start_orc_unwind_ip``: 32-bit self-relative IPs; ``__start_orc_unwind``:
    6-byte ``struct orc_entry``, arch/x86/include/asm/orc_types.h). ``sp_reg`` is
    the low nibble of byte 4 in every layout, and ``ORC_REG_UNDEFINED`` marks no
    data. Since Linux kernel commit fb799447ae29 ("x86,objtool: Split
    UNWIND_HINT_EMPTY in two") (in v6.4) the 3-bit ``type`` (after ``bp_reg``) has
    its own ``ORC_TYPE_UNDEFINED`` (0); that layout is recognised by the width of
    ``type`` in ``struct orc_entry`` (2 bits before).

    :returns: ``None`` when *pc* is not in vmlinux's ORC tables (or they are absent)
    """
    try:
        ip_start = prog.symbol("__start_orc_unwind_ip").address
        ip_stop = prog.symbol("__stop_orc_unwind_ip").address
        entries = prog.symbol("__start_orc_unwind").address
        count = (ip_stop - ip_start) // 4
        if count <= 0:
            return None

        def ip(i: int) -> int:
            address = ip_start + 4 * i
            return int(address + int.from_bytes(prog.read(address, 4), "little", signed=True))

        if pc < ip(0):
            return None
        low, high = 0, count - 1
        while low < high:
            mid = (low + high + 1) // 2
            if ip(mid) <= pc:
                low = mid
            else:
                high = mid - 1
        entry = bytes(prog.read(entries + 6 * low, 6))
    except (LookupError, drgn.FaultError):
        return None
    if entry[4] & 0xF == _ORC_REG_UNDEFINED:
        return True
    return _orc_type_bits(prog) == 3 and entry[5] & 0x7 == _ORC_TYPE_UNDEFINED_V3


def _orc_type_bits(prog: drgn.Program) -> int | None:
    try:
        orc_entry = prog.type("struct orc_entry")
    except LookupError:
        return None
    for member in orc_entry.members or ():
        if member.name == "type":
            return int(member.bit_field_size or 0)
    return None


def recover_orc_gap(prog: drgn.Program, trace: drgn.StackTrace) -> drgn.StackTrace | None:
    """The stack past frame 0 when the ORC table has no data for frame 0's PC.

    On a kdump panic CPU the saved PC lies in ``__crash_kexec``, for which the
    kernel's ORC table says "undefined" (or, before 6.x, has data that does not fit
    the saved stack pointer), so drgn's ORC unwinder guesses and skips the ``panic``
    frame (DWARF call frame information does not have the gap). The caller
    is found as crash does: the first word above frame 0's stack pointer that is a
    return address right after a call to frame 0's function.

    :returns: the trace from that caller on (frame 0 itself not included), or
        ``None`` when frame 0 has ORC data or no caller is found
    """
    if not len(trace):
        return None
    frame = trace[0]
    undefined = orc_undefined(prog, frame.pc)
    if undefined is None:
        return None
    try:
        function = prog.symbol(frame.pc)
        regs = frame.registers()
        sp = regs["rsp"]
    except (LookupError, KeyError):
        return None
    if not undefined and (
        function.name != "__crash_kexec"
        or len(trace) < 2
        or _returns_from_call_to(prog, trace[1].pc, function.address)
    ):
        # Before 6.x the ORC table has data there, but crash_setup_regs() saves a
        # label's address with the stack pointer of another instruction: when the
        # next frame did not call __crash_kexec, the unwinder went astray too.
        return None
    # Up to where the stack's pages end (near its top it borders a guard page).
    stack, missing = read_sparse(prog, sp, _RECOVER_SCAN_BYTES)
    if missing:
        del stack[missing[0] :]
    for offset in range(0, len(stack) - 7, 8):
        word = int.from_bytes(stack[offset : offset + 8], "little")
        if not _returns_from_call_to(prog, word, function.address):
            continue
        slot = sp + offset
        values = {member: regs.get(reg, 0) for member, reg in _PT_REGS_FROM_DRGN}
        values.update(ip=word, sp=slot + 8)
        try:
            pt_regs = drgn.Object(prog, "struct pt_regs", value=values)
            return prog.stack_trace(pt_regs)
        except (LookupError, ValueError, drgn.FaultError):
            return None
    return None


def _returns_from_call_to(prog: drgn.Program, address: int, target: int) -> bool:
    # A 5-byte "call rel32" (e8) to target ends right before address.
    if address >> 63 == 0:
        return False
    try:
        code = prog.read(address - 5, 5)
    except drgn.FaultError:
        return False
    if code[0] != 0xE8:
        return False
    return (address + int.from_bytes(code[1:5], "little", signed=True)) & (1 << 64) - 1 == target
