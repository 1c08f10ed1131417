"""
Renderers on a crash known only from its console log (no dump, debuginfo tier
``none``): every section is still there, and those without data say in one line
why instead of vanishing or showing placeholders.

The Analysis comes from ``ktriage.analyze.analyze_path`` on the real console log of
the shared EXCEPTION scenario.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from corpus import SHARED_CORPUS
from test_report import SECTION_TITLES

from ktriage.analyze import analyze_path
from ktriage.facts import CrashFacts
from ktriage.findings.model import Analysis
from ktriage.report import render
from ktriage.report.schema import REPORT_JSON_SCHEMA

jsonschema = pytest.importorskip("jsonschema")

CONSOLE = SHARED_CORPUS / "6.1.0-56-amd64" / "exception" / "console.log"

EMPTY_SECTIONS: dict[str, tuple[str, Callable[[CrashFacts], object]]] = {
    "2. System (sys)": ("No system state:", lambda f: f.system),
    "4. Backtrace (bt, bt -a)": ("No backtrace:", lambda f: f.backtrace),
    "5. Processes (ps)": ("No task list:", lambda f: f.tasks),
    "6. Addresses (kmem)": ("No address ownership:", lambda f: f.addresses),
    "7. Code (dis -rl)": ("No disassembly:", lambda f: f.disassembly),
    "8. Stack health (bt -v)": ("No stack checks:", lambda f: f.stack_health),
}
"""Sections that can be empty for a log: the line that says so, and their facts."""


@cache
def _analysis() -> Analysis:
    if not CONSOLE.is_file():
        pytest.skip(f"needs {CONSOLE}")
    return analyze_path(CONSOLE)


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    return _analysis()


def _sections(out: str, titles: list[str]) -> dict[str, str]:
    starts = [out.index(title) for title in titles]
    ends = [*starts[1:], len(out)]
    return {title: out[s:e] for title, s, e in zip(titles, starts, ends, strict=True)}


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_empty_sections_say_why_in_one_line(analysis: Analysis, fmt: str) -> None:
    out = render(analysis, fmt, width=200)
    if fmt == "html":
        out = out[out.index("</nav>") :]
    sections = _sections(out, list(SECTION_TITLES))
    empty = 0
    for title, (opening, collected) in EMPTY_SECTIONS.items():
        lines = [line for line in sections[title].splitlines() if opening in line]
        if collected(analysis.facts):
            assert not lines, (title, lines)
            continue
        empty += 1
        assert len(lines) == 1, (title, sections[title])
        assert len(lines[0].partition(opening)[2].strip()) > 10, "the line says why"
    assert empty >= 3, "a log gives no task list, addresses or stack checks"


def test_json_has_nulls_and_empty_lists(analysis: Analysis) -> None:
    data: dict[str, Any] = json.loads(render(analysis, "json"))
    jsonschema.validate(data, REPORT_JSON_SCHEMA)
    assert data["dump"]["format"] == "text"
    assert data["debuginfo"]["tier"] == "none"
    assert data["system"] is None
    assert data["processes"] == [] and data["cpus"] == [] and data["addresses"] == []
    assert data["kernel"]["release"] == analysis.facts.ident.release
    main = analysis.facts.oopses[0]
    assert data["oopses"][0]["title"] == main.title
    assert data["verdict"]["class"] == analysis.verdict.crash_class.value


def test_log_section_shows_the_oops_block(analysis: Analysis) -> None:
    data: dict[str, Any] = json.loads(render(analysis, "json"))
    main = analysis.facts.oopses[0]
    assert data["log"]["oops"], "the oops block is located in the log"
    assert main.lines[0].strip() in data["log"]["oops"][0]
    text = render(analysis, "text", width=200)
    log = text[text.index("9. Kernel log") : text.index("10. Verdict")]
    assert "Oops block" in log
    assert main.title in log


def test_absent_values_are_dash_in_text_and_null_in_json(analysis: Analysis) -> None:
    ident = analysis.facts.ident
    absent = {
        "Compression": ident.compression,
        "Dump level": ident.dump_level,
        "Page size": ident.page_size,
        "KASLR offset": ident.kaslr_offset,
    }
    assert any(value is None for value in absent.values()), "a log has no dump headers"
    data: dict[str, Any] = json.loads(render(analysis, "json"))
    text = render(analysis, "text", width=120)
    ident_text = text[text.index("1. Identification") : text.index("2. System")]
    for label, value in absent.items():
        key = label.lower().replace(" ", "_")
        if value is None:
            assert data["dump"][key] is None
            assert re.search(rf"^\s*{label}:\s+-$", ident_text, re.MULTILINE), label
