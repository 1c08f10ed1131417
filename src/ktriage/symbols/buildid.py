"""
Build IDs of ELF files
----------------------

The GNU build ID (``NT_GNU_BUILD_ID``) identifies one build of a vmlinux or module; a
dump records the kernel's in VMCOREINFO (``BUILD-ID``) and each module's in its
``.note.gnu.build-id`` in memory. Debuginfo is used only when its build ID matches.

This reads only the ELF header, the section (or program) headers and the note
sections, a few kilobytes even of a 633 MB vmlinux. It never writes to the file.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ktriage.errors import BadInputError
from ktriage.facts.base import Record

if TYPE_CHECKING:
    import drgn

__all__ = (
    "ElfIdentity",
    "build_id_from_notes",
    "dump_build_id",
    "elf_identity",
    "file_build_id",
    "normalize_build_id",
    "valid_build_id",
)

_ELF_MAGIC = b"\x7fELF"
_SHT_NOTE = 7
_SHT_NOBITS = 8
_PT_NOTE = 4
_NT_GNU_BUILD_ID = 3
_MAX_NOTE_BYTES = 1 << 20
"""Notes larger than this are not build-ID notes (bounds reads on corrupt input)."""
_MAX_HEADERS = 1 << 16
_BUILD_ID_RE = re.compile(r"^[0-9a-f]{2,128}$")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ElfIdentity(Record):
    """What the headers of an ELF file say about it, read without its contents."""

    build_id: str | None
    """Lower-case hex ``NT_GNU_BUILD_ID``, or ``None`` when the file has none."""
    has_debug_info: bool
    """Whether a ``.debug_info`` (or compressed ``.zdebug_info``) section has contents."""
    has_symtab: bool
    """Whether a ``.symtab`` section is present (symbols without types)."""


def normalize_build_id(build_id: str) -> str:
    """Return *build_id* as lower-case hex without separators, or raise ``ValueError``."""
    text = build_id.strip().lower().replace(":", "").replace("-", "")
    if text.startswith("0x"):
        text = text[2:]
    if not _BUILD_ID_RE.match(text) or len(text) % 2:
        raise ValueError(f"not a build ID: {build_id!r}")
    return text


def valid_build_id(build_id: str | None) -> str | None:
    """*build_id* as :func:`normalize_build_id` gives it, or ``None`` if it is none
    (absent, or not hex: safe to name a cache file with)."""
    if not build_id:
        return None
    try:
        return normalize_build_id(build_id)
    except ValueError:
        return None


def dump_build_id(prog: drgn.Program) -> str | None:
    """The kernel's build ID from a dump's VMCOREINFO (``BUILD-ID``), or ``None``."""
    from ktriage.source.printk import vmcoreinfo

    return valid_build_id(vmcoreinfo(prog).get("BUILD-ID"))


def build_id_from_notes(data: bytes, *, little_endian: bool = True) -> str | None:
    """Return the ``NT_GNU_BUILD_ID`` in an ELF note area, or ``None``."""
    order = "<" if little_endian else ">"
    offset = 0
    while offset + 12 <= len(data):
        namesz, descsz, note_type = struct.unpack_from(order + "III", data, offset)
        offset += 12
        name_end = offset + namesz
        desc_start = offset + ((namesz + 3) & ~3)
        desc_end = desc_start + descsz
        if desc_end > len(data):
            return None
        name = data[offset:name_end]
        if note_type == _NT_GNU_BUILD_ID and name == b"GNU\x00" and descsz:
            return data[desc_start:desc_end].hex()
        offset = desc_start + ((descsz + 3) & ~3)
    return None


def _read_at(f: BinaryIO, offset: int, size: int, file_size: int, path: Path) -> bytes:
    if offset < 0 or size < 0 or offset + size > file_size:
        raise BadInputError(
            f"{path}: truncated or corrupt ELF file (headers point past its end)",
            "check that the file was copied whole",
        )
    f.seek(offset)
    return f.read(size)


def elf_identity(path: Path) -> ElfIdentity:
    """Read the build ID and the debug sections present from *path*'s headers.

    Raises :class:`~ktriage.errors.BadInputError` when *path* cannot be read or is
    not an ELF file (a compressed ``vmlinuz`` is named as such).
    """
    try:
        with path.open("rb") as f:
            file_size = f.seek(0, 2)
            ident = _read_at(f, 0, min(file_size, 64), file_size, path)
            if not ident.startswith(_ELF_MAGIC):
                raise BadInputError(*_not_elf(f, path, file_size))
            return _parse(f, path, ident, file_size)
    except OSError as exc:
        raise BadInputError(
            f"cannot read {path}: {exc.strerror or exc}", "check the path and its permissions"
        ) from exc


def _not_elf(f: BinaryIO, path: Path, file_size: int) -> tuple[str, str]:
    if file_size >= 0x206:
        f.seek(0x202)
        if f.read(4) == b"HdrS":
            return (
                f"{path} is a compressed kernel image (vmlinuz), not a vmlinux",
                "give the uncompressed vmlinux with debuginfo from the kernel's debug package",
            )
    return (f"{path} is not an ELF file", "give a vmlinux, a .ko or a .debug file")


def _parse(f: BinaryIO, path: Path, ident: bytes, file_size: int) -> ElfIdentity:
    if len(ident) < 52 or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise BadInputError(f"{path}: corrupt ELF header", "check that the file was copied whole")
    is64 = ident[4] == 2
    order = "<" if ident[5] == 1 else ">"
    if is64:
        if len(ident) < 64:
            raise BadInputError(f"{path}: truncated ELF header", "check the file")
        phoff, shoff = struct.unpack_from(order + "QQ", ident, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
            order + "HHHHH", ident, 54
        )
    else:
        phoff, shoff = struct.unpack_from(order + "II", ident, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
            order + "HHHHH", ident, 42
        )

    sections: list[tuple[int, int, int, int]] = []  # (name, type, offset, size)
    if shoff and shentsize:
        if shnum == 0:  # more than 0xff00 sections: the count is in section 0's sh_size
            first = _read_at(f, shoff, shentsize, file_size, path)
            shnum = struct.unpack_from(order + ("Q" if is64 else "I"), first, 32 if is64 else 20)[0]
        if shnum > _MAX_HEADERS:
            raise BadInputError(f"{path}: corrupt ELF section count {shnum}", "check the file")
        table = _read_at(f, shoff, shentsize * shnum, file_size, path)
        for index in range(shnum):
            base = index * shentsize
            if is64:
                name, sh_type, _flags, _addr, offset, size = struct.unpack_from(
                    order + "IIQQQQ", table, base
                )
            else:
                name, sh_type, _flags, _addr, offset, size = struct.unpack_from(
                    order + "IIIIII", table, base
                )
            sections.append((name, sh_type, offset, size))

    names: dict[int, str] = {}
    if sections and shstrndx < len(sections):
        _n, _t, str_offset, str_size = sections[shstrndx]
        if str_size <= _MAX_NOTE_BYTES * 4:
            strtab = _read_at(f, str_offset, str_size, file_size, path)
            for index, (name, *_rest) in enumerate(sections):
                end = strtab.find(b"\x00", name)
                names[index] = strtab[name : end if end >= 0 else None].decode("latin-1")

    build_id: str | None = None
    for _name, sh_type, offset, size in sections:
        if sh_type == _SHT_NOTE and 0 < size <= _MAX_NOTE_BYTES:
            build_id = build_id_from_notes(
                _read_at(f, offset, size, file_size, path), little_endian=order == "<"
            )
            if build_id:
                break
    if build_id is None and phoff and phentsize and 0 < phnum <= _MAX_HEADERS:
        build_id = _build_id_from_segments(f, path, order, is64, phoff, phentsize, phnum, file_size)

    section_info = {
        names.get(index, ""): (sh_type, size)
        for index, (_n, sh_type, _o, size) in enumerate(sections)
    }
    has_debug_info = any(
        sh_type != _SHT_NOBITS and size > 0
        for key, (sh_type, size) in section_info.items()
        if key in (".debug_info", ".zdebug_info")
    )
    return ElfIdentity(
        build_id=build_id, has_debug_info=has_debug_info, has_symtab=".symtab" in section_info
    )


def _build_id_from_segments(
    f: BinaryIO,
    path: Path,
    order: str,
    is64: bool,
    phoff: int,
    phentsize: int,
    phnum: int,
    file_size: int,
) -> str | None:
    table = _read_at(f, phoff, phentsize * phnum, file_size, path)
    for index in range(phnum):
        base = index * phentsize
        if is64:
            p_type, _flags, offset, _vaddr, _paddr, filesz = struct.unpack_from(
                order + "IIQQQQ", table, base
            )
        else:
            p_type, offset, _vaddr, _paddr, filesz = struct.unpack_from(
                order + "IIIII", table, base
            )
        if p_type == _PT_NOTE and 0 < filesz <= _MAX_NOTE_BYTES:
            found = build_id_from_notes(
                _read_at(f, offset, filesz, file_size, path), little_endian=order == "<"
            )
            if found:
                return found
    return None


def file_build_id(path: Path) -> str | None:
    """Return the ``NT_GNU_BUILD_ID`` of a vmlinux, ``.ko`` or ``.debug`` file as hex.

    Reads only headers and notes. Returns ``None`` when the file has no build ID;
    raises :class:`~ktriage.errors.BadInputError` when it is unreadable or not ELF.
    """
    return elf_identity(path).build_id
