"""bug-assertion: a BUG()/BUG_ON() or another kernel 'BUG:' check fired."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander

__all__ = ("RULE",)

_KERNEL_BUG = re.compile(r"kernel BUG at (?P<where>\S+?)!?$")
_BUG = re.compile(
    r"^BUG: (?!unable to handle|kernel NULL pointer|KASAN|KFENCE|soft lockup)(?P<what>.*)"
)


def evaluate(ctx: Context) -> Verdict | None:
    line = ctx.report_line(_KERNEL_BUG)
    generic = None if line else ctx.report_line(_BUG)
    if line is None and generic is None:
        return None
    if line is not None:
        m = _KERNEL_BUG.search(line.strip())
        where = m["where"] if m else "?"
        what = "kernel BUG"
        summary = (
            f"A BUG()/BUG_ON() assertion at {where} failed: the code found a state it declares "
            "impossible and stopped the kernel."
        )
        fact = line.strip()
    else:
        m = _BUG.search((generic or "").strip())
        what = f"BUG: {m['what'].strip()}" if m else "BUG"
        what = re.sub(r"[:,].*$", "", what) if ":" in what[5:] else what
        summary = f"The kernel reported '{(generic or '').strip()}': a kernel check failed."
        fact = (generic or "").strip()
        where = None
    return build_verdict(
        ctx,
        CrashClass.BUG_ASSERTION,
        what=what,
        summary=summary,
        evidence=[
            Evidence(claim="a kernel assertion failed", fact=fact, source="log"),
            ctx.evidence_rip(),
            ctx.evidence_frame(ctx.guilty_frame, "the assertion is in this function")
            if ctx.guilty_frame
            else None,
            ctx.evidence_panic(),
        ],
        next_steps=[
            f"Read the condition of the BUG_ON at {where} in the kernel source of this exact "
            "build and find which state violated it."
            if where
            else "Read the check that printed this BUG in the kernel source.",
        ],
        confidence="high" if ctx.exception is not None or line else "medium",
        confidence_reason="the kernel's own assertion message"
        + (" and the exception RIP agree" if ctx.exception is not None else ""),
        task_caused=False,
        explanation=bystander(ctx),
    )


RULE = Rule(crash_class=CrashClass.BUG_ASSERTION, evaluate=evaluate)
