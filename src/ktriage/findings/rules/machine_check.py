"""machine-check: the CPU reported a hardware error (MCE)."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.MACHINE_CHECK,
    re.compile(r"Machine check|mce: \[Hardware Error\]|Kernel panic - not syncing: .*MCE"),
    what="machine check exception",
    summary="The processor reported an uncorrectable hardware error (Machine Check Exception); "
    "the kernel could not recover. This is a hardware or firmware problem first.",
    claim="the CPU raised a machine check",
    next_steps=[
        "Decode the MCE banks (mcelog --ascii or rasdaemon) to find the failing component.",
        "Check the BMC/IPMI event log and DIMM error counters; run a memory test.",
        "Update the BIOS/microcode; move the workload off this host until checked.",
    ],
    task_caused=False,
    explanation="A hardware error is not caused by the running task.",
)
