"""
Kernel log
----------

Records of the printk ring buffer, or lines of a text log.
"""

from dataclasses import dataclass

from ktriage.facts.base import Record

__all__ = ("LogRecord",)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class LogRecord(Record):
    """One kernel log record."""

    text: str
    timestamp_ns: int | None = None
    level: int | None = None
    seq: int | None = None
    caller: str | None = None
    """``T123`` (task 123) or ``C1`` (CPU 1), when recorded."""

    def format(self) -> str:
        """The record as ``dmesg``/vmcore-dmesg print it: ``[    1.234567] text``."""
        if self.timestamp_ns is None:
            return self.text
        sec, nsec = divmod(self.timestamp_ns, 1_000_000_000)
        return f"[{sec:5d}.{nsec // 1000:06d}] {self.text}"
