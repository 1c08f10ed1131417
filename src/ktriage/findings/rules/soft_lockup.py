"""soft-lockup: a CPU ran kernel code without scheduling for too long."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.SOFT_LOCKUP,
    re.compile(r"BUG: soft lockup|softlockup: hung tasks"),
    what="BUG: soft lockup",
    summary="A CPU stayed in kernel code without scheduling for longer than the watchdog "
    "threshold (kernel.watchdog_thresh x 2): a loop that never yields or a lock that is never "
    "released.",
    claim="the soft-lockup watchdog fired",
    next_steps=[
        "Look at the stuck CPU's backtrace: the loop or the lock it spins on.",
        "If it spins on a lock, find the holder (crash: bt -a, search the lock address).",
    ],
)
