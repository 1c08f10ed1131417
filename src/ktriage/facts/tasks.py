"""
Tasks
-----

What crash's ``ps`` shows, one row per thread.
"""

from dataclasses import dataclass

from ktriage.facts.base import Hex, Record

__all__ = ("TaskFacts",)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class TaskFacts(Record):
    """One task (thread)."""

    pid: int
    tgid: int
    ppid: int
    cpu: int
    task: Hex
    state: str
    """crash's two-letter state: RU, IN, UN, ID, ST, TR, ZO, DE, ..."""
    comm: str
    active: bool
    """Whether the task was running on its CPU when the dump was taken."""
    kernel_thread: bool
    rss_bytes: int = 0
    vsz_bytes: int = 0
    mem_percent: float = 0.0
    stack_base: Hex | None = None
    """Bottom of the task's kernel stack (``task->stack``)."""
