"""
Debuginfo from downloaded packages
----------------------------------

``--debuginfo-package FILE`` takes a kernel debug package the user already has — a
Debian ``.deb``, an Ubuntu ``.ddeb`` or an ``.rpm`` (RHEL's ``kernel-debuginfo`` and
``kernel-debuginfo-common``, Fedora's, SUSE's) — and copies out only the vmlinux and
the debug files of the modules loaded in the dump, into the cache, by streaming:

* ``.deb``/``.ddeb``: an ``ar`` archive; the file list comes from ``md5sums`` in the
  small ``control.tar``, then ``data.tar.(xz|zst|gz|bz2)`` is read once in tar stream
  mode, stopping as soon as every wanted file is out;
* ``.rpm``: lead, signature header, header (whose file list says up front whether the
  package holds anything wanted; a ``-common`` package of sources is skipped without
  decompressing it), then the ``cpio`` payload (gzip, bzip2, xz, lzma or zstd).

Nothing of the package is written to disk except the wanted files, each to a temporary
file in the cache that is renamed into ``<cache>/.build-id/xx/<rest>.debug`` once its
build ID has been read. The package file is only read.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

from ktriage.errors import BadInputError, DebuginfoError
from ktriage.facts.base import Record
from ktriage.symbols.buildid import file_build_id
from ktriage.symbols.debuginfod import build_id_cache_path, cached_build_id_path

__all__ = (
    "PackageExtraction",
    "PackageMember",
    "extract_debuginfo",
    "iter_package",
    "module_name_of",
    "package_file_list",
    "package_kind",
)

_AR_MAGIC = b"!<arch>\n"
_RPM_LEAD_MAGIC = b"\xed\xab\xee\xdb"
_RPM_HEADER_MAGIC = b"\x8e\xad\xe8\x01"
_MAX_RPM_HEADER = 512 << 20
_MAX_CONTROL = 64 << 20
_COPY_CHUNK = 1 << 20
_MODULE_SUFFIX_RE = re.compile(r"\.ko(?:\.debug)?$")


@dataclass(frozen=True, eq=False, repr=False)
class PackageMember(Record):
    """One regular file met while streaming a package."""

    path: str
    """Path inside the package, without a leading ``./`` or ``/``."""
    size: int
    stream: IO[bytes] = field(repr=False, compare=False)
    """Its contents; valid only until the iteration moves on."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class PackageExtraction(Record):
    """What :func:`extract_debuginfo` took out of the packages."""

    vmlinux: Path | None = None
    """The cached vmlinux, when one of the release (and build ID) was found."""
    vmlinux_package: Path | None = None
    """The package it came from."""
    modules: Mapping[str, Path] = field(default_factory=dict)
    """Module name (underscores) -> cached debug file."""
    tried: tuple[str, ...] = ()
    """What was looked at and why it did not match, for messages."""


def package_kind(path: Path) -> str:
    """Return ``deb`` (also for ``.ddeb``) or ``rpm`` from the file's magic bytes.

    Raises :class:`~ktriage.errors.BadInputError` for anything else.
    """
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise BadInputError(
            f"cannot read package {path}: {exc.strerror or exc}", "check the path"
        ) from exc
    if head == _AR_MAGIC:
        return "deb"
    if head.startswith(_RPM_LEAD_MAGIC):
        return "rpm"
    raise BadInputError(
        f"{path} is not a .deb, .ddeb or .rpm package",
        "give the kernel's debug package file to --debuginfo-package",
    )


def module_name_of(path: str) -> str | None:
    """Module name of a ``.ko``/``.ko.debug`` path (``-`` as ``_``), else ``None``."""
    base = PurePosixPath(path).name
    if not _MODULE_SUFFIX_RE.search(base):
        return None
    return _MODULE_SUFFIX_RE.sub("", base).replace("-", "_")


def _is_vmlinux(path: str, release: str | None) -> bool:
    p = PurePosixPath(path)
    name = p.name
    if release is None:
        return name in ("vmlinux", "vmlinux.debug") or (
            name.startswith("vmlinux-") and not name.endswith((".gz", ".xz", ".zst", ".bz2"))
        )
    if name in (f"vmlinux-{release}", f"vmlinux-{release}.debug"):
        return True
    return name in ("vmlinux", "vmlinux.debug") and f"modules/{release}" in str(p.parent)


def _module_in_release(path: str, release: str | None) -> bool:
    return release is None or f"/modules/{release}/" in f"/{path}"


# --- streaming readers ------------------------------------------------------------------


class _Bounded(io.RawIOBase):
    """At most *size* bytes of *raw* from its current position."""

    def __init__(self, raw: IO[bytes], size: int, path: Path) -> None:
        self._raw = raw
        self._left = size
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._left)
        if n <= 0:
            return 0
        data = self._raw.read(n)
        if not data:
            raise BadInputError(
                f"{self._path}: truncated package ({self._left} bytes missing)",
                "download the package again",
            )
        view[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def skip(self) -> None:
        while self.read(_COPY_CHUNK):
            pass


_EXTERNAL_DECOMPRESSORS: dict[str, list[str]] = {
    "xz": ["xz", "-dc", "-T0", "--single-stream"],
    "zstd": ["zstd", "-dcq"],
    "gzip": ["gzip", "-dc"],
}
"""Decompressor programs used when installed: they run beside the tar parsing, and xz
5.4+ decompresses the blocks of a multi-block stream in parallel (dpkg writes 24 MiB
blocks), faster than the single-threaded ``lzma`` module."""


class _ProcessReader(io.RawIOBase):
    """The output of a decompressor process fed from *raw* by a thread."""

    def __init__(self, argv: list[str], raw: io.RawIOBase, path: Path) -> None:
        self._path = path
        self._feed_error: BadInputError | None = None
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._pump = threading.Thread(target=self._feed, args=(raw,), daemon=True)
        self._pump.start()

    def _feed(self, raw: io.RawIOBase) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while chunk := raw.read(_COPY_CHUNK):
                stdin.write(chunk)
        except BadInputError as exc:  # the package file ends early: told by the reader
            self._feed_error = exc
        except (OSError, ValueError):
            pass  # the reader stopped early and closed the pipe
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        stdout = cast(io.BufferedReader, self._proc.stdout)
        n: int = stdout.readinto(buffer)
        if not n:
            self._proc.wait()
            self._pump.join()
            if self._feed_error is not None:
                raise self._feed_error
            if self._proc.returncode:
                stderr = self._proc.stderr.read() if self._proc.stderr else b""
                reason = stderr.decode("utf-8", "replace").strip().splitlines()
                raise BadInputError(
                    f"{self._path}: corrupt or truncated package data"
                    f" ({reason[-1] if reason else f'exit {self._proc.returncode}'})",
                    "download the package again",
                )
        return n

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()
        self._pump.join()
        super().close()


def _decompressed(raw: io.RawIOBase, path: Path) -> IO[bytes]:
    """Wrap *raw* in a stream decompressor chosen by its magic bytes."""
    buffered = io.BufferedReader(raw, _COPY_CHUNK)
    magic = buffered.peek(6)[:6]
    kind = (
        "xz"
        if magic.startswith(b"\xfd7zXZ")
        else "zstd"
        if magic.startswith(b"\x28\xb5\x2f\xfd")
        else "gzip"
        if magic.startswith(b"\x1f\x8b")
        else None
    )
    argv = _EXTERNAL_DECOMPRESSORS.get(kind or "")
    if argv and shutil.which(argv[0]):
        return io.BufferedReader(_ProcessReader(argv, buffered, path), _COPY_CHUNK)  # type: ignore[arg-type]
    if magic.startswith(b"\xfd7zXZ") or magic.startswith(b"\x5d\x00\x00"):
        return lzma.LZMAFile(buffered)
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            import zstandard
        except ImportError as exc:  # pragma: no cover - zstandard is a dependency
            raise DebuginfoError(
                f"{path}: zstd-compressed and the zstandard module is missing",
                "pip install zstandard",
            ) from exc
        reader = zstandard.ZstdDecompressor().stream_reader(
            buffered, read_size=_COPY_CHUNK, read_across_frames=True
        )
        return io.BufferedReader(reader, _COPY_CHUNK)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(buffered)
    return buffered


def _clean(name: str) -> str:
    name = name.removeprefix("./").lstrip("/")
    return name


def _ar_members(f: IO[bytes], path: Path) -> Iterator[tuple[str, _Bounded]]:
    if f.read(8) != _AR_MAGIC:
        raise BadInputError(f"{path} is not a .deb (ar) archive", "check the file")
    while True:
        header = f.read(60)
        if not header:
            return
        if len(header) < 60 or header[58:60] != b"`\n":
            raise BadInputError(f"{path}: corrupt ar member header", "download the package again")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as exc:
            raise BadInputError(f"{path}: corrupt ar member size", "download it again") from exc
        body = _Bounded(f, size, path)
        yield name, body
        body.skip()
        if size % 2:
            f.read(1)


def _tar_members(stream: IO[bytes], path: Path) -> Iterator[PackageMember]:
    try:
        with tarfile.open(fileobj=stream, mode="r|", bufsize=_COPY_CHUNK) as tar:
            for info in tar:
                if not info.isfile():
                    continue
                extracted = tar.extractfile(info)
                if extracted is None:
                    continue
                yield PackageMember(_clean(info.name), info.size, extracted)
    except (tarfile.TarError, lzma.LZMAError, EOFError, OSError, zlib.error) as exc:
        raise BadInputError(
            f"{path}: corrupt or truncated package data ({exc})", "download the package again"
        ) from exc


def _deb_members(path: Path, f: IO[bytes]) -> Iterator[PackageMember]:
    for name, body in _ar_members(f, path):
        if name.startswith("data.tar"):
            with contextlib.closing(_decompressed(body, path)) as stream:
                yield from _tar_members(stream, path)
            return
    raise BadInputError(f"{path}: no data.tar member in the package", "check the file")


def _deb_file_list(path: Path) -> list[str] | None:
    with path.open("rb") as f:
        for name, body in _ar_members(f, path):
            if name.startswith("control.tar"):
                with contextlib.closing(_decompressed(body, path)) as stream:
                    for member in _tar_members(stream, path):
                        if member.path == "md5sums" and member.size <= _MAX_CONTROL:
                            text = member.stream.read().decode("utf-8", "replace")
                            return [
                                _clean(line.split(None, 1)[1])
                                for line in text.splitlines()
                                if len(line.split(None, 1)) == 2
                            ]
                return None
            if name.startswith("data.tar"):
                return None
    return None


# --- rpm ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class _RpmHeader(Record):
    tags: Mapping[int, object]
    payload_offset: int

    def files(self) -> list[str] | None:
        base = self.tags.get(1117)
        dirs = self.tags.get(1118)
        index = self.tags.get(1116)
        if not isinstance(base, list) or not isinstance(dirs, list) or not isinstance(index, list):
            old = self.tags.get(1027)  # OLDFILENAMES
            return [_clean(str(n)) for n in old] if isinstance(old, list) else None
        return [_clean(f"{dirs[i]}{b}") for b, i in zip(base, index, strict=False)]

    def sizes(self) -> list[int]:
        sizes = self.tags.get(5008) or self.tags.get(1028) or []
        return [int(s) for s in sizes] if isinstance(sizes, list) else []


def _read_exact(f: IO[bytes], size: int, path: Path) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise BadInputError(f"{path}: truncated rpm package", "download the package again")
    return data


def _rpm_header_block(f: IO[bytes], path: Path) -> tuple[int, bytes, bytes]:
    intro = _read_exact(f, 16, path)
    if intro[:4] != _RPM_HEADER_MAGIC:
        raise BadInputError(f"{path}: corrupt rpm header", "download the package again")
    nindex, hsize = struct.unpack(">II", intro[8:16])
    if nindex * 16 + hsize > _MAX_RPM_HEADER:
        raise BadInputError(f"{path}: rpm header too large ({hsize} bytes)", "check the file")
    return nindex, _read_exact(f, nindex * 16, path), _read_exact(f, hsize, path)


def _rpm_tags(index: bytes, store: bytes, nindex: int) -> dict[int, object]:
    tags: dict[int, object] = {}
    for i in range(nindex):
        tag, kind, offset, count = struct.unpack_from(">IIII", index, i * 16)
        if offset > len(store):
            continue
        if kind == 6:  # STRING
            end = store.find(b"\x00", offset)
            tags[tag] = store[offset:end].decode("utf-8", "replace")
        elif kind in (8, 9):  # STRING_ARRAY, I18NSTRING
            values: list[str] = []
            pos = offset
            for _ in range(count):
                end = store.find(b"\x00", pos)
                if end < 0:
                    break
                values.append(store[pos:end].decode("utf-8", "replace"))
                pos = end + 1
            tags[tag] = values
        elif kind == 4:  # INT32
            tags[tag] = list(struct.unpack_from(f">{count}I", store, offset))
        elif kind == 5:  # INT64
            tags[tag] = list(struct.unpack_from(f">{count}Q", store, offset))
    return tags


def _rpm_header(f: IO[bytes], path: Path) -> _RpmHeader:
    lead = _read_exact(f, 96, path)
    if not lead.startswith(_RPM_LEAD_MAGIC):
        raise BadInputError(f"{path} is not an rpm package", "check the file")
    nindex, index, store = _rpm_header_block(f, path)  # signature
    pad = (8 - (nindex * 16 + len(store)) % 8) % 8
    _read_exact(f, pad, path)
    nindex, index, store = _rpm_header_block(f, path)
    return _RpmHeader(_rpm_tags(index, store, nindex), f.tell())


def _rpm_members(path: Path, f: IO[bytes]) -> Iterator[PackageMember]:
    header = _rpm_header(f, path)
    file_size = os.fstat(f.fileno()).st_size
    files = header.files() or []
    sizes = header.sizes()
    try:
        with contextlib.closing(
            _decompressed(_Bounded(f, file_size - header.payload_offset, path), path)
        ) as payload:
            yield from _cpio_members(payload, path, files, sizes)
    except (lzma.LZMAError, EOFError, OSError, zlib.error) as exc:
        raise BadInputError(
            f"{path}: corrupt or truncated rpm payload ({exc})", "download the package again"
        ) from exc


def _cpio_members(
    payload: IO[bytes], path: Path, files: list[str], sizes: list[int]
) -> Iterator[PackageMember]:
    offset = 0

    def read(n: int) -> bytes:
        nonlocal offset
        data = payload.read(n)
        if len(data) != n:
            raise BadInputError(f"{path}: truncated cpio payload", "download the package again")
        offset += n
        return data

    def align() -> None:
        if offset % 4:
            read(4 - offset % 4)

    while True:
        magic = read(6)
        if magic == b"07070X":  # rpm >= 4.12 stripped header: an index into the header
            number = int(read(8), 16)
            align()
            if number >= len(files) or number >= len(sizes):
                raise BadInputError(f"{path}: corrupt cpio index", "download it again")
            name, size, mode = files[number], sizes[number], 0o100000
        elif magic in (b"070701", b"070702"):
            fields = read(104)
            values = [int(fields[i : i + 8], 16) for i in range(0, 104, 8)]
            mode, size, namesize = values[1], values[6], values[11]
            name = _clean(read(namesize).rstrip(b"\x00").decode("utf-8", "replace"))
            align()
            if name == "TRAILER!!!":
                return
        else:
            raise BadInputError(f"{path}: unsupported cpio format {magic!r}", "check the file")
        body = _Bounded(payload, size, path)
        if mode & 0o170000 == 0o100000 and size:
            yield PackageMember(name, size, io.BufferedReader(body, _COPY_CHUNK))
        body.skip()
        offset += size
        align()


# --- public streaming API --------------------------------------------------------------


def iter_package(
    path: Path, *, progress: str | None = None
) -> Generator[PackageMember, None, None]:
    """Stream the regular files of a ``.deb``, ``.ddeb`` or ``.rpm`` in archive order.

    With *progress* (a description), a bar on stderr shows how much of the package
    file has been read.
    """
    kind = package_kind(path)
    with path.open("rb") as f, _ReadProgress(f, path, progress):
        if kind == "deb":
            yield from _deb_members(path, f)
        else:
            yield from _rpm_members(path, f)


class _ReadProgress:
    """A progress bar polling the read position of an open package file."""

    def __init__(self, f: IO[bytes], path: Path, description: str | None) -> None:
        self._fd = f.fileno()
        self._size = os.fstat(self._fd).st_size
        self._description = description
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._path = path

    def __enter__(self) -> _ReadProgress:
        if self._description is None:
            return self
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        console = Console(stderr=True)
        console.print(
            f"{self._description} from {self._path.name} ({self._size / 1e6:.1f} MB)",
            highlight=False,
        )
        bar = Progress(
            TextColumn("reading"),
            BarColumn(),
            DownloadColumn(),
            console=console,
            transient=True,
        )
        task = bar.add_task("package", total=self._size)

        def poll() -> None:
            with bar:
                while not self._stop.wait(0.25):
                    with contextlib.suppress(OSError):
                        bar.update(task, completed=os.lseek(self._fd, 0, os.SEEK_CUR))

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def package_file_list(path: Path) -> list[str] | None:
    """The package's file paths read from its metadata without decompressing its data.

    ``None`` when the package carries no list (a ``.deb`` without ``md5sums``).
    """
    if package_kind(path) == "deb":
        return _deb_file_list(path)
    with path.open("rb") as f:
        return _rpm_header(f, path).files()


# --- extraction --------------------------------------------------------------------------


def extract_debuginfo(
    packages: Sequence[Path],
    *,
    release: str | None,
    cache_dir: Path,
    vmlinux: bool = True,
    vmlinux_build_id: str | None = None,
    modules: Mapping[str, str | None] | None = None,
    progress: bool = False,
) -> PackageExtraction:
    """Copy the vmlinux and the wanted modules' debug files out of *packages*.

    *modules* maps module names (``-`` or ``_``) to the build ID read from the dump,
    or ``None`` when unknown. Files whose build ID differs from the dump's are not
    kept and are listed in ``tried``. Files already cached under their build ID are
    not extracted again.
    """
    wanted_modules = {
        name.replace("-", "_"): build_id for name, build_id in (modules or {}).items()
    }
    found_modules: dict[str, Path] = {}
    tried: list[str] = []
    found_vmlinux: Path | None = None
    vmlinux_package: Path | None = None

    for name, build_id in wanted_modules.items():  # already cached by an earlier run
        if build_id and (hit := cached_build_id_path(cache_dir, build_id)) is not None:
            found_modules[name] = hit
    if vmlinux and vmlinux_build_id:
        found_vmlinux = cached_build_id_path(cache_dir, vmlinux_build_id)

    for package in packages:
        want_vmlinux = vmlinux and found_vmlinux is None
        missing = {n for n in wanted_modules if n not in found_modules}
        if not want_vmlinux and not missing:
            break
        index = _PackageIndex.load(cache_dir, package)
        listing = package_file_list(package)
        targets = _targets(listing, release, want_vmlinux, missing) if listing is not None else None
        if targets is not None:  # reuse what an earlier run took from this package
            for member, key in list(targets.items()):
                build_id = index.extracted.get(member)
                cached = cached_build_id_path(cache_dir, build_id) if build_id else None
                if cached is None:
                    continue
                expected = vmlinux_build_id if key == "vmlinux" else wanted_modules[key]
                if expected not in (None, build_id):
                    continue
                del targets[member]
                if key == "vmlinux":
                    found_vmlinux, vmlinux_package = cached, package
                    want_vmlinux = False
                else:
                    found_modules[key] = cached
                    missing.discard(key)
        if targets is not None and not targets:
            if listing is not None and not any(
                _is_vmlinux(p, None) or module_name_of(p) for p in listing
            ):
                tried.append(f"package {package}: holds no vmlinux or modules")
            elif want_vmlinux and found_vmlinux is None:
                tried.append(f"package {package}: no vmlinux of {release or 'the dump'}")
            continue
        result = _extract_one(
            package,
            targets=targets,
            release=release,
            want_vmlinux=want_vmlinux,
            vmlinux_build_id=vmlinux_build_id,
            missing=missing,
            wanted_modules=wanted_modules,
            cache_dir=cache_dir,
            index=index,
            tried=tried,
            progress=progress,
        )
        if result[0] is not None and found_vmlinux is None:
            found_vmlinux, vmlinux_package = result[0], package
        found_modules.update(result[1])
        index.save()
    if vmlinux and found_vmlinux is None and packages:
        tried.append(
            f"packages ({len(packages)}): no vmlinux of {release or 'the dump'}"
            + (f" with build ID {vmlinux_build_id}" if vmlinux_build_id else "")
        )
    return PackageExtraction(
        vmlinux=found_vmlinux,
        vmlinux_package=vmlinux_package,
        modules=found_modules,
        tried=tuple(tried),
    )


def _targets(
    listing: list[str], release: str | None, want_vmlinux: bool, missing: set[str]
) -> dict[str, str]:
    """Package paths to take -> ``vmlinux`` or the module name."""
    targets: dict[str, str] = {}
    for p in listing:
        if want_vmlinux and _is_vmlinux(p, release) and "/.build-id/" not in f"/{p}":
            targets[p] = "vmlinux"
        elif (name := module_name_of(p)) in missing and _module_in_release(p, release):
            assert name is not None
            targets[p] = name
    return targets


def _extract_one(
    package: Path,
    *,
    targets: dict[str, str] | None,
    release: str | None,
    want_vmlinux: bool,
    vmlinux_build_id: str | None,
    missing: set[str],
    wanted_modules: Mapping[str, str | None],
    cache_dir: Path,
    index: _PackageIndex,
    tried: list[str],
    progress: bool,
) -> tuple[Path | None, dict[str, Path]]:
    found_vmlinux: Path | None = None
    found: dict[str, Path] = {}
    remaining = dict(targets) if targets is not None else None
    wanted = (["vmlinux"] if want_vmlinux else []) + sorted(
        set(remaining.values()) - {"vmlinux"} if remaining is not None else missing
    )
    description = f"extracting {', '.join(wanted[:4])}{' ...' if len(wanted) > 4 else ''}"
    with contextlib.closing(
        iter_package(package, progress=description if progress else None)
    ) as members:
        for member in members:
            if remaining is not None:
                key = remaining.pop(member.path, None)
            elif want_vmlinux and found_vmlinux is None and _is_vmlinux(member.path, release):
                key = "vmlinux"
            elif (name := module_name_of(member.path)) in missing and _module_in_release(
                member.path, release
            ):
                key = name
            else:
                key = None
            if key is None or (key != "vmlinux" and key in found):
                continue
            expected = vmlinux_build_id if key == "vmlinux" else wanted_modules.get(key)
            cached, got = _store(package, member, cache_dir, expected)
            index.extracted[member.path] = got
            what = f"{PurePosixPath(member.path).name} in {package.name}"
            if cached is None:
                tried.append(
                    f"{what}: build ID {got or 'none'}, the dump's is {expected} "
                    f"(release {release or 'unknown'})"
                )
            elif key == "vmlinux":
                found_vmlinux = cached
            else:
                found[key] = cached
            if remaining is not None and not remaining:
                break  # everything wanted is out: do not read the rest
    return found_vmlinux, found


def _store(
    package: Path, member: PackageMember, cache_dir: Path, expected: str | None
) -> tuple[Path | None, str | None]:
    """Copy *member* into the cache; return (path, build ID), path None on mismatch."""
    tmp_dir = cache_dir / ".tmp"
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="extract-")
    except OSError as exc:
        raise DebuginfoError(
            f"cannot write to the debuginfo cache {cache_dir}: {exc.strerror or exc}",
            "run as a user who can write there, or choose another cache directory",
        ) from exc
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(member.stream, out, _COPY_CHUNK)
        except (tarfile.TarError, lzma.LZMAError, EOFError, zlib.error) as exc:
            raise BadInputError(
                f"{package}: corrupt or truncated data in {member.path} ({exc})",
                "download the package again",
            ) from exc
        except OSError as exc:
            raise DebuginfoError(
                f"cannot extract {member.path} into the cache {cache_dir}: {exc.strerror or exc}",
                "free some space there, or choose another cache directory",
            ) from exc
        try:
            got = file_build_id(tmp)
        except BadInputError:
            return None, None  # not an ELF file after all
        if got is None or (expected is not None and got != expected):
            return None, got
        final = build_id_cache_path(cache_dir, got)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return final, got
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class _PackageIndex:
    """Which files an earlier run took from a package, by build ID (a JSON sidecar)."""

    path: Path
    extracted: dict[str, str | None]

    @classmethod
    def load(cls, cache_dir: Path, package: Path) -> _PackageIndex:
        st = package.stat()
        key = hashlib.sha256(
            f"{package.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()
        ).hexdigest()[:32]
        path = cache_dir / "packages" / f"{key}.json"
        try:
            data = json.loads(path.read_text())
            extracted = {str(k): (str(v) if v else None) for k, v in data["extracted"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            extracted = {}
        return cls(path, extracted)

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".index-")
            with os.fdopen(fd, "w") as out:
                json.dump({"extracted": self.extracted}, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass  # the index only saves time
