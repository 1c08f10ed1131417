"""
Rule modules
------------

One module per crash class. ``RULES`` lists them from the most specific class to
the least: a BUG raised by list debugging is memory corruption before it is a
BUG assertion; a double fault on a stack guard page is a stack overflow before
it is a double fault.
"""

from ktriage.findings.rule import Rule
from ktriage.findings.rules import (
    bad_pointer,
    bug_assertion,
    divide_error,
    double_fault,
    explicit_panic,
    gpf,
    hard_lockup,
    hung_task,
    invalid_opcode,
    machine_check,
    memory_corruption,
    null_pointer,
    nx_execute,
    oom,
    rcu_stall,
    soft_lockup,
    stack_overflow,
    sysrq,
    use_after_free,
    warning_panic,
    write_readonly,
)

__all__ = ("RULES",)

RULES: tuple[Rule, ...] = (
    machine_check.RULE,
    stack_overflow.RULE,
    double_fault.RULE,
    use_after_free.RULE,
    memory_corruption.RULE,
    nx_execute.RULE,
    write_readonly.RULE,
    null_pointer.RULE,
    bad_pointer.RULE,
    gpf.RULE,
    divide_error.RULE,
    bug_assertion.RULE,
    invalid_opcode.RULE,
    soft_lockup.RULE,
    hard_lockup.RULE,
    rcu_stall.RULE,
    hung_task.RULE,
    oom.RULE,
    warning_panic.RULE,
    sysrq.RULE,
    explicit_panic.RULE,
)
