"""hung-task: a task stayed in uninterruptible sleep (D state) too long."""

import re

from ktriage.facts import Backtrace, CrashClass
from ktriage.findings.context import Context, is_never_blamed
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict
from ktriage.oops.skip import HUNG_TASK_SKIP

__all__ = ("RULE",)

_LOG = re.compile(
    r"INFO: task (?P<comm>.+):(?P<pid>\d+) blocked for more than (?P<secs>\d+) seconds"
)
_SLEEP = re.compile("|".join(f"(?:{p})" for p in HUNG_TASK_SKIP))


def _blocked_frame(bt: Backtrace) -> tuple[str | None, str | None]:
    for frame in bt.frames:
        name = frame.function
        if frame.inline or not name:
            continue
        if not _SLEEP.search(name) and not is_never_blamed(name):
            return name, frame.module
    return None, None


def evaluate(ctx: Context) -> Verdict | None:
    line = ctx.report_line(_LOG)
    panic_line = ctx.facts.panic.message if ctx.facts.panic else None
    if line is None and not (panic_line and "hung_task" in panic_line):
        return None
    m = _LOG.search(line or "")
    pid = int(m["pid"]) if m else None
    comm = m["comm"] if m else None
    bt = next((b for b in ctx.facts.blocked if b.pid == pid), None)
    function = module = None
    evidence: list[Evidence | None] = []
    if line:
        evidence.append(
            Evidence(
                claim="the hung-task detector named the blocked task",
                fact=line.strip(),
                source="log",
            )
        )
    if bt is not None:
        function, module = _blocked_frame(bt)
        real = [f.function or "?" for f in bt.frames if not f.inline]
        frames = " <- ".join(real[:6])
        evidence.append(
            Evidence(
                claim=f"PID {pid} sleeps uninterruptibly here", fact=frames, source="backtrace"
            )
        )
    elif ctx.report is not None and ctx.report.frame:
        function = ctx.report.frame
    evidence.append(ctx.evidence_panic())
    panic = ctx.facts.panic
    detector = f"{panic.comm} (PID {panic.pid})" if panic and panic.comm else "khungtaskd"
    return build_verdict(
        ctx,
        CrashClass.HUNG_TASK,
        what="INFO: task hung",
        summary=f"{comm or 'A task'} (PID {pid if pid is not None else '?'}) stayed in "
        "uninterruptible sleep longer than kernel.hung_task_timeout_secs and "
        f"hung_task_panic brought the kernel down. {detector} only reported it.",
        evidence=evidence,
        next_steps=[
            "Find what the blocked task waits for (the lock, I/O or completion in its "
            "backtrace) and who holds it or should complete it.",
            "List every task in UN state (crash: foreach UN bt) for a common lock.",
        ],
        confidence="high" if bt is not None else "medium",
        confidence_reason="the detector's message and the blocked task's stack in the dump"
        if bt is not None
        else "the detector's message only",
        task_caused=False,
        explanation=f"The blocked task {comm} (PID {pid}) is where to look; {detector}, the "
        "panicking task, is the watchdog that noticed it.",
        culprit_function=function,
        culprit_module=module,
        culprit_pid=pid,
        culprit_comm=comm,
    )


RULE = Rule(crash_class=CrashClass.HUNG_TASK, evaluate=evaluate)
