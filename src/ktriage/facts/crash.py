"""
Crash facts
-----------

:class:`CrashFacts`: every fact collected from one crash, the input of the findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ktriage.facts.base import Record
from ktriage.facts.debuginfo import DebuginfoFacts
from ktriage.facts.ident import DumpIdentity
from ktriage.facts.log import LogRecord
from ktriage.facts.memory import AddressFacts, StackHealth
from ktriage.facts.oops import OopsReport
from ktriage.facts.panic import PanicFacts
from ktriage.facts.stack import Backtrace, CpuContext
from ktriage.facts.system import SystemFacts
from ktriage.facts.tasks import TaskFacts

__all__ = ("CrashFacts",)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class CrashFacts(Record):
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
