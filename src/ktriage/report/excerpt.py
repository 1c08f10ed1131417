"""
Log excerpt
-----------

Which kernel log records a report shows: the oops block that started the panic,
the records before it, and the tail of the log. Every format shows the same
excerpt; this module is small so that the JSON renderer needs nothing else of
the document builder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ktriage.facts import CrashFacts, LogRecord

__all__ = ("LOG_CONTEXT_LINES", "LOG_TAIL_LINES", "log_excerpt")

LOG_CONTEXT_LINES = 20
"""Log records shown before the oops block."""

LOG_TAIL_LINES = 40
"""Log records shown when no oops block can be located in the log."""


def _oops_span(facts: CrashFacts) -> tuple[int, int] | None:
    """Where the oops block that started the panic lies in ``facts.log``."""
    log = facts.log
    wanted = facts.panic.oops if facts.panic is not None else None
    reports = sorted(facts.oopses, key=lambda o: o.start_line)
    if wanted:
        reports.sort(key=lambda o: not (o.lines and wanted.strip() in o.lines[0]))
    for report in reports:
        if (
            0 <= report.start_line < report.end_line <= len(log)
            and report.lines
            and report.lines[0].strip()
            and report.lines[0].strip() in log[report.start_line].text
        ):
            return report.start_line, report.end_line
    if wanted and wanted.strip():
        for start, record in enumerate(log):
            if wanted.strip() in record.text:
                return start, len(log)
    return None


def log_excerpt(
    facts: CrashFacts,
) -> tuple[tuple[LogRecord, ...], tuple[LogRecord, ...], tuple[LogRecord, ...]]:
    """
    The log as the report shows it: (records before the oops, the oops block, the
    tail of the log). The first two are empty when no oops block can be located.
    """
    log = facts.log
    tail = log[-LOG_TAIL_LINES:]
    span = _oops_span(facts)
    if span is None:
        return (), (), tail
    start, end = span
    return log[max(0, start - LOG_CONTEXT_LINES) : start], log[start:end], tail
