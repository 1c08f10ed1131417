"""sysrq-crash: someone asked for a crash with SysRq-c."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict

__all__ = ("RULE",)

_LOG = re.compile(r"sysrq: Trigger a crash|SysRq : Trigger a crash|sysrq triggered crash")


def evaluate(ctx: Context) -> Verdict | None:
    line = ctx.report_line(_LOG)
    if line is None:
        return None
    panic = ctx.facts.panic
    who = f"{panic.comm} (PID {panic.pid})" if panic and panic.comm else "a task or the console"
    return build_verdict(
        ctx,
        CrashClass.SYSRQ_CRASH,
        what="sysrq: crash triggered on request",
        summary=f"The crash was requested: {who} triggered SysRq-c (echo c > "
        "/proc/sysrq-trigger or the magic SysRq key). This is a deliberate dump, not a bug.",
        evidence=[
            Evidence(claim="SysRq-c was triggered", fact=line.strip(), source="log"),
            ctx.evidence_frame(ctx.guilty_frame, "the crash was raised here")
            if ctx.guilty_frame
            else None,
            ctx.evidence_panic(),
        ],
        next_steps=[
            "Ask who triggered it and why (a hang being debugged? a test?); if the system was "
            "hung, analyse the tasks in D state and the other CPUs' backtraces for the real "
            "problem.",
        ],
        confidence="high",
        confidence_reason="the kernel logged the SysRq request",
        task_caused=True,
        explanation=f"{who} deliberately triggered the crash through SysRq.",
    )


RULE = Rule(crash_class=CrashClass.SYSRQ_CRASH, evaluate=evaluate)
