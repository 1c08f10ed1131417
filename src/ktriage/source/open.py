"""
Opening dumps
-------------

A :class:`drgn.Program` on a core dump or on the running kernel, with no debug
info loaded. drgn (through libkdumpfile) reads the memory of every format
ktriage accepts; this module only chooses how to open it and turns drgn's
errors into :class:`~ktriage.errors.BadInputError`.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import shutil
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import drgn

from ktriage.cache import cache_root
from ktriage.errors import BadInputError
from ktriage.facts import DumpIdentity
from ktriage.source.helpers import defer_package_exports
from ktriage.source.ident import identify, kdump_metadata_end

__all__ = (
    "NOTES_KEY",
    "REARRANGED_KEY",
    "UNREADABLE_KEY",
    "flattened_cache_limit",
    "open_program",
    "platform_for",
    "rearrange_flattened",
)

REARRANGED_KEY = "ktriage_rearranged"
"""
Key of ``prog.cache`` naming the kdump file that a flattened dump was rearranged
into (absent when the dump was read in place).
"""

NOTES_KEY = "ktriage_open_notes"
"""
Key of ``prog.cache`` holding how :func:`open_program` had to read the dump, one
line each (a tuple of strings; absent when nothing to say).
"""

UNREADABLE_KEY = "ktriage_open_unreadable"
"""
Key of ``prog.cache`` holding what :func:`open_program` found missing from the
dump, one line each (a tuple of strings; absent when nothing).
"""

_MAX_PRUNE_BITMAP = 1 << 20  # bytes of page bitmap we agree to walk in Python

_FLAT_HEADER_SIZE = 4096  # MAX_SIZE_MDF_HEADER
_COPY_CHUNK = 4 << 20
_DEFAULT_FLATTENED_LIMIT = 4 << 30
_FREE_MARGIN = 1 << 30  # left free on the cache's disk after a copy

_ARCHITECTURES = {
    "x86_64": (drgn.Architecture.X86_64, True, True),
    "i386": (drgn.Architecture.I386, False, True),
    "aarch64": (drgn.Architecture.AARCH64, True, True),
    "arm": (drgn.Architecture.ARM, False, True),
    "ppc64": (drgn.Architecture.PPC64, True, True),
    "riscv64": (drgn.Architecture.RISCV64, True, True),
    "s390x": (drgn.Architecture.S390X, True, False),
}


def platform_for(arch: str | None) -> drgn.Platform:
    """
    The drgn platform for an architecture name of :class:`DumpIdentity`.

    Used for dumps whose headers do not name their architecture in a way
    libkdumpfile understands (QEMU's ``kdump-*`` files). An unknown or missing
    name gives x86-64.
    """
    machine, is_64, little = _ARCHITECTURES.get(arch or "x86_64", _ARCHITECTURES["x86_64"])
    flags = drgn.PlatformFlags(0)
    if is_64:
        flags |= drgn.PlatformFlags.IS_64_BIT
    if little:
        flags |= drgn.PlatformFlags.IS_LITTLE_ENDIAN
    return drgn.Platform(machine, flags)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    # libkdumpfile prints a warning about flattened files straight to file
    # descriptor 2; the identity already says the file is flattened.
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _set_core_dump(path: Path, platform: drgn.Platform | None, quiet: bool) -> drgn.Program:
    prog = drgn.Program(platform) if platform is not None else drgn.Program()
    with _quiet_stderr() if quiet else contextlib.nullcontext():
        prog.set_core_dump(str(path))
    _warm_up(prog)
    return prog


def _warm_up(prog: drgn.Program) -> None:
    # libkdumpfile sets up address translation on the first read (it searches
    # for the kernel text through the page tables). If a page it needs is missing
    # or damaged, that first read fails although later ones work: spend it here
    # on an address VMCOREINFO names, so callers' reads are not the victims.
    try:
        text = prog["VMCOREINFO"].string_().decode("utf-8", "replace")
    except Exception:  # no VMCOREINFO: nothing to read
        return
    for line in text.splitlines():
        if line.startswith(("SYMBOL(_stext)=", "SYMBOL(init_uts_ns)=")):
            try:
                prog.read(int(line.partition("=")[2], 16), 1)
            except Exception:  # the reason is reported by the caller's own reads
                pass
            return


def flattened_cache_limit() -> int:
    """
    Bytes of rearranged flattened dumps kept in the cache (least recently used
    removed first): ``$KTRIAGE_FLATTENED_CACHE_MB`` MiB, 4 GiB by default.
    """
    value = os.environ.get("KTRIAGE_FLATTENED_CACHE_MB", "")
    return int(value) << 20 if value.isdigit() else _DEFAULT_FLATTENED_LIMIT


def rearrange_flattened(
    path: Path, cache_dir: Path | None = None, limit: int | None = None
) -> tuple[Path, int]:
    """
    Rewrite a flattened dump (``makedumpfile -F``, QEMU ``kdump-*``) as the
    compressed kdump file it encodes, as ``makedumpfile -R`` does, into the cache.

    The input is only read. The output is named by a hash of the file's first
    64 KiB and its size, so a second call reuses it; it is readable by its owner
    only, as the dump holds the machine's memory. Copies used least recently are
    removed while the directory holds more than *limit* bytes of them. When the
    stream was cut short, the pages whose descriptor or data did not arrive are
    marked as not dumped in the output, so the rest can still be read.

    :param cache_dir: where to write (default ``$KTRIAGE_CACHE/flattened``,
        ``/var/cache/ktriage/flattened``).
    :param limit: bytes of copies to keep (default :func:`flattened_cache_limit`).
    :return: the kdump file, and how many pages were marked as not dumped.
    :raises BadInputError: the file is not a flattened dump, or the copy does not
        fit (larger than *limit*, or not in the disk's free space) or cannot be
        written.
    """
    path = Path(path)
    directory = cache_dir if cache_dir is not None else cache_root() / "flattened"
    limit = flattened_cache_limit() if limit is None else limit
    try:
        size = path.stat().st_size
        with path.open("rb") as src:
            head = src.read(65536)
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}", "check the path") from None
    if not head.startswith(b"makedumpfile\0"):
        raise BadInputError(f"{path} is not a flattened dump", "open it directly")
    key = hashlib.sha256(head + str(size).encode()).hexdigest()[:32]
    target = directory / f"{key}.kdump"
    dropped_file = directory / f"{key}.dropped"
    if target.is_file() and dropped_file.is_file():
        _mark_used(target)
        return target, int(dropped_file.read_text() or "0")
    advice = (
        "set KTRIAGE_CACHE to a writable directory with room for it, or run "
        "'makedumpfile -R newfile < FILE' and open the new file"
    )
    if size > limit:
        raise BadInputError(
            f"flattened dump {path} ({size >> 20} MiB) is larger than the cache keeps "
            f"({limit >> 20} MiB, KTRIAGE_FLATTENED_CACHE_MB)",
            advice,
        )
    partial = directory / f"{key}.{os.getpid()}.tmp"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if shutil.disk_usage(directory).free < size + _FREE_MARGIN:
            raise BadInputError(f"no room in {directory} to rearrange {path}", advice)
        _prune_cache(directory, limit - size)
        fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        with path.open("rb") as src, os.fdopen(fd, "w+b") as dst:
            spans, ended = _copy_flat_chunks(src, dst, size)
            dst.truncate(max((hi for _lo, hi in spans), default=0))
            dropped = 0 if ended else _prune_missing_pages(dst, spans)
        dropped_file.write_text(str(dropped))
        partial.replace(target)
    except OSError as exc:
        raise BadInputError(
            f"cannot rearrange flattened dump {path} into {directory}: {exc.strerror}", advice
        ) from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return target, dropped


def _mark_used(target: Path) -> None:
    # The cache is pruned by modification time: a reused copy counts as new.
    with contextlib.suppress(OSError):
        os.utime(target)
        if target.stat().st_mode & 0o077:  # written by an older ktriage, readable by all
            target.chmod(0o600)


def _prune_cache(directory: Path, room: int) -> None:
    # Remove the least recently used copies until the rest fit in *room* bytes.
    copies = []
    for entry in directory.glob("*.kdump"):
        with contextlib.suppress(OSError):
            st = entry.stat()
            copies.append((st.st_mtime, st.st_size, entry))
    total = sum(size for _mtime, size, _entry in copies)
    for _mtime, size, entry in sorted(copies):
        if total <= room:
            break
        with contextlib.suppress(OSError):
            entry.unlink()
            entry.with_suffix(".dropped").unlink(missing_ok=True)
            total -= size


def _copy_flat_chunks(
    src: BinaryIO, dst: BinaryIO, size: int
) -> tuple[list[tuple[int, int]], bool]:
    # The stream after its 4 KiB header: (be64 offset, be64 size, data) chunks,
    # ended by offset = size = -1. Stops quietly where a cut stream ends, and
    # returns the merged byte ranges written and whether the end marker was seen.
    pos = _FLAT_HEADER_SIZE
    spans: list[tuple[int, int]] = []
    ended = False
    while pos + 16 <= size:
        src.seek(pos)
        offset, length = struct.unpack(">qq", src.read(16))
        if offset == -1 and length == -1:
            ended = True
            break
        if offset < 0 or length < 0:
            break
        pos += 16
        length = min(length, size - pos)
        done = 0
        while done < length:
            data = src.read(min(_COPY_CHUNK, length - done))
            if not data:
                break
            dst.seek(offset + done)
            dst.write(data)
            done += len(data)
        if done:
            spans.append((offset, offset + done))
        pos += length
    return _merge(spans), ended


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _written(spans: list[tuple[int, int]], lo: int, hi: int) -> bool:
    index = bisect.bisect_right(spans, (lo, 2**63)) - 1
    return index >= 0 and spans[index][0] <= lo and hi <= spans[index][1]


def _prune_missing_pages(dst: BinaryIO, spans: list[tuple[int, int]]) -> int:
    # Compressed kdump layout (makedumpfile diskdump_mod.h): header block,
    # sub-header blocks, two page bitmaps (the second marks the pages in the
    # file), one 24-byte page_desc per marked page in PFN order, page data.
    # Clear the bit of every page whose descriptor or data is missing and write
    # the descriptor table again without them.
    dst.seek(0)
    hdr = dst.read(464)
    if len(hdr) < 464 or not _written(spans, 0, 464):
        return 0
    end = "<" if 0 <= struct.unpack_from("<i", hdr, 8)[0] < 0x10000 else ">"
    block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from(end + "iiI", hdr, 428)
    if block_size <= 0 or sub_hdr_size < 0:
        return 0
    half = bitmap_blocks * block_size // 2
    bitmap2_off = (1 + sub_hdr_size) * block_size + half
    desc_off = bitmap2_off + half
    if half > _MAX_PRUNE_BITMAP or not _written(spans, bitmap2_off, desc_off):
        return 0
    dst.seek(bitmap2_off)
    bitmap = bytearray(dst.read(half))
    pages = int.from_bytes(bitmap, "little").bit_count()
    dst.seek(desc_off)
    descs = dst.read(pages * 24).ljust(pages * 24, b"\0")
    kept = bytearray()
    dropped = 0
    index = 0
    for byte_index, byte in enumerate(bytes(bitmap)):
        if not byte:
            continue
        for bit in range(8):
            if not byte & (1 << bit):
                continue
            at = index * 24
            index += 1
            offset, length = struct.unpack_from(end + "qI", descs, at)
            whole = _written(spans, desc_off + at, desc_off + at + 24)
            if whole and length > 0 and _written(spans, offset, offset + length):
                kept += descs[at : at + 24]
            else:
                bitmap[byte_index] &= ~(1 << bit) & 0xFF
                dropped += 1
    if dropped:
        dst.seek(bitmap2_off)
        dst.write(bitmap)
        dst.seek(desc_off)
        dst.write(kept)
    return dropped


def _open_flattened(path: Path, ident: DumpIdentity, cache_dir: Path | None) -> drgn.Program:
    # libkdumpfile reads a flattened file in place, but it maps every page of it
    # to find the chunks (QEMU writes one per 16 KiB): memory as large as the file.
    # The rearranged copy in the cache is read only where the analysis looks.
    try:
        kdump, dropped = rearrange_flattened(path, cache_dir)
    except BadInputError as exc:
        if ident.incomplete:
            raise
        prog = _open_in_place(path, ident)
        prog.cache[NOTES_KEY] = (
            f"flattened dump read in place, which maps all of it into memory: {exc.message}",
        )
        return prog
    needed = kdump_metadata_end(kdump)
    if needed is None or needed > kdump.stat().st_size:
        raise BadInputError(
            f"{path} is cut short inside its page tables: no memory can be read from it",
            "use 'ktriage ident' for what the headers say, and the dmesg file for the log",
        )
    platform = platform_for(ident.arch) if ident.producer == "qemu" or not ident.arch else None
    try:
        prog = _set_core_dump(kdump, platform, quiet=False)
    except Exception as exc:  # drgn reports libkdumpfile errors as Exception
        raise BadInputError(
            f"drgn cannot open {path}, even rearranged into {kdump}: {exc}",
            "the dump may be damaged; check it with 'ktriage ident'",
        ) from None
    prog.cache[REARRANGED_KEY] = str(kdump)
    if ident.incomplete:
        prog.cache[NOTES_KEY] = (f"flattened dump rearranged into {kdump}",)
    if dropped:
        prog.cache[UNREADABLE_KEY] = (
            f"{dropped} page(s) were cut off the end of the flattened stream",
        )
    return prog


def open_program(
    path: Path, ident: DumpIdentity | None = None, cache_dir: Path | None = None
) -> drgn.Program:
    """
    Open a dump (or ``/proc/kcore``) in drgn without loading any debug info.

    :param path: the dump file, or ``/proc/kcore`` for the running kernel.
    :param ident: the dump's identity if already known (saves reading headers).
    :param cache_dir: where flattened dumps are rearranged (default
        ``$KTRIAGE_CACHE/flattened``).

    A flattened dump is read through its rearranged copy in the cache (see
    :func:`rearrange_flattened`), named by ``prog.cache[REARRANGED_KEY]``; in
    place, with a note in ``prog.cache[NOTES_KEY]``, when no copy can be made.

    :raises BadInputError: the file is not a dump drgn can open; the message says
        what drgn reported and the hint what to try.
    """
    # drgn loads its plugins (its own CLI and crash commands, ~50 argument
    # parsers) on the first set_core_dump; ktriage uses none of them.
    os.environ.setdefault("DRGN_DISABLE_PLUGINS", "*")
    # And drgn.helpers.linux gathers the names of all its modules when imported.
    defer_package_exports()
    path = Path(path)
    if ident is None:
        ident = identify(path)
    if ident.format == "text":
        raise BadInputError(
            f"{path} is a text log, not a memory dump",
            "a log gives the oops triage only; point ktriage at the vmcore for more",
        )
    if ident.format == "live":
        prog = drgn.Program()
        try:
            prog.set_kernel()
        except PermissionError:
            raise BadInputError(
                "cannot read /proc/kcore: permission denied", "run ktriage as root"
            ) from None
        except Exception as exc:  # drgn reports libkdumpfile/libelf errors as Exception
            raise BadInputError(
                f"cannot open the running kernel: {exc}",
                "check that /proc/kcore exists (CONFIG_PROC_KCORE)",
            ) from None
        return prog
    if ident.incomplete and ident.format == "kdump-compressed":
        # libkdumpfile maps the bitmaps and page descriptors: a file cut short
        # inside them would kill the process with SIGBUS, so refuse it here.
        needed = kdump_metadata_end(path)
        if needed is None or needed > ident.file_size:
            raise BadInputError(
                f"{path} is cut short inside its page tables ({ident.file_size} bytes, "
                f"{needed or 'more'} needed): no memory can be read from it",
                "use 'ktriage ident' for what the headers say, and the dmesg file for the log",
            )
    if ident.format == "flattened":
        return _open_flattened(path, ident, cache_dir)
    return _open_in_place(path, ident)


def _open_in_place(path: Path, ident: DumpIdentity) -> drgn.Program:
    quiet = ident.format == "flattened"
    # QEMU's kdump-* files name no architecture libkdumpfile knows: give drgn the
    # platform then, and retry with it whenever the plain open fails.
    first: drgn.Platform | None = None
    if ident.format != "elf" and (ident.producer == "qemu" or ident.arch is None):
        first = platform_for(ident.arch)
    attempts = [first] if first is not None else [None, platform_for(ident.arch)]
    error: Exception | None = None
    for platform in attempts:
        try:
            return _set_core_dump(path, platform, quiet)
        except PermissionError:
            raise BadInputError(
                f"cannot read {path}: permission denied",
                "run ktriage as root or make the dump readable",
            ) from None
        except Exception as exc:  # drgn reports libkdumpfile/libelf errors as Exception
            error = exc
            if ident.format == "elf":
                break
    hint = "the dump may be damaged or cut short; check it with 'ktriage ident'"
    raise BadInputError(f"drgn cannot open {path}: {error}", hint)
