"""Opening real dumps in drgn without debug info (source.open)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import drgn
import pytest
from corpus import CorpusDump, all_dumps

from ktriage.errors import BadInputError
from ktriage.source.ident import identify
from ktriage.source.open import (
    NOTES_KEY,
    REARRANGED_KEY,
    UNREADABLE_KEY,
    open_program,
    platform_for,
    rearrange_flattened,
)
from ktriage.source.printk import format_log, read_log

_ARCH = {"x86_64": drgn.Architecture.X86_64, "aarch64": drgn.Architecture.AARCH64}


def test_open_without_debuginfo(corpus_dump: CorpusDump) -> None:
    ident = identify(corpus_dump.dump)
    prog = open_program(corpus_dump.dump, ident)
    assert prog.platform is not None
    if ident.arch in _ARCH:
        assert prog.platform.arch == _ARCH[ident.arch]
    assert prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL
    vmcoreinfo = prog["VMCOREINFO"].string_().decode()
    assert f"OSRELEASE={corpus_dump.release}" in vmcoreinfo
    # No debug info: kernel symbols are unknown...
    with pytest.raises(LookupError):
        prog.symbol("init_task")
    # ...but memory named by VMCOREINFO is readable: init_uts_ns holds the release.
    assert ident.vmcoreinfo is not None
    uts = int(ident.vmcoreinfo["SYMBOL(init_uts_ns)"], 16)
    offset = ident.vmcoreinfo.get("OFFSET(uts_namespace.name)")
    # Older kernels do not give the offset (and before 5.11 a kref comes first):
    # the name starts with sysname "Linux".
    name = uts + (int(offset) if offset else prog.read(uts, 16).index(b"Linux\0"))
    # struct new_utsname: sysname[65], nodename[65], release[65], ...
    release = prog.read(name + 65 * 2, 65).split(b"\0")[0].decode()
    assert release == corpus_dump.release


def test_open_identifies_when_not_given() -> None:
    dumps = all_dumps()
    if not dumps:
        pytest.skip("no corpus dumps on this machine")
    dump = min(dumps, key=lambda d: d.dump.stat().st_size).dump
    before = (dump.stat().st_size, dump.stat().st_mtime_ns)
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    prog = open_program(dump)
    assert prog["VMCOREINFO"]
    assert (dump.stat().st_size, dump.stat().st_mtime_ns) == before
    assert hashlib.sha256(dump.read_bytes()).hexdigest() == digest


def test_text_log_is_not_a_dump(tmp_path: Path) -> None:
    log = tmp_path / "dmesg.txt"
    log.write_text("[    0.000000] Linux version 6.1.0-56-amd64\n")
    with pytest.raises(BadInputError, match="text log"):
        open_program(log)


def test_garbage_after_magic_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "vmcore"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x04\0\x3e\0" + os.urandom(4096))
    with pytest.raises(BadInputError):
        open_program(path)


def test_platform_for() -> None:
    platform = platform_for("x86_64")
    assert platform.arch == drgn.Architecture.X86_64
    assert platform.flags & drgn.PlatformFlags.IS_64_BIT
    assert platform.flags & drgn.PlatformFlags.IS_LITTLE_ENDIAN
    assert platform_for(None).arch == drgn.Architecture.X86_64
    assert platform_for("aarch64").arch == drgn.Architecture.AARCH64


@pytest.mark.skipif(not os.access("/proc/kcore", os.R_OK), reason="/proc/kcore is not readable")
def test_live_kernel() -> None:
    ident = identify(Path("/proc/kcore"))
    assert ident.format == "live"
    prog = open_program(Path("/proc/kcore"), ident)
    assert prog.flags & drgn.ProgramFlags.IS_LIVE


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as file:
        return file.read(size)


def _size(path: Path) -> int:
    return path.stat().st_size


@pytest.fixture(scope="module")
def flattened_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest flattened corpus dump, or one made with ``makedumpfile -F``."""
    dumps = [d.dump for d in all_dumps() if _head(d.dump, 16) == b"makedumpfile\0\0\0\0"]
    if dumps:
        return min(dumps, key=_size)
    kdumps = [d.dump for d in all_dumps() if _head(d.dump, 8) == b"KDUMP   "]
    if not kdumps or shutil.which("makedumpfile") is None:
        pytest.skip("no flattened dump, and no makedumpfile to make one")
    flat = tmp_path_factory.mktemp("flat") / "vmcore.flat"
    for source in sorted(kdumps, key=_size):
        with flat.open("wb") as out:
            made = subprocess.run(
                ["makedumpfile", "-F", "-c", "-d", "31", str(source)],
                stdout=out,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=300,
            )
        if made.returncode == 0:
            return flat
    pytest.skip("makedumpfile -F accepts none of the corpus dumps")


def test_flattened_opens_quietly(flattened_dump: Path, capfd: pytest.CaptureFixture[str]) -> None:
    prog = open_program(flattened_dump)
    assert prog["VMCOREINFO"]
    captured = capfd.readouterr()
    assert "flattened" not in captured.err


def test_rearrange_flattened(flattened_dump: Path, tmp_path: Path) -> None:
    source = flattened_dump
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    kdump, dropped = rearrange_flattened(source, tmp_path)
    assert dropped == 0
    ident = identify(kdump)
    original = identify(source)
    assert ident.format == "kdump-compressed" and not ident.incomplete
    for field in ("release", "build_id", "kaslr_offset", "dump_level", "compression", "cpus"):
        assert getattr(ident, field) == getattr(original, field), field
    assert rearrange_flattened(source, tmp_path) == (kdump, 0)  # cached
    log = format_log(read_log(open_program(kdump)))
    assert log == format_log(read_log(open_program(source)))
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


def test_flattened_is_read_through_a_private_copy(flattened_dump: Path, tmp_path: Path) -> None:
    # libkdumpfile maps all of a flattened file to find its chunks: the copy keeps
    # the memory of a flattened dump that of a kdump file.
    prog = open_program(flattened_dump, cache_dir=tmp_path)
    copy = Path(prog.cache[REARRANGED_KEY])
    assert copy.parent == tmp_path
    assert copy.stat().st_mode & 0o777 == 0o600  # the machine's memory
    assert NOTES_KEY not in prog.cache and UNREADABLE_KEY not in prog.cache
    assert identify(copy).format == "kdump-compressed"
    log = format_log(read_log(prog))
    # No copy allowed (a limit of 0 bytes): read in place, the same, with a note.
    os.environ["KTRIAGE_FLATTENED_CACHE_MB"] = "0"
    try:
        in_place = open_program(flattened_dump, cache_dir=tmp_path / "none")
    finally:
        del os.environ["KTRIAGE_FLATTENED_CACHE_MB"]
    assert REARRANGED_KEY not in in_place.cache
    (note,) = in_place.cache[NOTES_KEY]
    assert note.startswith("flattened dump read in place") and "KTRIAGE_FLATTENED_CACHE_MB" in note
    assert format_log(read_log(in_place)) == log
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())


def test_flattened_copy_falls_back_to_reading_in_place(
    flattened_dump: Path, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    prog = open_program(flattened_dump, cache_dir=blocked / "flattened")
    (note,) = prog.cache[NOTES_KEY]
    assert note.startswith("flattened dump read in place") and str(blocked) in note
    assert prog["VMCOREINFO"]


def test_flattened_copy_failing_leaves_nothing(
    flattened_dump: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ktriage.source.open as source_open

    def full_disk(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(source_open, "_copy_flat_chunks", full_disk)
    with pytest.raises(BadInputError, match="No space left on device"):
        rearrange_flattened(flattened_dump, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_flattened_cache_keeps_the_most_recently_used(flattened_dump: Path, tmp_path: Path) -> None:
    size = flattened_dump.stat().st_size
    old = []
    for age, name in enumerate(("newest", "middle", "oldest")):
        stale = tmp_path / f"{name}.kdump"
        stale.write_bytes(b"\0" * 1000)
        (tmp_path / f"{name}.dropped").write_text("0")
        os.utime(stale, (1e9 - age, 1e9 - age))
        old.append(stale)
    # Room for the new copy and two old ones: the oldest goes, with its page count.
    kdump, _ = rearrange_flattened(flattened_dump, tmp_path, limit=size + 2000)
    assert kdump.is_file()
    assert [f.exists() for f in old] == [True, True, False]
    assert not (tmp_path / "oldest.dropped").exists()
    # A reused copy counts as used now, and an old world-readable one is made private.
    kdump.chmod(0o644)
    os.utime(kdump, (1, 1))
    assert rearrange_flattened(flattened_dump, tmp_path, limit=size + 2000)[0] == kdump
    assert kdump.stat().st_mtime > 1e9 and kdump.stat().st_mode & 0o777 == 0o600
    # A dump larger than the limit is not copied.
    with pytest.raises(BadInputError, match="larger than the cache keeps"):
        rearrange_flattened(flattened_dump, tmp_path / "small", limit=size - 1)


def test_cut_flattened_gives_partial_results(
    flattened_dump: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KTRIAGE_CACHE", str(tmp_path / "cache"))
    source = flattened_dump
    cut = tmp_path / "vmcore.cut"
    with source.open("rb") as src:
        cut.write_bytes(src.read(source.stat().st_size * 3 // 4))
    ident = identify(cut)
    assert ident.incomplete
    prog = open_program(cut, ident)
    (lost,) = prog.cache[UNREADABLE_KEY]
    assert "cut off the end of the flattened stream" in lost
    assert prog.cache[NOTES_KEY] == (
        f"flattened dump rearranged into {prog.cache[REARRANGED_KEY]}",
    )
    assert Path(prog.cache[REARRANGED_KEY]).parent == tmp_path / "cache" / "flattened"
    # The log is read where its pages arrived, and says what it could not read.
    log = read_log(prog)
    assert len(log) > 0 or log.unreadable
