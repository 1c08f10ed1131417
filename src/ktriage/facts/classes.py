"""
Crash classes
-------------

The closed set of crash classes a verdict can name. Kept sorted; add new ones
with care, since they are part of the report schema and of signatures.
"""

import enum

__all__ = ("CrashClass",)


class CrashClass(enum.Enum):
    """What kind of failure brought the kernel down."""

    # keep-sorted start
    BAD_POINTER_DEREFERENCE = "bad-pointer-dereference"
    BUG_ASSERTION = "bug-assertion"
    DIVIDE_ERROR = "divide-error"
    DOUBLE_FAULT = "double-fault"
    EXPLICIT_PANIC = "explicit-panic"
    GENERAL_PROTECTION_FAULT = "general-protection-fault"
    HARD_LOCKUP = "hard-lockup"
    HUNG_TASK = "hung-task"
    INVALID_OPCODE = "invalid-opcode"
    MACHINE_CHECK = "machine-check"
    MEMORY_CORRUPTION = "memory-corruption"
    NULL_POINTER_DEREFERENCE = "null-pointer-dereference"
    NX_EXECUTE = "nx-execute"
    OUT_OF_MEMORY = "out-of-memory"
    RCU_STALL = "rcu-stall"
    SOFT_LOCKUP = "soft-lockup"
    STACK_OVERFLOW = "stack-overflow"
    SYSRQ_CRASH = "sysrq-crash"
    UNKNOWN = "unknown"
    USE_AFTER_FREE = "use-after-free"
    WARNING_PANIC = "warning-panic"
    WRITE_TO_READONLY = "write-to-readonly"
    # keep-sorted end
