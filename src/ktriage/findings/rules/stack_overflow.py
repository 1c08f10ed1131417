"""stack-overflow: a kernel stack ran past its end (guard page hit or end magic overwritten)."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander

__all__ = ("RULE",)

_LOG = re.compile(r"kernel stack overflow|stack guard page was hit|corrupted stack end detected")


def evaluate(ctx: Context) -> Verdict | None:
    line = ctx.report_line(_LOG)
    panic = ctx.facts.panic
    broken = [
        h for h in ctx.facts.stack_health
        if not h.ok and h.problem and h.problem.startswith("stack overflow")
    ]  # fmt: skip
    own = [h for h in broken if panic is not None and h.pid == panic.pid]
    if line is None and not own:
        return None
    evidence: list[Evidence | None] = []
    if line:
        evidence.append(
            Evidence(claim="the kernel detected a stack overflow", fact=line, source="log")
        )
    for health in own or broken[:1]:
        evidence.append(
            Evidence(
                claim=f"the kernel stack of PID {health.pid} ({health.comm}) ran past its end",
                fact=health.problem or "",
                source="stack",
            )
        )
    return build_verdict(
        ctx,
        CrashClass.STACK_OVERFLOW,
        what="kernel stack overflow",
        summary="A kernel stack grew past its end: deep or unbounded recursion, or large "
        "on-stack buffers.",
        evidence=[*evidence, ctx.evidence_panic()],
        next_steps=[
            "Look for a repeating pattern of frames in the backtrace (recursion).",
            "Check stack frame sizes of the functions involved (scripts/checkstack.pl).",
        ],
        confidence="high" if line and own else "medium",
        confidence_reason="the log and the end-of-stack magic agree"
        if line and own
        else "one sign of overflow (log or stack magic)",
        task_caused=False,
        explanation=bystander(ctx),
    )


RULE = Rule(crash_class=CrashClass.STACK_OVERFLOW, evaluate=evaluate)
