"""Tier-0 identification (source.ident) on real dumps, checked against crash's ``sys``."""

from __future__ import annotations

import calendar
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpus import REPO, CorpusDump, all_dumps

from ktriage.errors import BadInputError
from ktriage.source.ident import dump_magic, identify, identify_details

MAGIC_FORMAT = {"elf": "elf", "kdump-compressed": "kdump-compressed", "flattened": "flattened"}


_SYS_KEYS = "KERNEL|DUMPFILE|CPUS|DATE|UPTIME|TASKS|NODENAME|RELEASE|VERSION|MACHINE|MEMORY"


def crash_sys(crash_output: Path) -> dict[str, str]:
    """The ``KEY: value`` lines of crash's ``sys`` output in a crash oracle file."""
    text = crash_output.read_text(errors="replace")
    fields: dict[str, str] = {}
    for match in re.finditer(rf"^ *({_SYS_KEYS}): (.*)$", text, re.M):
        fields.setdefault(match.group(1), match.group(2).strip())
    assert "RELEASE" in fields, f"no crash 'sys' output in {crash_output}"
    return fields


def _magic(path: Path) -> str | None:
    with path.open("rb") as file:
        return dump_magic(file.read(16))


def test_identity_matches_crash_sys(corpus_dump: CorpusDump) -> None:
    ident = identify(corpus_dump.dump)
    assert ident.format == MAGIC_FORMAT[_magic(corpus_dump.dump) or ""]
    assert ident.release == corpus_dump.release
    assert ident.file_size == corpus_dump.dump.stat().st_size
    assert not ident.incomplete
    assert ident.vmcoreinfo is not None
    assert ident.vmcoreinfo["OSRELEASE"] == corpus_dump.release
    assert ident.build_id is not None and re.fullmatch(r"[0-9a-f]{40}", ident.build_id)
    assert ident.page_size == 4096
    assert ident.kaslr_offset is not None
    if corpus_dump.crash_output is None:
        pytest.skip(f"no crash oracle for {corpus_dump.name}")
    sys_ = crash_sys(corpus_dump.crash_output)
    assert ident.release == sys_["RELEASE"]
    assert ident.cpus == int(sys_["CPUS"].split()[0])
    assert ident.arch == sys_["MACHINE"].split()[0]
    assert ident.partial == ("[PARTIAL DUMP]" in sys_["DUMPFILE"])
    if ident.crash_time is not None:
        date = time.strptime(sys_["DATE"].replace(" UTC", ""), "%a %b %d %H:%M:%S %Y")
        assert ident.crash_time == calendar.timegm(date)


def test_compression_and_level(corpus_dump: CorpusDump) -> None:
    ident = identify(corpus_dump.dump)
    if ident.format == "elf":
        assert ident.compression == "none"
        assert ident.dump_level is None
        return
    # The corpus names its formats after the makedumpfile/QEMU options used.
    assert ident.compression in {"none", "zlib", "lzo", "snappy", "zstd"}
    name = corpus_dump.format.lower()
    for algo in ("zlib", "lzo", "snappy", "zstd"):
        if algo in name:
            assert ident.compression == algo
    if "-d31" in name or "-d 31" in name:
        assert ident.dump_level == 31
        assert ident.partial
    assert ident.producer in {"makedumpfile", "qemu"}


def test_ident_is_fast_on_the_largest_dump() -> None:
    dumps = all_dumps()
    if not dumps:
        pytest.skip("no corpus dumps on this machine")
    largest = max(dumps, key=lambda d: d.dump.stat().st_size)
    identify(largest.dump)  # warm the page cache for the headers
    times = []
    for _ in range(5):
        start = time.perf_counter()
        identify(largest.dump)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"identify {largest.dump} ({largest.dump.stat().st_size} bytes): {median * 1000:.2f} ms")
    assert median < 0.1


def _prefix_copy(source: Path, target: Path, length: int) -> None:
    with source.open("rb") as src, target.open("wb") as dst:
        remaining = length
        while remaining > 0:
            chunk = src.read(min(remaining, 1 << 22))
            if not chunk:
                break
            dst.write(chunk)
            remaining -= len(chunk)


_OPEN_AND_READ = """
import sys
from pathlib import Path
from ktriage.errors import BadInputError
from ktriage.source.open import open_program
from ktriage.source.printk import read_log
try:
    log = read_log(open_program(Path(sys.argv[1])))
except BadInputError as exc:
    print("BadInputError:", exc.message)
else:
    print("records:", len(log), "unreadable:", len(log.unreadable))
"""


def _sizes(size: int) -> list[int]:
    cuts = [300, 6000, min(size // 2, 16 << 20)]
    if size < 64 << 20:
        cuts.append(size - 4096)
    return cuts


@pytest.mark.parametrize("magic", ["elf", "kdump-compressed", "flattened"])
def test_truncated_copy(tmp_path: Path, magic: str) -> None:
    dumps = sorted(all_dumps(), key=lambda d: d.dump.stat().st_size)
    chosen = [d for d in dumps if _magic(d.dump) == magic]
    if not chosen:
        pytest.skip(f"no {magic} dump on this machine")
    source = chosen[0].dump
    size = source.stat().st_size
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    for cut in _sizes(size):
        copy = tmp_path / f"vmcore.{cut}"
        _prefix_copy(source, copy, cut)
        try:
            ident, problems = identify_details(copy)
        except BadInputError as exc:
            assert "\n" not in exc.message and exc.hint
            assert "truncated" in exc.message or "cut short" in exc.message
        else:
            assert ident.incomplete, f"cut at {cut} of {size} not noticed"
            assert problems
        # Opening and reading the log must end in a result or a BadInputError,
        # never in a traceback or a signal (run apart: a SIGBUS would kill pytest).
        proc = subprocess.run(
            [sys.executable, "-c", _OPEN_AND_READ, str(copy)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"cut at {cut}: rc {proc.returncode}\n{proc.stderr}"
        assert proc.stdout.startswith(("BadInputError:", "records:")), proc.stdout
        copy.unlink()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        os.urandom(1 << 16),
        b"\x7fELF" + os.urandom(4096),
        b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x04\0\x3e\0" + os.urandom(200),
        b"KDUMP   " + os.urandom(8192),
        b"makedumpfile\0\0\0\0" + os.urandom(8192),
    ],
    ids=["empty", "random", "elf-magic", "elf-core-garbage", "kdump-magic", "flat-magic"],
)
def test_garbage_is_bad_input(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(content)
    try:
        ident, problems = identify_details(path)
    except BadInputError as exc:
        assert exc.message and "\n" not in exc.message
        assert exc.hint
    else:
        # A random body behind a valid magic number may parse; it must then say
        # what is wrong with it.
        assert ident.format in {"elf", "kdump-compressed", "flattened"}
        assert ident.incomplete or problems or ident.release is None


def test_missing_path_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        identify(tmp_path / "no-such-vmcore")


def dmesg_of(dump: CorpusDump) -> Path | None:
    """The dump's dmesg file (also the one next to a kdump-layout vmcore)."""
    if dump.dmesg is not None:
        return dump.dmesg
    beside = dump.dump.parent / "vmcore-dmesg.txt"
    return beside if beside.is_file() else None


def test_text_log(corpus_dump: CorpusDump) -> None:
    dmesg = dmesg_of(corpus_dump)
    if dmesg is None:
        pytest.skip(f"no dmesg for {corpus_dump.name}")
    ident = identify(dmesg)
    assert ident.format == "text"
    assert ident.release == corpus_dump.release


def test_flattened_made_by_makedumpfile(tmp_path: Path) -> None:
    if shutil.which("makedumpfile") is None:
        pytest.skip("makedumpfile is not installed")
    kdumps = [d for d in all_dumps() if _magic(d.dump) == "kdump-compressed"]
    if not kdumps:
        pytest.skip("no kdump-compressed dump to flatten")
    flat = tmp_path / "vmcore.flat"
    # This machine's makedumpfile may not read every corpus dump (zstd, newer
    # formats): flatten the smallest one it accepts.
    for source in sorted(kdumps, key=lambda d: d.dump.stat().st_size):
        before = hashlib.sha256(source.dump.read_bytes()).hexdigest()
        with flat.open("wb") as out:
            made = subprocess.run(
                ["makedumpfile", "-F", "-c", "-d", "31", str(source.dump)],
                stdout=out,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=300,
            )
        if made.returncode == 0:
            break
    else:
        pytest.skip("makedumpfile -F accepts none of the corpus dumps")
    ident = identify(flat)
    original = identify(source.dump)
    assert ident.format == "flattened"
    assert not ident.incomplete
    assert ident.compression == "zlib"
    assert ident.dump_level == 31
    for field in ("release", "build_id", "kaslr_offset", "cpus", "arch", "page_size"):
        assert getattr(ident, field) == getattr(original, field), field
    cut = tmp_path / "vmcore.flat.cut"
    _prefix_copy(flat, cut, flat.stat().st_size // 2)
    assert identify(cut).incomplete
    assert hashlib.sha256(source.dump.read_bytes()).hexdigest() == before
