"""
JSON renderer
-------------

The report as one JSON object (``"schema": "ktriage.report/1"``, described by
:data:`ktriage.report.schema.REPORT_SCHEMA`), the ``ktriage oops`` list and the
``ktriage ident`` object. Values come from :func:`ktriage.facts.to_jsonable`:
addresses are ``"0x..."`` strings and absent values are ``null``. Nothing is left
out: every fact the analysis collected is in the object.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ktriage import __version__
from ktriage.facts import SCHEMA, to_jsonable
from ktriage.report.excerpt import log_excerpt

if TYPE_CHECKING:
    from ktriage.facts import DumpIdentity, OopsReport
    from ktriage.findings.model import Analysis

__all__ = (
    "IDENT_SCHEMA",
    "OOPS_SCHEMA",
    "analysis_json",
    "dumps",
    "ident_json",
    "oops_json",
    "oops_report_json",
)

OOPS_SCHEMA = "ktriage.oops/1"
"""Version of the ``ktriage oops`` JSON (a list of per-file objects)."""

IDENT_SCHEMA = "ktriage.ident/1"
"""Version of the ``ktriage ident`` JSON."""


def dumps(value: Any) -> str:
    """Serialize as the renderers do: indented, UTF-8 kept, trailing newline.

    orjson writes the same text as ``json.dumps(indent=2, ensure_ascii=False)``
    fifty times faster (0.6 ms instead of 28 for an analysis, whose indented
    layout the standard library does in Python); what it refuses (integers
    beyond 64 bits) goes through the standard library.
    """
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return text.decode() + "\n"


def _dump(ident: DumpIdentity) -> dict[str, Any]:
    dump: dict[str, Any] = to_jsonable(ident)
    for key in ("release", "build_id", "arch"):
        dump.pop(key)
    return dump


def analysis_json(analysis: Analysis) -> dict[str, Any]:
    """The whole report as plain JSON types."""
    facts = analysis.facts
    ident = facts.ident
    system = facts.system
    verdict = analysis.verdict
    before, block, tail = log_excerpt(facts)
    verdict_json: dict[str, Any] = {
        "class": verdict.crash_class.value,
        "title": verdict.title,
        "culprit": to_jsonable(verdict.culprit),
        "summary": verdict.summary,
        "evidence": to_jsonable(verdict.evidence),
        "next_steps": list(verdict.next_steps),
        "confidence": verdict.confidence,
        "confidence_reason": verdict.confidence_reason,
    }
    return {
        "schema": SCHEMA,
        "tool": {"name": "ktriage", "version": __version__},
        "kernel": {
            "release": ident.release,
            "version": system.version if system is not None else None,
            "build_id": ident.build_id,
            "arch": ident.arch,
        },
        "dump": _dump(ident),
        "debuginfo": to_jsonable(facts.debuginfo),
        "system": to_jsonable(system),
        "panic": to_jsonable(facts.panic),
        "backtrace": to_jsonable(facts.backtrace),
        "cpus": to_jsonable(facts.cpus),
        "blocked": to_jsonable(facts.blocked),
        "processes": to_jsonable(facts.tasks),
        "addresses": to_jsonable(facts.addresses),
        "disassembly": list(facts.disassembly),
        "stack_health": to_jsonable(facts.stack_health),
        "log": {
            "records": len(facts.log),
            "before": [r.format() for r in before],
            "oops": [r.format() for r in block],
            "tail": [r.format() for r in tail],
            "all": to_jsonable(facts.log),
        },
        "oopses": [oops_report_json(o) for o in facts.oopses],
        "unreadable": list(facts.unreadable),
        "verdict": verdict_json,
        "signature": analysis.signature,
    }


def oops_report_json(report: OopsReport) -> dict[str, Any]:
    """One crash report found in a log."""
    data: dict[str, Any] = to_jsonable(report)
    data["class"] = data.pop("crash_class")
    return data


def oops_json(results: Sequence[tuple[str, Sequence[OopsReport]]]) -> list[dict[str, Any]]:
    """``ktriage oops FILE...``: an object per input file, its crashes in order."""
    return [
        {"file": name, "crashes": [oops_report_json(report) for report in reports]}
        for name, reports in results
    ]


def ident_json(ident: DumpIdentity) -> dict[str, Any]:
    """``ktriage ident``: the dump identity, with its schema name."""
    return {"schema": IDENT_SCHEMA, **to_jsonable(ident)}
