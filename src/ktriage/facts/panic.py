"""
Panic facts
-----------

What brought the kernel down, as crash's ``sys`` PANIC line and ``bt`` header show it.
"""

from dataclasses import dataclass

from ktriage.facts.base import Hex, Record

__all__ = ("PanicFacts",)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class PanicFacts(Record):
    """The panic and the task that panicked."""

    message: str | None
    """The panic string as crash prints it, e.g. ``Kernel panic - not syncing: Fatal
    exception``; on a kdump taken at an oops, the oops line."""
    oops: str | None = None
    """The first line of the report that started it (``BUG: ...``, ``Oops: ...``)."""
    cpu: int | None = None
    pid: int | None = None
    comm: str | None = None
    task: Hex | None = None
    state: str | None = None
