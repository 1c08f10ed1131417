"""
``ktriage analyze`` against the crash utility's answers on real dumps.

For every corpus dump: the panic task (PID, command, CPU, task address), the
panic message, the task count and set of (PID, command) agree with crash; the
functions of crash's ``bt`` appear in ktriage's backtrace in the same order; the
verdict class is the one the lkdtm scenario must give. Run on the DWARF tier
(when the vmlinux is on this machine) and on the BTF tier (no vmlinux at all).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from analyses import analysis_of
from corpus import FULL_CORPUS, CorpusDump, all_dumps, representative_dumps
from expectations import NX_SCENARIOS, SCENARIO_CLASS
from oracle import CrashOutput, parse_crash_output

from ktriage.findings.model import Analysis
from ktriage.report import render

# The DWARF tier (a 1-2 s load per dump) runs on one dump per kernel and
# scenario, the BTF tier on every dump; KTRIAGE_FULL_CORPUS=1 runs both on all.
_DWARF_DUMPS = {d.name for d in (all_dumps() if FULL_CORPUS else representative_dumps(all_dumps()))}


@functools.cache
def _oracle(path: Path) -> CrashOutput:
    return parse_crash_output(path)


@pytest.fixture(params=["dwarf", "btf"])
def analyzed(
    request: pytest.FixtureRequest, corpus_dump: CorpusDump
) -> tuple[Analysis, CrashOutput, CorpusDump]:
    if corpus_dump.crash_output is None:
        pytest.skip("no crash reference output for this dump")
    crash = _oracle(corpus_dump.crash_output)
    if not crash.sections.get("bt"):
        pytest.skip("the crash reference output has no bt section")
    if request.param == "dwarf":
        if corpus_dump.vmlinux is None:
            pytest.skip(f"no vmlinux for {corpus_dump.release} (run tests/vmcores/build)")
        if corpus_dump.name not in _DWARF_DUMPS:
            pytest.skip("DWARF tier: one dump per kernel and scenario (KTRIAGE_FULL_CORPUS=1)")
    analysis = analysis_of(corpus_dump, request.param)
    assert analysis.facts.debuginfo.tier == request.param
    return analysis, crash, corpus_dump


# GCC's clones of one function (get_partial_node.part.0): crash names some by
# the function, the symbol table by the clone.
_CLONE = re.compile(r"\.(?:part|isra|constprop)\.\d+$")

# Names of one address: 5.10's entry_64.S labels asm_call_on_stack's first
# instruction asm_call_sysvec_on_stack and asm_call_irq_on_stack too; crash, drgn's
# ELF symbols and kallsyms each pick another.
_ALIASES = {
    "asm_call_sysvec_on_stack": "asm_call_on_stack",
    "asm_call_irq_on_stack": "asm_call_on_stack",
}


def _function(name: str | None) -> str:
    plain = _CLONE.sub("", name or "?")
    return _ALIASES.get(plain, plain)


def _subsequence(needle: list[str], haystack: list[str]) -> bool:
    needle = [_function(n) for n in needle]
    haystack = [_function(h) for h in haystack]
    it = iter(haystack)
    return all(any(name == h for h in it) for name in needle)


def test_panic_task_agrees_with_crash(analyzed: tuple[Analysis, CrashOutput, CorpusDump]) -> None:
    analysis, crash, _ = analyzed
    panic = analysis.facts.panic
    assert panic is not None
    bt = crash.bt
    assert (panic.pid, panic.comm, panic.cpu) == (bt.pid, bt.comm, bt.cpu)
    assert panic.task == bt.task
    assert panic.message == crash.panic_message


def test_tasks_agree_with_crash(analyzed: tuple[Analysis, CrashOutput, CorpusDump]) -> None:
    analysis, crash, _ = analyzed
    system = analysis.facts.system
    assert system is not None
    assert system.tasks == int(crash.sys["TASKS"])
    ours = {(t.pid, t.comm) for t in analysis.facts.tasks}
    theirs = {(row.pid, row.comm) for row in crash.ps}
    assert ours == theirs
    active = {t.pid for t in analysis.facts.tasks if t.active and t.pid}
    assert active == {row.pid for row in crash.ps if row.active and row.pid}


def test_backtrace_contains_crash_frames_in_order(
    analyzed: tuple[Analysis, CrashOutput, CorpusDump],
) -> None:
    analysis, crash, _ = analyzed
    assert analysis.facts.backtrace is not None
    ours = [f.function or "?" for f in analysis.facts.backtrace.frames]
    assert _subsequence(crash.bt.functions, ours), (crash.bt.functions, ours)


def test_verdict_class(analyzed: tuple[Analysis, CrashOutput, CorpusDump]) -> None:
    analysis, _, dump = analyzed
    expected = SCENARIO_CLASS.get(dump.scenario)
    if expected is None:
        pytest.skip(f"no expectation for scenario {dump.scenario}")
    assert analysis.verdict.crash_class.value == expected, analysis.verdict.title


def test_nx_execute_blames_the_caller_not_the_task(
    analyzed: tuple[Analysis, CrashOutput, CorpusDump],
) -> None:
    analysis, crash, dump = analyzed
    if dump.scenario not in NX_SCENARIOS:
        pytest.skip("not a jump into data")
    verdict = analysis.verdict
    # crash's bt lists the frames below the exception; the first frame after
    # the exception entry is the function that made the call.
    functions = crash.bt.functions
    caller = functions[functions.index("asm_exc_page_fault") + 1]
    assert verdict.culprit.function == caller
    assert verdict.culprit.task_caused is False
    assert "bystander" in verdict.culprit.explanation
    assert caller in verdict.title
    exception = analysis.facts.backtrace.exception if analysis.facts.backtrace else None
    assert exception is not None and exception.rip_kind in ("direct-map", "vmalloc", "kernel-data")


def test_hung_task_blames_the_blocked_task(
    analyzed: tuple[Analysis, CrashOutput, CorpusDump],
) -> None:
    analysis, crash, dump = analyzed
    if dump.scenario != "HUNG_TASK":
        pytest.skip("not a hung task")
    culprit = analysis.verdict.culprit
    assert culprit.pid != crash.bt.pid  # khungtaskd only reported it
    blocked = {row.pid for row in crash.ps if row.state == "UN"}
    assert culprit.pid in blocked


def test_json_report_agrees(analyzed: tuple[Analysis, CrashOutput, CorpusDump]) -> None:
    analysis, crash, _ = analyzed
    doc = json.loads(render(analysis, "json"))
    assert doc["schema"] == "ktriage.report/1"
    assert doc["panic"]["pid"] == crash.bt.pid
    assert doc["panic"]["task"] == f"0x{crash.bt.task:x}"
    assert len(doc["processes"]) == len(crash.ps)
    assert doc["verdict"]["class"] == analysis.verdict.crash_class.value
    assert doc["signature"] == analysis.signature


def test_ps_rows_agree_with_crash(analyzed: tuple[Analysis, CrashOutput, CorpusDump]) -> None:
    analysis, crash, _ = analyzed
    ours = {(t.pid, t.comm): t for t in analysis.facts.tasks}
    mismatches = []
    for row in crash.ps:
        task = ours[(row.pid, row.comm)]
        got = (
            task.ppid,
            task.cpu,
            task.task,
            task.state,
            task.rss_bytes // 1024,
            task.vsz_bytes // 1024,
            task.mem_percent,
        )
        want = (row.ppid, row.cpu, row.task, row.state, row.rss_kb, row.vsz_kb, row.mem_percent)
        if got != want:
            mismatches.append((row.pid, row.comm, got, want))
    assert not mismatches


def test_dwarf_tier_with_btf_types_is_the_dwarf_tier(crash_dump: CorpusDump) -> None:
    """Types from the dump's BTF first (the default) change nothing in the report
    against every type from the DWARF (``--dwarf-types``) but one debuginfo note."""
    if crash_dump.vmlinux is None:
        pytest.skip(f"no vmlinux for {crash_dump.release}")
    docs = []
    for tier in ("dwarf", "dwarf-types"):
        doc = json.loads(render(analysis_of(crash_dump, tier), "json"))
        notes = doc["debuginfo"]["notes"]
        docs.append(doc)
        doc["debuginfo"]["notes"] = [n for n in notes if not n.startswith(_BTF_TYPES_NOTE)]
        assert (len(notes) - len(doc["debuginfo"]["notes"])) == (tier == "dwarf")
    assert docs[0] == docs[1]


_BTF_TYPES_NOTE = "types from the kernel's BTF"


def test_btf_tier_concludes_like_dwarf(crash_dump: CorpusDump) -> None:
    """With no vmlinux at all, the same verdict, culprit and signature (as with
    every type from DWARF)."""
    if crash_dump.vmlinux is None:
        pytest.skip(f"no vmlinux for {crash_dump.release}")
    dwarf, btf = analysis_of(crash_dump, "dwarf-types"), analysis_of(crash_dump, "btf")
    for analysis in (dwarf, btf):
        assert analysis.facts.debuginfo.tier in ("dwarf", "btf")
    assert btf.verdict.crash_class == dwarf.verdict.crash_class
    assert btf.verdict.title == dwarf.verdict.title
    assert btf.verdict.culprit == dwarf.verdict.culprit
    assert btf.signature == dwarf.signature
    assert btf.facts.panic == dwarf.facts.panic
    real = [
        [f.function for f in a.facts.backtrace.frames if not f.inline]
        for a in (dwarf, btf)
        if a.facts.backtrace
    ]
    assert len(real) == 2
    assert [_function(f) for f in real[0]] == [_function(f) for f in real[1]]
