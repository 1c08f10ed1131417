"""
Oops triage on real logs: the Debian 6.1 lkdtm crashes of the shared corpus
(class, guilty frame, registers, stack), messy variants of real oops-dev logs
(syslog and journal prefixes, CRLF, no timestamps, interleaved tasks,
truncation, several crashes in one log), and file handling.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from pathlib import Path

import pytest
from corpus import OOPS_DEV, SHARED_CORPUS

from ktriage.errors import BadInputError
from ktriage.facts import CrashClass, OopsReport
from ktriage.oops import crashes_json, is_probably_text, parse_file, parse_log
from ktriage.oops.demangle import demangle
from ktriage.oops.engine import split_prefix

# ---------------------------------------------------------------------------
# The lkdtm corpus

# scenario -> (class, guilty frame, start of the title)
LKDTM = {
    "exec_kmalloc": (
        CrashClass.NX_EXECUTE,
        "execute_location",
        "BUG: unable to handle kernel paging request in ",
    ),
    "exception": (
        CrashClass.NULL_POINTER_DEREFERENCE,
        "lkdtm_EXCEPTION",
        "BUG: unable to handle kernel NULL pointer dereference in ",
    ),
    "bug": (CrashClass.BUG_ASSERTION, "lkdtm_BUG", "kernel BUG in "),
    "write_after_free": (
        CrashClass.USE_AFTER_FREE,
        "lkdtm_WRITE_AFTER_FREE",
        "BUG: Poison overwritten in ",
    ),
    "hung_task": (CrashClass.HUNG_TASK, "direct_entry", "INFO: task hung in "),
    "sysrq_c-kdump": (
        CrashClass.SYSRQ_CRASH,
        "sysrq_handle_crash",
        "kernel panic: sysrq triggered crash",
    ),
}


def _lkdtm_logs() -> list[object]:
    params: list[object] = []
    for scenario in sorted(LKDTM):
        for name in ("vmcore-dmesg.txt", "console.log"):
            for path in sorted(SHARED_CORPUS.glob(f"*/{scenario}/**/{name}")):
                release = path.relative_to(SHARED_CORPUS).parts[0]
                params.append(pytest.param(scenario, path, id=f"{release}/{scenario}/{name}"))
    if not params:
        params.append(
            pytest.param(None, None, marks=pytest.mark.skip(reason=f"no corpus in {SHARED_CORPUS}"))
        )
    return params


@pytest.mark.parametrize(("scenario", "path"), _lkdtm_logs())
def test_lkdtm_class_and_frame(scenario: str, path: Path) -> None:
    reports = parse_file(path)
    assert reports, "no crash found"
    main = reports[0]
    crash_class, frame, title = LKDTM[scenario]
    assert main.crash_class is crash_class
    assert main.frame == frame
    assert main.title.startswith(title)
    assert not main.corrupted, main.corrupted_reason
    assert main.comm == "lab-trigger"
    assert main.release is not None and main.release.endswith("-amd64")
    # One crash per log: the panic that follows an oops is part of it.
    assert len(reports) == 1


def _corpus_log(scenario: str, name: str = "vmcore-dmesg.txt") -> Path:
    paths = sorted(SHARED_CORPUS.glob(f"*/{scenario}/**/{name}"))
    if not paths:
        pytest.skip(f"no {scenario} log in {SHARED_CORPUS}")
    return paths[0]


def test_exec_kmalloc_details() -> None:
    main = parse_file(_corpus_log("exec_kmalloc"))[0]
    # RIP is in data (no symbol): the registers say so, the blame comes from the
    # call trace, whose frames are all unreliable ('?').
    rip = main.registers["RIP"]
    assert main.registers["CR2"] == rip
    assert main.fault_address == rip
    assert main.stack[0].function == "execute_location"
    assert main.stack[0].module == "lkdtm"
    assert all(f.note for f in main.stack)
    assert any(line.startswith("RIP: 0010:0x") for line in main.lines)


def test_exception_details() -> None:
    main = parse_file(_corpus_log("exception"))[0]
    assert main.fault_address == 0
    assert main.registers["CR2"] == 0
    assert main.kind == "BUG"
    assert main.lines[0].startswith("BUG: kernel NULL pointer dereference")
    assert main.cpu is not None and main.pid is not None
    assert "OE" in (main.tainted or "")


def test_hung_task_blames_the_blocked_task() -> None:
    main = parse_file(_corpus_log("hung_task"))[0]
    # The panic comes from khungtaskd; the report is about the blocked task.
    assert main.comm == "lab-trigger"
    assert "watchdog" not in (main.frame or "")
    assert [f.function for f in main.stack][:3] == ["__schedule", "schedule", "direct_entry.cold"]


# ---------------------------------------------------------------------------
# Messy logs made from real oops-dev logs


def _split(raw: str) -> tuple[str, str]:
    # Header lines, an empty line, the log (a file without header starts empty).
    if raw.startswith("\n"):
        return "", raw[1:]
    head, _, log = raw.partition("\n\n")
    return head, log


def _oops_dev() -> list[tuple[str, str]]:
    if not OOPS_DEV.is_dir():
        return []
    logs = []
    for path in sorted(OOPS_DEV.glob("*.txt")):
        raw = path.read_text(encoding="utf-8", errors="replace")
        logs.append((path.name, _split(raw)[1]))
    return logs


OOPS_LOGS = _oops_dev()
needs_oops_dev = pytest.mark.skipif(not OOPS_LOGS, reason=f"no oops-dev corpus at {OOPS_DEV}")


def _titles(text: str) -> list[str]:
    return [r.title for r in parse_log(text)]


def _each_line(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


TRANSFORMS = {
    "syslog": lambda t: _each_line(t, "Nov 26 06:20:02 testhost kernel: "),
    "journal": lambda t: _each_line(t, "2026-11-26T06:20:02.123456+00:00 testhost kernel: "),
    "dmesg-kernel-prefix": lambda t: _each_line(t, "kernel: "),
    "crlf": lambda t: t.replace("\n", "\r\n"),
}


@needs_oops_dev
@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_prefixes_do_not_change_titles(transform: str) -> None:
    changed = []
    for name, log in OOPS_LOGS:
        if _titles(TRANSFORMS[transform](log)) != _titles(log):
            changed.append(name)
    assert changed == []


_TIMESTAMP = re.compile(r"\[ *[0-9]+\.[0-9]+\](?:\[ *[CT][0-9]+\])? ?")


@needs_oops_dev
def test_logs_without_timestamps() -> None:
    # Without timestamps nothing tells tasks and CPUs apart, so only logs from a
    # single context with a single report must come out the same.
    checked = 0
    changed = []
    for name, log in OOPS_LOGS:
        contexts = {split_prefix(line).context for line in log.split("\n") if line.strip()}
        if len(contexts) != 1 or "" in contexts or len(parse_log(log)) != 1:
            continue
        checked += 1
        bare = "\n".join(_TIMESTAMP.sub("", line, count=1) for line in log.split("\n"))
        if _titles(bare) != _titles(log):
            changed.append(name)
    assert checked > 100
    assert changed == []


def _noise_lines() -> list[str]:
    # Real lines of the logs that hold no crash.
    lines = []
    for _name, log in OOPS_LOGS:
        if not parse_log(log):
            lines += [split_prefix(line).text for line in log.split("\n") if line.strip()]
    if len(lines) < 20:
        pytest.skip("not enough crash-free logs in oops-dev")
    return lines


@needs_oops_dev
def test_interleaved_tasks_do_not_change_titles() -> None:
    # Another task's output between every line of a task-context log: the
    # report is gathered from its own task only.
    noise = _noise_lines()
    checked = 0
    changed = []
    for name, log in OOPS_LOGS:
        lines = log.split("\n")
        if not any(split_prefix(line).context.startswith("[T") for line in lines[:50]):
            continue
        checked += 1
        mixed = []
        for i, line in enumerate(lines):
            mixed.append(line)
            mixed.append(f"[  100.{i:06d}][T99999] {noise[i % len(noise)]}")
        if _titles("\n".join(mixed))[:1] != _titles(log)[:1]:
            changed.append(name)
    assert checked > 50
    assert changed == []


def test_truncated_report_is_marked() -> None:
    text = _corpus_log("exception").read_text()
    lines = text.split("\n")
    cut = next(i for i, line in enumerate(lines) if "Call Trace:" in line)
    main = parse_log("\n".join(lines[: cut + 1]))[0]
    assert main.corrupted
    # The title still comes from RIP.
    assert main.title == "BUG: unable to handle kernel NULL pointer dereference in lkdtm_EXCEPTION"
    # Cut right after the first line: the class is known, the frame is not.
    header = next(i for i, line in enumerate(lines) if "BUG: kernel NULL pointer" in line)
    short = parse_log("\n".join(lines[: header + 1]))[0]
    assert short.corrupted
    assert short.frame is None
    assert short.crash_class is CrashClass.NULL_POINTER_DEREFERENCE


def test_lines_cut_short() -> None:
    text = _corpus_log("bug").read_text()
    # Every line cut to 40 characters, as a narrow terminal capture does.
    cut = "\n".join(line[:40] for line in text.split("\n"))
    main = parse_log(cut)[0]
    assert main.crash_class is CrashClass.BUG_ASSERTION
    assert main.title.startswith("kernel BUG in ")


def test_several_crashes_in_order() -> None:
    first = _corpus_log("exception").read_text()
    second = _corpus_log("bug").read_text()
    reports = parse_log(first + second)
    assert [r.crash_class for r in reports] == [
        CrashClass.NULL_POINTER_DEREFERENCE,
        CrashClass.BUG_ASSERTION,
    ]
    assert reports[0].end_line <= reports[1].start_line


@needs_oops_dev
def test_many_logs_in_one() -> None:
    # Every oops-dev log one after the other: each log's main crash is found
    # where that log starts, except where a panic line closes the previous
    # log's report (a panic right after a report is part of it).
    starts: list[int] = []
    lines: list[str] = []
    for _name, log in OOPS_LOGS:
        starts.append(len(lines))
        lines += log.split("\n")
    found: dict[int, str] = {}
    for report in parse_log("\n".join(lines)):
        found.setdefault(bisect.bisect_right(starts, report.start_line) - 1, report.title)
    expected = {i: _titles(log)[0] for i, (_n, log) in enumerate(OOPS_LOGS) if _titles(log)}
    missed = [OOPS_LOGS[i][0] for i, title in expected.items() if found.get(i) != title]
    assert len(missed) * 20 <= len(expected), missed


def test_no_crash() -> None:
    assert parse_log("") == []
    text = _corpus_log("bug").read_text()
    boot = text.split("lkdtm: Performing direct entry")[0]
    assert "Call Trace" not in boot
    assert parse_log(boot) == []


@needs_oops_dev
def test_logs_without_title_hold_no_crash() -> None:
    for path in sorted(OOPS_DEV.glob("*.txt")):
        raw = path.read_text(encoding="utf-8", errors="replace")
        head, log = _split(raw)
        if not any(line.startswith("TITLE:") for line in head.splitlines()):
            assert parse_log(log) == [], path.name


# ---------------------------------------------------------------------------
# Files


def test_parse_file_does_not_modify_input() -> None:
    path = _corpus_log("write_after_free", "console.log")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    reports = parse_file(path)
    assert isinstance(reports[0], OopsReport)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert path.stat().st_mtime_ns == mtime


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as err:
        parse_file(tmp_path / "nope.log")
    assert "no such file" in err.value.message
    assert err.value.hint


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(BadInputError):
        parse_file(tmp_path)


def test_vmcore_is_not_text(tmp_path: Path) -> None:
    dumps = sorted(SHARED_CORPUS.glob("*/*/vmcore.*")) + sorted(SHARED_CORPUS.glob("*/*/*/vmcore"))
    if not dumps:
        pytest.skip(f"no vmcore in {SHARED_CORPUS}")
    with dumps[0].open("rb") as f:
        head = f.read(1 << 16)
    assert not is_probably_text(head)
    copy = tmp_path / "vmcore"
    copy.write_bytes(head)
    with pytest.raises(BadInputError) as err:
        parse_file(copy)
    assert "analyze" in err.value.hint


def test_text_logs_are_text() -> None:
    for scenario in LKDTM:
        for name in ("vmcore-dmesg.txt", "console.log"):
            for path in SHARED_CORPUS.glob(f"*/{scenario}/**/{name}"):
                assert is_probably_text(path.read_bytes())


@needs_oops_dev
def test_oops_dev_logs_are_text() -> None:
    # Real console logs, some with garbage from a corrupted task name.
    for path in sorted(OOPS_DEV.glob("*.txt")):
        assert is_probably_text(path.read_bytes()), path.name


def test_latin1_bytes_are_tolerated(tmp_path: Path) -> None:
    # A console log with stray non-UTF-8 bytes (serial line noise) is still text.
    data = _corpus_log("bug").read_bytes().replace(b"Hardware name", b"Hardware\xe9name", 1)
    path = tmp_path / "console.log"
    path.write_bytes(data)
    assert is_probably_text(data)
    assert parse_file(path)[0].frame == "lkdtm_BUG"


# ---------------------------------------------------------------------------
# Symbols


def _symbols(pattern: str) -> list[str]:
    found: set[str] = set()
    for _name, log in OOPS_LOGS:
        found.update(re.findall(pattern, log))
    return sorted(found)


@needs_oops_dev
def test_rust_symbols_demangle() -> None:
    # Every Rust v0 symbol printed in the corpus demangles to a path.
    symbols = _symbols(r"\b(_R[a-zA-Z0-9_]+)\+0x")
    assert symbols
    for symbol in symbols:
        name = demangle(symbol)
        assert name != symbol and "::" in name, symbol
    assert (
        demangle(
            "_RNvXs1_CscPPBqWtAqum_11ashmem_rustNtB5_6AshmemNtNtCs43vyB533jt3_6kernel"
            "10miscdevice10MiscDevice4mmap"
        )
        == "<ashmem_rust::Ashmem as kernel::miscdevice::MiscDevice>::mmap"
    )


@needs_oops_dev
def test_cxx_symbols_demangle() -> None:
    symbols = _symbols(r"\b(_Z[a-zA-Z0-9_]+)\+0x")
    assert symbols
    for symbol in symbols:
        assert not demangle(symbol).startswith("_Z"), symbol


def test_plain_symbols_unchanged() -> None:
    for name in ("memcpy", "__x64_sys_read", "_raw_spin_lock", "_Rx", "_Z"):
        assert demangle(name) == name


def test_crashes_json() -> None:
    path = _corpus_log("exec_kmalloc")
    out = json.loads(json.dumps(crashes_json(str(path), parse_file(path))))
    assert out["file"] == str(path)
    (crash,) = out["crashes"]
    assert list(crash)[:4] == ["title", "class", "frame", "corrupted"]
    assert crash["class"] == "nx-execute"
    assert crash["frame"] == "execute_location"
    assert crash["registers"]["CR2"].startswith("0xffff")
    assert crash["stack"][0]["module"] == "lkdtm"
    assert crashes_json("empty.log", parse_log("")) == {"file": "empty.log", "crashes": []}
