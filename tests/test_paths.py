"""Finding the dump and the log from what the user typed (source.paths)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from corpus import CorpusDump, all_dumps

from ktriage.errors import BadInputError
from ktriage.source.paths import ResolvedInput, is_text_file, resolve_input


def _a_dump_with_dmesg() -> tuple[Path, Path]:
    for dump in all_dumps():
        dmesg = dump.dmesg or dump.dump.parent / "vmcore-dmesg.txt"
        if dmesg.is_file():
            return dump.dump, dmesg
    pytest.skip("no corpus dump with a dmesg on this machine")


def test_kdump_layout(tmp_path: Path) -> None:
    dump, dmesg = _a_dump_with_dmesg()
    crash = tmp_path / "var" / "crash" / "127.0.0.1-2026-11-26-06:20:02"
    crash.mkdir(parents=True)
    (crash / "vmcore").symlink_to(dump)
    (crash / "vmcore-dmesg.txt").symlink_to(dmesg)
    expected = ResolvedInput(dump=crash / "vmcore", dmesg=crash / "vmcore-dmesg.txt", kind="dump")
    assert resolve_input(crash) == expected
    # /var/crash holding one crash directory resolves to it.
    assert resolve_input(tmp_path / "var" / "crash") == expected
    # The dump file itself finds its dmesg.
    assert resolve_input(crash / "vmcore") == expected
    # A second crash makes /var/crash ambiguous: say so and name the newest.
    other = tmp_path / "var" / "crash" / "127.0.0.1-2026-11-27-10:00:00"
    other.mkdir()
    (other / "vmcore").symlink_to(dump)
    with pytest.raises(BadInputError, match="2 crash directories") as info:
        resolve_input(tmp_path / "var" / "crash")
    assert "point ktriage at one of them" in info.value.hint


def test_ubuntu_layout(tmp_path: Path) -> None:
    dump, dmesg = _a_dump_with_dmesg()
    crash = tmp_path / "var" / "crash" / "202611260620"
    crash.mkdir(parents=True)
    (crash / "dump.202611260620").symlink_to(dump)
    (crash / "dmesg.202611260620").symlink_to(dmesg)
    (crash / "linux-image-6.1.0-56-amd64-202611260620.crash").write_text("ProblemType: Crash\n")
    resolved = resolve_input(crash)
    assert resolved == ResolvedInput(
        dump=crash / "dump.202611260620", dmesg=crash / "dmesg.202611260620", kind="dump"
    )
    assert resolve_input(crash.parent) == resolved


def test_directory_with_a_renamed_dump(corpus_dump: CorpusDump, tmp_path: Path) -> None:
    (tmp_path / "saved-core").symlink_to(corpus_dump.dump)
    resolved = resolve_input(tmp_path)
    assert resolved.kind == "dump"
    assert resolved.dump == tmp_path / "saved-core"
    assert resolved.dmesg is None


def test_incomplete_vmcore_is_taken_last(tmp_path: Path) -> None:
    dump, _ = _a_dump_with_dmesg()
    (tmp_path / "vmcore-incomplete").symlink_to(dump)
    assert resolve_input(tmp_path).dump == tmp_path / "vmcore-incomplete"
    (tmp_path / "vmcore").symlink_to(dump)
    assert resolve_input(tmp_path).dump == tmp_path / "vmcore"


def test_text_files(tmp_path: Path) -> None:
    _, dmesg = _a_dump_with_dmesg()
    assert resolve_input(dmesg) == ResolvedInput(dump=None, dmesg=dmesg, kind="text")
    assert is_text_file(dmesg)
    console = tmp_path / "console.log"
    # A console log with a UTF-8 character cut by the 64 KiB sample, and CRLFs.
    console.write_bytes(b"[    1.000000] x\r\n" * 3854 + b"\xc3\xa9" * 40)
    assert resolve_input(console).kind == "text"
    only_log = tmp_path / "only-log"
    only_log.mkdir()
    (only_log / "vmcore-dmesg.txt").symlink_to(dmesg)
    assert resolve_input(only_log) == ResolvedInput(
        dump=None, dmesg=only_log / "vmcore-dmesg.txt", kind="text"
    )


def test_bad_inputs(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(1 << 16))
    with pytest.raises(BadInputError, match="neither a crash dump"):
        resolve_input(garbage)
    assert not is_text_file(garbage)
    with pytest.raises(BadInputError, match="does not exist"):
        resolve_input(tmp_path / "missing")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(BadInputError, match="broken symbolic link"):
        resolve_input(tmp_path / "dangling")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(BadInputError, match="is empty"):
        resolve_input(empty)
    empty_dir = tmp_path / "nothing-here"
    empty_dir.mkdir()
    with pytest.raises(BadInputError, match="no crash dump"):
        resolve_input(empty_dir)


def test_proc_kcore_is_live() -> None:
    if not Path("/proc/kcore").exists():
        pytest.skip("no /proc/kcore on this machine")
    assert resolve_input(Path("/proc/kcore")) == ResolvedInput(
        dump=Path("/proc/kcore"), dmesg=None, kind="live"
    )
