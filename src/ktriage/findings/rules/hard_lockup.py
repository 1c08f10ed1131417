"""hard-lockup: a CPU stopped taking interrupts (NMI watchdog)."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.HARD_LOCKUP,
    re.compile(r"hard LOCKUP|Hard LOCKUP|NMI watchdog: Watchdog detected hard"),
    what="hard lockup",
    summary="A CPU ran with interrupts disabled for too long; the NMI watchdog detected it.",
    claim="the NMI watchdog detected a hard lockup",
    next_steps=["Find the code that disabled interrupts: the NMI backtrace of the locked CPU."],
)
