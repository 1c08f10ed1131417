"""
Title agreement on the oops-dev corpus: real kernel console logs, each with the
expected title of its main crash in a ``TITLE:`` header (no ``TITLE`` means
the log holds no crash).

Current mismatches are listed in ``KNOWN_FAILURES`` and marked
``xfail(strict=True)``: fixing one makes its test XPASS and fail, so the list
must be updated with the fix.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from corpus import OOPS_DEV

from ktriage.facts import CrashClass
from ktriage.oops import parse_log

# Titles produced by a fuzzer's own tooling, not by the kernel: not scored.
UNSCORED_PREFIXES = ("SYZFAIL", "SYZFATAL", "go runtime error")

# Agreement reached on the development half (percent, rounded down).
MIN_AGREEMENT = 98

# Minimum speed over the whole corpus (files per second), far below what is
# measured (about 300/s on one core) so a loaded machine does not fail it.
MIN_FILES_PER_SECOND = 40

KNOWN_FAILURES: dict[str, str] = {
    "323.txt": "GPF report cut by another CPU's output; expected 'corrupted', we find a frame",
    "381.txt": "driver message 'usb 5-1: WARNING: ...' is not at line start: not taken as a crash",
    "597.txt": "KFENCE memory corruption in a KUnit test: expected the test runner frame",
    "719.txt": "RCU stall whose stack is all preemption noise: expected 'corrupted'",
    "751.txt": "KMSAN in the DRBG: expected the caller past the random-number generator",
}


@dataclass(frozen=True)
class Case:
    name: str
    expected: str | None
    log: str
    type: str | None = None


def _load(path: Path) -> Case:
    raw = path.read_text(encoding="utf-8", errors="replace")
    # Header lines, an empty line, the log (a file without header starts empty).
    head, _, log = ("", "", raw[1:]) if raw.startswith("\n") else raw.partition("\n\n")
    fields: dict[str, str] = {}
    for line in head.splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, value)
    return Case(name=path.name, expected=fields.get("TITLE"), log=log, type=fields.get("TYPE"))


def _cases() -> list[Case]:
    if not OOPS_DEV.is_dir():
        return []
    paths = sorted(OOPS_DEV.glob("*.txt"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    return [_load(p) for p in paths]


CASES = _cases()
SCORED = [c for c in CASES if not (c.expected or "").startswith(UNSCORED_PREFIXES)]
needs_corpus = pytest.mark.skipif(not CASES, reason=f"no oops-dev corpus at {OOPS_DEV}")


def _title(case: Case) -> str | None:
    reports = parse_log(case.log)
    return reports[0].title if reports else None


def _params() -> list[object]:
    params: list[object] = []
    for case in SCORED:
        marks = []
        if case.name in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[case.name], strict=True))
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


@needs_corpus
@pytest.mark.parametrize("case", _params())
def test_title(case: Case) -> None:
    assert _title(case) == case.expected


@needs_corpus
def test_known_failures_exist() -> None:
    names = {c.name for c in SCORED}
    assert set(KNOWN_FAILURES) <= names


@needs_corpus
def test_agreement_and_speed() -> None:
    start = time.perf_counter()
    titles = {c.name: _title(c) for c in CASES}
    elapsed = time.perf_counter() - start
    agree = sum(1 for c in SCORED if titles[c.name] == c.expected)
    percent = 100 * agree / len(SCORED)
    assert math.floor(percent) >= MIN_AGREEMENT, f"{agree}/{len(SCORED)} = {percent:.1f}%"
    assert len(CASES) / elapsed >= MIN_FILES_PER_SECOND


@needs_corpus
def test_unscored_titles_are_still_found() -> None:
    # The fuzzer's own failures are crashes too; they are only not scored.
    unscored = [c for c in CASES if (c.expected or "").startswith(("SYZFAIL", "SYZFATAL"))]
    assert unscored
    for case in unscored:
        assert _title(case) == case.expected


# The corpus's coarse impact type (TYPE header) -> the classes that agree with it.
_HANGS = {
    CrashClass.HUNG_TASK,
    CrashClass.RCU_STALL,
    CrashClass.SOFT_LOCKUP,
    CrashClass.HARD_LOCKUP,
}
_FREES = {CrashClass.USE_AFTER_FREE}
TYPE_CLASSES: dict[str, set[CrashClass]] = {
    "HANG": _HANGS,
    "KASAN-USE-AFTER-FREE-READ": _FREES,
    "KASAN-USE-AFTER-FREE-WRITE": _FREES,
    "KFENCE-USE-AFTER-FREE-READ": _FREES,
    "KASAN-INVALID-FREE": _FREES,
    "KFENCE-INVALID-FREE": _FREES,
    "NULL-POINTER-DEREFERENCE": {CrashClass.NULL_POINTER_DEREFERENCE},
    "KASAN-NULL-POINTER-DEREFERENCE-READ": {CrashClass.NULL_POINTER_DEREFERENCE},
    "LEAK": {CrashClass.OUT_OF_MEMORY},
    "ATOMIC_SLEEP": {CrashClass.BUG_ASSERTION},
}


@needs_corpus
def test_class_agrees_with_type() -> None:
    checked = 0
    wrong = []
    for case in SCORED:
        allowed = TYPE_CLASSES.get(case.type or "")
        if allowed is None or case.name in KNOWN_FAILURES:
            continue
        checked += 1
        reports = parse_log(case.log)
        if reports[0].crash_class not in allowed:
            wrong.append((case.name, case.type, reports[0].crash_class.value))
    assert checked > 100
    assert wrong == []
