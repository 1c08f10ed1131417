"""
Facts
-----

Frozen, typed, JSON-serializable records: the contract between ``source``/``oops``
(which produce them) and ``findings``/``report`` (which consume them).
``SCHEMA`` names the version of the JSON they make.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ktriage.facts.base import Hex, to_jsonable
    from ktriage.facts.classes import CrashClass
    from ktriage.facts.crash import CrashFacts
    from ktriage.facts.debuginfo import DebuginfoFacts, Tier
    from ktriage.facts.ident import DumpIdentity
    from ktriage.facts.log import LogRecord
    from ktriage.facts.memory import AddressFacts, StackHealth
    from ktriage.facts.oops import OopsReport
    from ktriage.facts.panic import PanicFacts
    from ktriage.facts.stack import Backtrace, CpuContext, ExceptionFrame, Frame, RipKind
    from ktriage.facts.system import SystemFacts, TaintFlag
    from ktriage.facts.tasks import TaskFacts

__all__ = (
    "SCHEMA",
    "AddressFacts",
    "Backtrace",
    "CpuContext",
    "CrashClass",
    "CrashFacts",
    "DebuginfoFacts",
    "DumpIdentity",
    "ExceptionFrame",
    "Frame",
    "Hex",
    "LogRecord",
    "OopsReport",
    "PanicFacts",
    "RipKind",
    "StackHealth",
    "SystemFacts",
    "TaintFlag",
    "TaskFacts",
    "Tier",
    "to_jsonable",
)

SCHEMA = "ktriage.report/1"

# Each name is imported from its module on first use (PEP 562), so that a command
# that needs one record (``ktriage ident``) does not build every dataclass.
_HOMES = {
    "Hex": "base",
    "to_jsonable": "base",
    "CrashClass": "classes",
    "CrashFacts": "crash",
    "DebuginfoFacts": "debuginfo",
    "Tier": "debuginfo",
    "DumpIdentity": "ident",
    "LogRecord": "log",
    "AddressFacts": "memory",
    "StackHealth": "memory",
    "OopsReport": "oops",
    "PanicFacts": "panic",
    "Backtrace": "stack",
    "CpuContext": "stack",
    "ExceptionFrame": "stack",
    "Frame": "stack",
    "RipKind": "stack",
    "SystemFacts": "system",
    "TaintFlag": "system",
    "TaskFacts": "tasks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
