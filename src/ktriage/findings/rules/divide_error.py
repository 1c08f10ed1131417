"""divide-error: integer division by zero or overflow in kernel code (#DE)."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.DIVIDE_ERROR,
    re.compile(r"divide error:|Oops: divide error"),
    what="divide error",
    summary="Kernel code divided by zero (or the quotient overflowed): the CPU raised #DE.",
    claim="the CPU raised a divide error",
    next_steps=["Find the division at the faulting RIP and where its divisor comes from."],
)
