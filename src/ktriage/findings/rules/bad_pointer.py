"""bad-pointer-dereference: a fault on a wild or stale pointer outside the NULL page."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander
from ktriage.findings.rules._fault import fault_evidence

__all__ = ("RULE",)

_LOG = re.compile(r"unable to handle (?:page fault|kernel paging request)|#PF: supervisor")


def evaluate(ctx: Context) -> Verdict | None:
    line = ctx.report_line(_LOG)
    if line is None:
        return None
    cr2 = ctx.fault_address
    owner = [a for a in ctx.facts.addresses if a.source == "cr2"]
    extra = f" The address belongs to: {owner[0].description}." if owner else ""
    return build_verdict(
        ctx,
        CrashClass.BAD_POINTER_DEREFERENCE,
        what="BUG: unable to handle kernel paging request",
        summary="Kernel code dereferenced an invalid pointer"
        + (f" (0x{cr2:x})" if cr2 is not None else "")
        + ": stale (freed or unmapped), uninitialised or corrupted."
        + extra,
        evidence=fault_evidence(ctx),
        next_steps=[
            "Identify the pointer's source in the faulting function and whether the memory it "
            "pointed to was freed or unmapped (kmem on CR2).",
        ],
        confidence="high" if ctx.exception is not None else "medium",
        confidence_reason="the kernel's page-fault report and the exception frame",
        task_caused=False,
        explanation=bystander(ctx),
    )


RULE = Rule(crash_class=CrashClass.BAD_POINTER_DEREFERENCE, evaluate=evaluate)
