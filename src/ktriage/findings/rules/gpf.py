"""general-protection-fault: #GP, usually a non-canonical (wild) pointer."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander
from ktriage.findings.rules._fault import fault_evidence

__all__ = ("RULE",)

_LOG = re.compile(r"general protection fault")


def evaluate(ctx: Context) -> Verdict | None:
    line = ctx.report_line(_LOG)
    if line is None:
        return None
    noncanon = ctx.report_line(re.compile(r"probably for non-canonical address (0x[0-9a-f]+)"))
    return build_verdict(
        ctx,
        CrashClass.GENERAL_PROTECTION_FAULT,
        what="general protection fault",
        summary="The CPU raised a general protection fault in kernel code, typically on a "
        "non-canonical address: a garbage or poisoned pointer (e.g. list poison "
        "0xdead000000000100 or a freed object's contents).",
        evidence=[
            *fault_evidence(ctx),
            Evidence(claim="the address was not canonical", fact=noncanon.strip(), source="log")
            if noncanon
            else None,
        ],
        next_steps=[
            "Look at the registers for poison patterns (0x6b6b..., 0xdead...) that point to "
            "use after free or list corruption.",
        ]
        + ([f"The kernel named the address: {noncanon.strip()}"] if noncanon else []),
        confidence="high" if ctx.exception is not None else "medium",
        confidence_reason="the kernel's #GP report",
        task_caused=False,
        explanation=bystander(ctx),
    )


RULE = Rule(crash_class=CrashClass.GENERAL_PROTECTION_FAULT, evaluate=evaluate)
