"""
What a correct analysis must conclude for each kind of lkdtm crash.

The class follows from what the lkdtm test does (drivers/misc/lkdtm), not from
any one dump: a new dump of the same scenario on another kernel must give the
same class.
"""

from __future__ import annotations

# lkdtm crash type (or corpus scenario name) -> verdict class.
SCENARIO_CLASS = {
    "EXEC_DATA": "nx-execute",
    "EXEC_KMALLOC": "nx-execute",
    "EXEC_VMALLOC": "nx-execute",
    "EXEC_STACK": "nx-execute",
    "EXEC_RODATA": "nx-execute",
    "EXCEPTION": "null-pointer-dereference",
    "BUG": "bug-assertion",
    "PANIC": "explicit-panic",
    "WRITE_AFTER_FREE": "use-after-free",
    "READ_AFTER_FREE": "use-after-free",
    "SOFTLOCKUP": "soft-lockup",
    "HARDLOCKUP": "hard-lockup",
    "HUNG_TASK": "hung-task",
    "SYSRQ": "sysrq-crash",
    "SYSRQ_C": "sysrq-crash",
    "KDUMP": "sysrq-crash",
    "KDUMP_OOPS": "null-pointer-dereference",
    "CORRUPT_LIST_ADD": "memory-corruption",
    "CORRUPT_LIST_DEL": "memory-corruption",
    "WRITE_RO": "write-to-readonly",
    "WRITE_KERN": "write-to-readonly",
    "EXHAUST_STACK": "stack-overflow",
    "WARNING": "warning-panic",
    "UNALIGNED_LOAD_STORE_WRITE": "unknown",
}

# Scenarios where the kernel jumped into data: the culprit is the caller and
# the running task is a bystander.
NX_SCENARIOS = {"EXEC_DATA", "EXEC_KMALLOC", "EXEC_VMALLOC", "EXEC_STACK", "EXEC_RODATA"}
