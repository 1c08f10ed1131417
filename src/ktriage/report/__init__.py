"""
Report
------

Renderers: they lay out what the facts and the verdict say, in four formats
(``text`` for a terminal, ``markdown`` for a ticket, ``json`` for machines, ``html``
for a single self-contained page). They never decide anything.

The analysis report follows the order an expert works in: identification, ``sys``,
panic, ``bt``/``bt -a``, ``ps``, ``kmem``, ``dis -rl``, ``bt -v``, ``log``, verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ktriage.facts import DumpIdentity, OopsReport
    from ktriage.findings.model import Analysis
    from ktriage.report.document import Document

# Builders and renderers are imported by the function that needs them: a command
# pays start-up time only for its own output (``ktriage ident`` needs neither the
# analysis report builder nor rich for JSON).

__all__ = (
    "FORMATS",
    "IDENT_FORMATS",
    "OOPS_FORMATS",
    "render",
    "render_ident",
    "render_oops",
)

FORMATS = ("text", "markdown", "json", "html")
"""Formats of :func:`render`."""

OOPS_FORMATS = ("text", "markdown", "json")
"""Formats of :func:`render_oops`."""

IDENT_FORMATS = ("text", "markdown", "json")
"""Formats of :func:`render_ident`."""


def _check(fmt: str, allowed: Sequence[str]) -> None:
    if fmt not in allowed:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(allowed)}")


def _layout(document: Document, fmt: str, width: int | None, color: bool) -> str:
    if fmt == "markdown":
        from ktriage.report.markdown import render_markdown

        return render_markdown(document)
    if fmt == "html":
        from ktriage.report.html import render_html

        return render_html(document)
    from ktriage.report.text import render_text

    return render_text(document, width=width, color=color)


def render(analysis: Analysis, fmt: str, *, width: int | None = None, color: bool = False) -> str:
    """
    The report for one crash in ``fmt`` (one of :data:`FORMATS`). ``width`` and
    ``color`` apply to ``text`` only; without ``color`` the text has no ANSI codes.
    Raises :class:`ValueError` for an unknown format.
    """
    _check(fmt, FORMATS)
    if fmt == "json":
        from ktriage.report.jsondoc import analysis_json, dumps

        return dumps(analysis_json(analysis))
    from ktriage.report.build import analysis_document

    return _layout(analysis_document(analysis), fmt, width, color)


def render_oops(results: Sequence[tuple[str, Sequence[OopsReport]]], fmt: str) -> str:
    """
    ``ktriage oops FILE...``: for each (file name, reports) pair, the crash reports
    found in it. ``json`` is a list with one ``{"file", "crashes"}`` object per file.
    """
    _check(fmt, OOPS_FORMATS)
    if fmt == "json":
        from ktriage.report.jsondoc import dumps, oops_json

        return dumps(oops_json(results))
    from ktriage.report.build import oops_document

    return _layout(oops_document(results), fmt, None, False)


def render_ident(ident: DumpIdentity, fmt: str) -> str:
    """``ktriage ident``: what a dump is, from its headers and VMCOREINFO."""
    _check(fmt, IDENT_FORMATS)
    if fmt == "json":
        from ktriage.report.jsondoc import dumps, ident_json

        return dumps(ident_json(ident))
    from ktriage.report.build import ident_document

    return _layout(ident_document(ident), fmt, None, False)
