"""warning-panic: a WARN() became a panic (panic_on_warn)."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.WARNING_PANIC,
    re.compile(r"Kernel panic - not syncing: (?:panic_on_warn set|kernel: panic_on_warn set)"),
    what="WARNING",
    summary="A kernel WARN() fired and panic_on_warn turned it into a panic. The warning "
    "names a violated kernel invariant.",
    claim="panic_on_warn turned a warning into a panic",
    next_steps=["Read the WARNING line: file:line names the check that failed."],
)
