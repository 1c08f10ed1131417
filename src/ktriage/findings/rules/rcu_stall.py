"""rcu-stall: an RCU grace period could not complete."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.RCU_STALL,
    re.compile(
        r"rcu: INFO: .* detected stall|rcu_(?:sched|preempt|bh) detected stall|"
        r"INFO: rcu_.* (?:detected|self-detected) stall"
    ),
    what="INFO: rcu detected stall",
    summary="A CPU or task did not pass through an RCU quiescent state in time: a CPU looping "
    "in kernel code with preemption off, or a task stuck in an RCU read-side section.",
    claim="RCU reported a stall",
    next_steps=["Look at the backtraces printed for the stalled CPUs/tasks in the log."],
)
