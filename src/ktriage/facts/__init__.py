"""
Facts
-----

Frozen, typed, JSON-serializable records: the contract between ``source``/``oops``
(which produce them) and ``findings``/``report`` (which consume them).
``SCHEMA`` names the version of the JSON they make.
"""

from dataclasses import dataclass, field

from ktriage.facts.base import Hex, to_jsonable
from ktriage.facts.classes import CrashClass
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


@dataclass(frozen=True, kw_only=True)
class CrashFacts:
    """Everything collected from one crash (a dump, or a log alone)."""

    ident: DumpIdentity
    debuginfo: DebuginfoFacts
    system: SystemFacts | None = None
    panic: PanicFacts | None = None
    backtrace: Backtrace | None = None
    cpus: tuple[CpuContext, ...] = ()
    blocked: tuple[Backtrace, ...] = ()
    """Backtraces of tasks in uninterruptible sleep (``UN``), as ``foreach UN bt``."""
    tasks: tuple[TaskFacts, ...] = ()
    addresses: tuple[AddressFacts, ...] = ()
    disassembly: tuple[str, ...] = ()
    """``dis -rl`` lines for the faulting function up to the faulting address."""
    stack_health: tuple[StackHealth, ...] = ()
    log: tuple[LogRecord, ...] = ()
    oopses: tuple[OopsReport, ...] = ()
    """Crash reports found in the log."""
    unreadable: tuple[str, ...] = field(default_factory=tuple)
    """What could not be read, one line each (partial dumps, missing pages)."""
