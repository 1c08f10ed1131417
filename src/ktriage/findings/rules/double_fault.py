"""double-fault: an exception occurred while the CPU was delivering another."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.DOUBLE_FAULT,
    re.compile(r"double fault|traps: PANIC: double fault"),
    what="double fault",
    summary="The CPU faulted while handling an earlier exception (double fault). The usual "
    "cause is a corrupted stack pointer or an overflowed kernel stack.",
    claim="the kernel reported a double fault",
    next_steps=[
        "Check RSP in the report against the task's stack bounds (stack overflow?).",
        "Look for deep recursion in the backtrace.",
    ],
)
