"""invalid-opcode: the CPU hit an undefined instruction (#UD) that is not a BUG()."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.rule import log_pattern_rule

__all__ = ("RULE",)

RULE = log_pattern_rule(
    CrashClass.INVALID_OPCODE,
    re.compile(r"invalid opcode:"),
    what="invalid opcode",
    summary="The CPU executed an undefined instruction in kernel mode. When no 'kernel BUG "
    "at' line precedes it, this is corrupted code or a jump into the middle of an instruction.",
    claim="the CPU raised an invalid opcode exception",
    next_steps=["Compare the Code: bytes in the report with the vmlinux disassembly."],
)
