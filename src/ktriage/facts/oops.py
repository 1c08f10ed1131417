"""
Oops reports
------------

A crash report found in kernel log text (console log, dmesg, vmcore-dmesg.txt).
"""

from dataclasses import dataclass, field

from ktriage.facts.base import Hex, Record
from ktriage.facts.classes import CrashClass
from ktriage.facts.stack import Frame

__all__ = ("OopsReport",)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class OopsReport(Record):
    """One crash report parsed out of a log."""

    title: str
    """``<what happened> in <guilty function>``, e.g. ``KASAN: use-after-free Read in
    tcp_v6_rcv``."""
    crash_class: CrashClass
    frame: str | None
    """The guilty function, or ``None`` when none could be chosen."""
    kind: str = ""
    """The format that matched (e.g. ``KASAN``, ``BUG``, ``WARNING``)."""
    alt_titles: tuple[str, ...] = ()
    corrupted: bool = False
    corrupted_reason: str | None = None
    start_line: int = 0
    """0-based index of the report's first line in the input."""
    end_line: int = 0
    """0-based index one past the report's last line."""
    lines: tuple[str, ...] = ()
    """The report's lines, with log prefixes stripped."""
    registers: dict[str, Hex] = field(default_factory=dict)
    stack: tuple[Frame, ...] = ()
    cpu: int | None = None
    pid: int | None = None
    comm: str | None = None
    tainted: str | None = None
    """The taint string, e.g. ``G        OE``."""
    release: str | None = None
    """Kernel release from the ``CPU: ... Comm: ... 6.1.0 #1`` line, if present."""
    fault_address: Hex | None = None
    """CR2 or the address the report names."""
