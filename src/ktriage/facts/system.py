"""
System facts
------------

What crash's ``sys`` shows.
"""

from dataclasses import dataclass

from ktriage.facts.base import Record

__all__ = ("SystemFacts", "TaintFlag")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class TaintFlag(Record):
    """One set bit of ``tainted_mask`` (include/linux/panic.h)."""

    bit: int
    letter: str
    """The letter in ``Tainted: G        OE``."""
    meaning: str
    """What it means, in words."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class SystemFacts(Record):
    """Machine and kernel state at the time of the crash."""

    nodename: str | None = None
    release: str | None = None
    version: str | None = None
    """``init_uts_ns.name.version``, e.g. ``#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (...)``."""
    machine: str | None = None
    cpus: int | None = None
    """Possible CPUs."""
    cpus_online: int | None = None
    date: int | None = None
    """Seconds since the epoch at the crash (timekeeper's xtime)."""
    uptime_s: float | None = None
    load_avg: tuple[float, float, float] | None = None
    tasks: int | None = None
    """Number of tasks (threads), as crash counts them, including each CPU's idle task."""
    memory_bytes: int | None = None
    """Total RAM (``totalram_pages`` plus reserved, as crash's MEMORY)."""
    tainted: int = 0
    """Raw ``tainted_mask``."""
    taint_flags: tuple[TaintFlag, ...] = ()
