"""out-of-memory: the kernel panicked because memory ran out."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.OUT_OF_MEMORY,
    re.compile(
        r"Kernel panic - not syncing: (?:Out of memory|System is deadlocked on memory)|"
        r"Out of memory and no killable processes"
    ),
    what="out of memory",
    summary="Memory ran out and the OOM policy (panic_on_oom, or nothing left to kill) "
    "brought the kernel down.",
    claim="the OOM killer could not free memory",
    next_steps=[
        "Read the OOM report's memory summary and task list in the log: who used the memory.",
        "Check vm.panic_on_oom and cgroup limits.",
    ],
)
