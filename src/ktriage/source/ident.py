"""
Dump identification
-------------------

Tier 0: say what a dump is from its fixed headers and its VMCOREINFO note alone,
without symbols and without reading any page of memory. Handles ELF vmcores (kexec
``/proc/vmcore``, QEMU ``dump-guest-memory``, ``makedumpfile -E``, a live
``/proc/kcore``), makedumpfile's compressed kdump format (and QEMU's ``kdump-*``
formats, which use the same layout), and makedumpfile's flattened format (``-F``).

Header layouts follow makedumpfile's ``diskdump_mod.h`` (``disk_dump_header``,
``kdump_sub_header``) and ``makedumpfile.h`` (``makedumpfile_header``,
``makedumpfile_data_header``). Every read is bounds-checked: a header that points
outside the file is reported, not followed.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ktriage.errors import BadInputError
from ktriage.facts import DumpIdentity, Hex

__all__ = (
    "ELF_MAGIC",
    "FLAT_SIGNATURE",
    "KDUMP_SIGNATURES",
    "dump_magic",
    "identify",
    "identify_details",
    "kdump_metadata_end",
    "looks_like_text",
    "parse_vmcoreinfo",
)

ELF_MAGIC = b"\x7fELF"
KDUMP_SIGNATURES = (b"KDUMP   ", b"DISKDUMP")
FLAT_SIGNATURE = b"makedumpfile\0\0\0\0"

# Limits that keep a corrupt header from making us read gigabytes.
_MAX_NOTES = 64 << 20
_MAX_VMCOREINFO = 1 << 20
_MAX_PHNUM = 1 << 20
_MAX_FLAT_CHUNKS_SCANNED = 1 << 16
_MAX_BITMAP_SCAN = 4 << 20  # bytes of page bitmap counted when checking a kdump length
_MAX_DESC_SCAN = 1 << 20  # page descriptors read when checking a kdump file's length

# disk_dump_header.status bits (makedumpfile diskdump_mod.h).
_DUMP_DH_COMPRESSED_ZLIB = 0x1
_DUMP_DH_COMPRESSED_LZO = 0x2
_DUMP_DH_COMPRESSED_SNAPPY = 0x4
_DUMP_DH_COMPRESSED_INCOMPLETE = 0x8
_DUMP_DH_COMPRESSED_ZSTD = 0x20

# Size of struct page_desc in the kdump format: off_t offset, u32 size, u32 flags,
# u64 page_flags.
_PAGE_DESC_SIZE = 24

_NT_PRSTATUS = 1

_ELF_MACHINES = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "x86_64",
    183: "aarch64",
    243: "riscv64",
    258: "loongarch64",
}

_UTS_MACHINES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "ppc64": "ppc64",
    "ppc64le": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "arm": "arm",
    "loongarch64": "loongarch64",
}


def dump_magic(head: bytes) -> str | None:
    """
    The container format named by the first bytes of a file, or ``None``.

    :param head: at least the first 16 bytes of the file.
    :return: ``elf``, ``kdump-compressed`` or ``flattened``.
    """
    if head.startswith(ELF_MAGIC):
        return "elf"
    if head[:8] in KDUMP_SIGNATURES:
        return "kdump-compressed"
    if head.startswith(FLAT_SIGNATURE):
        return "flattened"
    return None


def parse_vmcoreinfo(text: str) -> dict[str, str]:
    """
    Split VMCOREINFO text (``KEY=value`` lines) into a dictionary.

    Lines without ``=`` are ignored; a repeated key keeps its last value.
    """
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key:
            info[key.strip()] = value.strip()
    return info


# A function that reads ``size`` bytes at ``offset`` of the (logical) dump file and
# returns fewer bytes when the file ends first.
_Reader = Callable[[int, int], bytes]


@dataclass
class _Notes:
    cpus: int = 0
    vmcoreinfo: str | None = None
    qemu: bool = False


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _iter_notes(data: bytes, little: bool) -> Iterator[tuple[bytes, int, bytes]]:
    # ELF notes: Elf32_Nhdr and Elf64_Nhdr are both three 32-bit words, name and
    # descriptor padded to 4 bytes (what Linux writes for both classes).
    fmt = "<III" if little else ">III"
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(fmt, data, pos)
        if namesz == 0 and descsz == 0 and ntype == 0:
            break  # zero padding at the end of a kexec PT_NOTE
        name_start = pos + 12
        desc_start = name_start + ((namesz + 3) & ~3)
        desc_end = desc_start + descsz
        if desc_end > len(data):
            break
        name = data[name_start : name_start + namesz].rstrip(b"\0")
        yield name, ntype, data[desc_start:desc_end]
        pos = desc_start + ((descsz + 3) & ~3)


def _scan_notes(data: bytes, little: bool, notes: _Notes) -> None:
    for name, ntype, desc in _iter_notes(data, little):
        if name == b"CORE" and ntype == _NT_PRSTATUS:
            notes.cpus += 1
        elif name == b"VMCOREINFO" and notes.vmcoreinfo is None:
            notes.vmcoreinfo = desc.decode("utf-8", "replace")
        elif name == b"QEMU":
            notes.qemu = True


@dataclass
class _Parsed:
    format: str
    producer: str | None = None
    compression: str | None = None
    dump_level: int | None = None
    partial: bool = False
    incomplete: bool = False
    arch: str | None = None
    release: str | None = None
    crash_time: int | None = None
    cpus: int | None = None
    vmcoreinfo_text: str | None = None
    problems: tuple[str, ...] = ()


def _parse_elf(read: _Reader, size: int | None, path: Path) -> _Parsed:
    ehdr = read(0, 64)
    if len(ehdr) < 52:
        raise BadInputError(
            f"{path} is truncated: {len(ehdr)} bytes, shorter than an ELF header",
            "the copy of the dump is incomplete; copy it again",
        )
    ei_class, ei_data = ehdr[4], ehdr[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise BadInputError(
            f"{path} has an ELF magic number but a corrupt ELF header "
            f"(class {ei_class}, data {ei_data})",
            "the file is damaged; take or copy the dump again",
        )
    little = ei_data == 1
    end = "<" if little else ">"
    if ei_class == 2:
        if len(ehdr) < 64:
            raise BadInputError(
                f"{path} is truncated inside its ELF header",
                "the copy of the dump is incomplete; copy it again",
            )
        e_type, e_machine = struct.unpack_from(end + "HH", ehdr, 16)
        (e_phoff,) = struct.unpack_from(end + "Q", ehdr, 32)
        (e_shoff,) = struct.unpack_from(end + "Q", ehdr, 40)
        e_phentsize, e_phnum = struct.unpack_from(end + "HH", ehdr, 54)
        ph_fmt, min_phent = end + "IIQQQQQQ", 56
    else:
        e_type, e_machine = struct.unpack_from(end + "HH", ehdr, 16)
        (e_phoff,) = struct.unpack_from(end + "I", ehdr, 28)
        (e_shoff,) = struct.unpack_from(end + "I", ehdr, 32)
        e_phentsize, e_phnum = struct.unpack_from(end + "HH", ehdr, 42)
        ph_fmt, min_phent = end + "IIIIIIII", 32
    if e_type != 4:  # ET_CORE
        raise BadInputError(
            f"{path} is an ELF file but not a core dump (e_type {e_type})",
            "point ktriage at a vmcore, not at a vmlinux or a program",
        )
    if e_phnum == 0xFFFF and e_shoff:
        # PN_XNUM: the real count is in section header 0's sh_info.
        sh0 = read(e_shoff, 64 if ei_class == 2 else 40)
        info_off = 44 if ei_class == 2 else 28
        if len(sh0) >= info_off + 4:
            (e_phnum,) = struct.unpack_from(end + "I", sh0, info_off)
    if e_phentsize < min_phent or e_phnum > _MAX_PHNUM:
        raise BadInputError(
            f"{path} has a corrupt ELF program header table "
            f"(entry size {e_phentsize}, {e_phnum} entries)",
            "the file is damaged; take or copy the dump again",
        )
    table = read(e_phoff, e_phentsize * e_phnum)
    problems = []
    incomplete = False
    if len(table) < e_phentsize * e_phnum:
        incomplete = True
        problems.append("program header table extends past the end of the file")
    notes = _Notes()
    notes_read = 0
    data_end = 0
    for i in range(len(table) // e_phentsize):
        fields = struct.unpack_from(ph_fmt, table, i * e_phentsize)
        if ei_class == 2:
            p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = fields[:6]
        else:
            p_type, p_offset, _vaddr, _paddr, p_filesz = fields[:5]
        if p_type == 1:  # PT_LOAD
            data_end = max(data_end, p_offset + p_filesz)
        elif p_type == 4 and notes_read + p_filesz <= _MAX_NOTES:  # PT_NOTE
            data = read(p_offset, p_filesz)
            notes_read += p_filesz
            if len(data) < p_filesz:
                incomplete = True
                problems.append("an ELF note segment extends past the end of the file")
            _scan_notes(data, little, notes)
    if size is not None and data_end > size:
        incomplete = True
        problems.append(f"file is {size} bytes but its program headers describe {data_end} bytes")
    return _Parsed(
        format="elf",
        producer="qemu" if notes.qemu else None,
        compression="none",
        incomplete=incomplete,
        arch=_ELF_MACHINES.get(e_machine, f"elf-machine-{e_machine}"),
        cpus=notes.cpus or None,
        vmcoreinfo_text=notes.vmcoreinfo,
        problems=tuple(problems),
    )


def _compression(status: int) -> str:
    names = [
        name
        for bit, name in (
            (_DUMP_DH_COMPRESSED_ZLIB, "zlib"),
            (_DUMP_DH_COMPRESSED_LZO, "lzo"),
            (_DUMP_DH_COMPRESSED_SNAPPY, "snappy"),
            (_DUMP_DH_COMPRESSED_ZSTD, "zstd"),
        )
        if status & bit
    ]
    return "+".join(names) if names else "none"


def _parse_kdump(read: _Reader, size: int | None, path: Path, fmt: str) -> _Parsed:
    # struct disk_dump_header, 64-bit layout: signature[8], header_version,
    # new_utsname (6 x 65 bytes) at 12, struct timeval at 408, then status,
    # block_size, sub_hdr_size, bitmap_blocks, max_mapnr, total_ram_blocks,
    # device_blocks, written_blocks, current_cpu, nr_cpus at 424..464.
    hdr = read(0, 464)
    if len(hdr) < 464:
        raise BadInputError(
            f"{path} is truncated: only {len(hdr)} bytes of its 464-byte kdump header",
            "the copy of the dump is incomplete; copy it again",
        )
    (header_version,) = struct.unpack_from("<i", hdr, 8)
    end = "<"
    if not 0 <= header_version < 0x10000:
        end = ">"  # a big-endian machine's dump
        (header_version,) = struct.unpack_from(">i", hdr, 8)
    uts = [_cstr(hdr[12 + 65 * i : 12 + 65 * (i + 1)]) for i in range(6)]
    tv_sec, _tv_usec = struct.unpack_from(end + "qq", hdr, 408)
    (
        status,
        block_size,
        sub_hdr_size,
        bitmap_blocks,
        max_mapnr32,
        _total_ram_blocks,
        _device_blocks,
        _written_blocks,
        _current_cpu,
        nr_cpus,
    ) = struct.unpack_from(end + "IiiIIIIIIi", hdr, 424)
    if block_size <= 0 or block_size & (block_size - 1) or block_size > 1 << 20:
        raise BadInputError(
            f"{path} has a corrupt kdump header (block size {block_size})",
            "the file is damaged; take or copy the dump again",
        )
    problems = []
    incomplete = bool(status & _DUMP_DH_COMPRESSED_INCOMPLETE)
    if incomplete:
        problems.append("makedumpfile marked the dump incomplete (it ran out of space?)")
    # struct kdump_sub_header (64-bit): phys_base, dump_level, split, start_pfn,
    # end_pfn, offset_vmcoreinfo, size_vmcoreinfo, offset_note, size_note,
    # offset_eraseinfo, size_eraseinfo, start_pfn_64, end_pfn_64, max_mapnr_64.
    sub = read(block_size, 104)
    dump_level = None
    split = 0
    vmcoreinfo_text = None
    notes = _Notes()
    max_mapnr = max_mapnr32
    if header_version >= 1 and len(sub) >= 16:
        dump_level, split = struct.unpack_from(end + "ii", sub, 8)
    if header_version >= 3 and len(sub) >= 48:
        off_vi, size_vi = struct.unpack_from(end + "qQ", sub, 32)
        if 0 < size_vi <= _MAX_VMCOREINFO and off_vi > 0:
            raw = read(off_vi, size_vi)
            if len(raw) < size_vi:
                incomplete = True
                problems.append("VMCOREINFO lies past the end of the file")
            vmcoreinfo_text = raw.decode("utf-8", "replace")
    if header_version >= 4 and len(sub) >= 64:
        off_note, size_note = struct.unpack_from(end + "qQ", sub, 48)
        if 0 < size_note <= _MAX_NOTES and off_note > 0:
            raw = read(off_note, size_note)
            _scan_notes(raw, end == "<", notes)
    if header_version >= 6 and len(sub) >= 104:
        (max_mapnr,) = struct.unpack_from(end + "Q", sub, 96)
    if len(sub) < 104 and header_version >= 1:
        incomplete = True
        problems.append("kdump sub-header lies past the end of the file")
    if vmcoreinfo_text is None and notes.vmcoreinfo is not None:
        vmcoreinfo_text = notes.vmcoreinfo
    if size is not None and not incomplete:
        problem = _kdump_truncation(
            read, size, block_size, sub_hdr_size, bitmap_blocks, max_mapnr, end
        )
        if problem:
            incomplete = True
            problems.append(problem)
    qemu = notes.qemu and not uts[2]
    machine = uts[4].lower()
    return _Parsed(
        format=fmt,
        producer="qemu" if qemu else "makedumpfile",
        compression=_compression(status),
        dump_level=dump_level,
        partial=dump_level is not None and dump_level > 0,
        incomplete=incomplete,
        arch=_UTS_MACHINES.get(machine, machine or None),
        release=uts[2] or None,
        crash_time=tv_sec if tv_sec > 0 else None,
        cpus=nr_cpus if nr_cpus > 0 else (notes.cpus or None),
        vmcoreinfo_text=vmcoreinfo_text,
        problems=tuple(problems) + (("split dump: this file holds part of it",) if split else ()),
    )


def _kdump_truncation(
    read: _Reader,
    size: int,
    block_size: int,
    sub_hdr_size: int,
    bitmap_blocks: int,
    max_mapnr: int,
    end: str,
) -> str | None:
    # Layout: header block, sub-header blocks, two bitmaps (bitmap_blocks blocks in
    # all; the second marks the pages in the file), page descriptors, page data.
    bitmap_off = (1 + sub_hdr_size) * block_size
    bitmap_len = bitmap_blocks * block_size
    desc_off = bitmap_off + bitmap_len
    if desc_off > size:
        return f"file is {size} bytes, shorter than its headers and bitmaps ({desc_off})"
    half = bitmap_len // 2
    wanted = min(half, (max_mapnr + 7) // 8) if max_mapnr else half
    if wanted > _MAX_BITMAP_SCAN:
        return None  # a machine of over 128 GiB: counting its pages costs too much
    bitmap2 = read(bitmap_off + half, wanted)
    pages = int.from_bytes(bitmap2, "little").bit_count()
    if pages == 0:
        return None
    descs_end = desc_off + pages * _PAGE_DESC_SIZE
    if descs_end > size:
        return f"file is {size} bytes, shorter than its {pages} page descriptors ({descs_end})"
    # Page data is written in descriptor order, but every zero page shares the one
    # copy at the start of the data area: look backwards for the last descriptor
    # of another page and check that its data fits in the file.
    data_start = descs_end
    index = pages
    budget = _MAX_DESC_SCAN
    while index > 0 and budget > 0:
        count = min(index, 4096)
        index -= count
        budget -= count
        table = read(desc_off + index * _PAGE_DESC_SIZE, count * _PAGE_DESC_SIZE)
        ends = [
            offset + length
            for offset, length, _flags, _pflags in struct.iter_unpack(end + "qIIQ", table)
            if offset != data_start
        ]
        if ends:
            last_end = max(ends)
            if last_end > size:
                return f"file is {size} bytes but its last page ends at byte {last_end}"
            return None
    return None


def kdump_metadata_end(path: Path) -> int | None:
    """
    Where the page descriptors of a compressed kdump file end: the file must be at
    least this long for its pages to be found (the page data follows).

    :return: ``None`` when the file is not a compressed kdump file or its headers
        are unreadable.
    """
    read, _size, close = _open_reader(Path(path))
    try:
        hdr = read(0, 464)
        if len(hdr) < 464 or hdr[:8] not in KDUMP_SIGNATURES:
            return None
        end = "<" if 0 <= struct.unpack_from("<i", hdr, 8)[0] < 0x10000 else ">"
        fields: tuple[int, int, int] = struct.unpack_from(end + "iiI", hdr, 428)
        block_size, sub_hdr_size, bitmap_blocks = fields
        if block_size <= 0 or sub_hdr_size < 0:
            return None
        bitmap_off = (1 + sub_hdr_size) * block_size
        half = bitmap_blocks * block_size // 2
        bitmap2 = read(bitmap_off + half, half)
        if len(bitmap2) < half:
            return bitmap_off + 2 * half
        pages = int.from_bytes(bitmap2, "little").bit_count()
        return bitmap_off + 2 * half + pages * _PAGE_DESC_SIZE
    finally:
        close()


class _FlatFile:
    """The logical kdump file inside a flattened stream, read chunk by chunk."""

    def __init__(self, read: _Reader, size: int) -> None:
        self._read = read
        self._size = size
        self._chunks: list[tuple[int, int, int]] = []  # logical offset, size, file pos
        self._pos = 4096  # MAX_SIZE_MDF_HEADER
        self.ended = False
        self.broken = False

    def _next_chunk(self) -> bool:
        if self.ended or self.broken or len(self._chunks) >= _MAX_FLAT_CHUNKS_SCANNED:
            return False
        head = self._read(self._pos, 16)
        if len(head) < 16:
            self.broken = True
            return False
        offset, length = struct.unpack(">qq", head)
        if offset == -1 and length == -1:
            self.ended = True
            return False
        if offset < 0 or length < 0 or self._pos + 16 + length > self._size:
            self.broken = True
            return False
        self._chunks.append((offset, length, self._pos + 16))
        self._pos += 16 + length
        return True

    def read(self, offset: int, length: int) -> bytes:
        """Bytes at ``offset`` of the logical file, up to the first byte not found."""
        out = bytearray(length)
        spans: list[tuple[int, int]] = []
        i = 0
        while _covered(spans, length) < length:
            if i >= len(self._chunks) and not self._next_chunk():
                break
            c_off, c_len, c_pos = self._chunks[i]
            i += 1
            lo = max(offset, c_off)
            hi = min(offset + length, c_off + c_len)
            if lo < hi:
                data = self._read(c_pos + lo - c_off, hi - lo)
                out[lo - offset : lo - offset + len(data)] = data
                spans.append((lo - offset, lo - offset + len(data)))
        return bytes(out[: _covered(spans, length)])


def _covered(spans: list[tuple[int, int]], length: int) -> int:
    # Length of the prefix [0, n) covered by the spans.
    reach = 0
    for lo, hi in sorted(spans):
        if lo > reach:
            break
        reach = max(reach, hi)
    return min(reach, length)


def _parse_flattened(read: _Reader, size: int, path: Path) -> _Parsed:
    hdr = read(0, 32)
    if len(hdr) < 32:
        raise BadInputError(
            f"{path} is truncated inside its flattened-format header",
            "the copy of the dump is incomplete; copy it again",
        )
    ftype, _version = struct.unpack_from(">qq", hdr, 16)
    if ftype != 1:
        raise BadInputError(
            f"{path} has a makedumpfile signature but an unknown flattened type {ftype}",
            "reassemble it with 'makedumpfile -R newfile < FILE' and try the new file",
        )
    flat = _FlatFile(read, size)
    first = flat.read(0, 8)
    if dump_magic(first) != "kdump-compressed":
        raise BadInputError(
            f"{path} is a flattened dump whose kdump header could not be found",
            "reassemble it with 'makedumpfile -R newfile < FILE' and try the new file",
        )
    parsed = _parse_kdump(flat.read, None, path, "flattened")
    tail = read(size - 16, 16) if size >= 16 else b""
    if tail != b"\xff" * 16:
        parsed.incomplete = True
        parsed.problems += ("flattened stream has no end marker: the file was cut short",)
    return parsed


def _text_release(head: bytes) -> str | None:
    marker = b"Linux version "
    at = head.find(marker)
    if at < 0:
        return None
    rest = head[at + len(marker) :].split(None, 1)
    return rest[0].decode("utf-8", "replace") if rest else None


def _open_reader(path: Path) -> tuple[_Reader, int | None, Callable[[], None]]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise BadInputError(f"{path} does not exist", "check the path") from None
    except IsADirectoryError:
        raise BadInputError(
            f"{path} is a directory",
            "point ktriage at the dump file, or use resolve_input for a crash directory",
        ) from None
    except OSError as exc:
        raise BadInputError(
            f"cannot open {path}: {exc.strerror}", "check the path and its permissions"
        ) from None
    st = os.fstat(fd)
    size = st.st_size if stat.S_ISREG(st.st_mode) else None

    def read(offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0:
            return b""
        if size is not None:
            length = max(0, min(length, size - offset))
            if length == 0:
                return b""
        try:
            return os.pread(fd, length, offset)
        except OSError:
            return b""

    return read, size, lambda: os.close(fd)


def identify(path: Path) -> DumpIdentity:
    """
    Identify a dump from its headers and VMCOREINFO alone.

    Same as :func:`identify_details` without the list of problems.
    """
    return identify_details(path)[0]


def identify_details(path: Path) -> tuple[DumpIdentity, tuple[str, ...]]:
    """
    Identify a dump from its headers and VMCOREINFO alone, and say what is wrong
    with it.

    Reads only the fixed headers, the ELF notes and VMCOREINFO (a few kilobytes, plus
    the page bitmap of a compressed kdump file to check its length), never a page of
    memory. A file shorter than its headers say gives ``incomplete=True``.

    :param path: the dump file, ``/proc/kcore``, or a text log.
    :return: the identity, and one line per problem found (truncation, the
        incomplete flag, a split dump), empty for a sound file.
    :raises BadInputError: the file is missing, unreadable, or neither a dump nor
        text.
    """
    path = Path(path)
    read, size, close = _open_reader(path)
    try:
        head = read(0, 4096)
        if not head:
            raise BadInputError(
                f"{path} is empty", "the dump was not saved; check the kdump service log"
            )
        fmt = dump_magic(head)
        live = path.resolve() == Path("/proc/kcore")
        if fmt == "elf":
            parsed = _parse_elf(read, None if live else size, path)
            if live:
                # /proc/kcore carries one NT_PRSTATUS note, not one per CPU.
                parsed.format = "live"
                parsed.producer = "kernel"
                parsed.incomplete = False
                parsed.cpus = os.cpu_count()
        elif fmt == "kdump-compressed":
            parsed = _parse_kdump(read, size, path, "kdump-compressed")
        elif fmt == "flattened" and size is not None:
            parsed = _parse_flattened(read, size, path)
        elif looks_like_text(head):
            parsed = _Parsed(format="text", release=_text_release(head))
        else:
            raise BadInputError(
                f"{path} is neither a crash dump (ELF, kdump-compressed, flattened) nor a text log",
                "point ktriage at a vmcore, a /var/crash directory or a dmesg file",
            )
    finally:
        close()
    info = parse_vmcoreinfo(parsed.vmcoreinfo_text) if parsed.vmcoreinfo_text else None
    return _identity(path, size or 0, parsed, info), parsed.problems


def _int(text: str | None, base: int = 10) -> int | None:
    if text is None:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


def _identity(path: Path, size: int, parsed: _Parsed, info: dict[str, str] | None) -> DumpIdentity:
    release = parsed.release
    build_id = page_size = kaslr = crash_time = None
    if info is not None:
        release = info.get("OSRELEASE") or release
        build_id = info.get("BUILD-ID") or None
        page_size = _int(info.get("PAGESIZE"))
        kaslr_value = _int(info.get("KERNELOFFSET"), 16)
        kaslr = Hex(kaslr_value) if kaslr_value is not None else None
        crash_time = _int(info.get("CRASHTIME"))
    return DumpIdentity(
        path=str(path),
        format=parsed.format,
        producer=parsed.producer,
        compression=parsed.compression,
        dump_level=parsed.dump_level,
        partial=parsed.partial,
        incomplete=parsed.incomplete,
        file_size=size,
        release=release,
        build_id=build_id,
        arch=parsed.arch,
        page_size=page_size,
        kaslr_offset=kaslr,
        crash_time=crash_time if crash_time is not None else parsed.crash_time,
        cpus=parsed.cpus,
        vmcoreinfo=info,
    )


def looks_like_text(head: bytes) -> bool:
    """
    Whether the first bytes of a file look like text (a console log or a dmesg).

    :param head: the file's first bytes (64 KiB is plenty).
    :return: ``True`` for no NUL byte and valid UTF-8 (a character cut at the end
        of the sample is allowed), or else at least 95 % printable bytes.
    """
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return True
    printable = sum(1 for b in head if b >= 0x20 or b in b"\t\n\r\f\v\x1b")
    return printable >= 0.95 * len(head)
