"""
Renderers over every dump this machine has (shared and built corpora), each
analysed by ``ktriage.analyze`` with its matching vmlinux. The JSON must validate
against the schema and agree with crash's own output next to the dump; the text,
Markdown and HTML reports must hold every section in order.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from analyses import analysis_of
from corpus import CorpusDump
from test_report import SECTION_TITLES, crash_reference

from ktriage.findings.model import Analysis
from ktriage.report import render, render_ident
from ktriage.report.document import Document
from ktriage.report.schema import IDENT_JSON_SCHEMA, REPORT_JSON_SCHEMA

jsonschema = pytest.importorskip("jsonschema")


def _analysis(dump: CorpusDump) -> Analysis:
    assert dump.vmlinux is not None
    return analysis_of(dump, "dwarf")


def _reference(dump: CorpusDump) -> dict[str, Any]:
    if dump.crash_output is None:
        pytest.skip(f"no crash output next to {dump.dump}")
    return crash_reference(dump.crash_output)


def test_json_agrees_with_crash(vmlinux_dump: CorpusDump) -> None:
    ref = _reference(vmlinux_dump)
    data = json.loads(render(_analysis(vmlinux_dump), "json"))
    jsonschema.validate(data, REPORT_JSON_SCHEMA)
    assert data["kernel"]["release"] == ref["sys"]["RELEASE"]
    assert data["system"]["nodename"] == ref["sys"]["NODENAME"]
    assert data["system"]["tasks"] == int(ref["sys"]["TASKS"])
    assert data["dump"]["partial"] is ("[PARTIAL DUMP]" in ref["sys"]["DUMPFILE"])
    panic = data["panic"]
    assert (panic["pid"], panic["comm"], panic["cpu"], panic["task"]) == (
        ref["bt"]["pid"],
        ref["bt"]["comm"],
        ref["bt"]["cpu"],
        ref["bt"]["task"],
    )
    if ref["sys"]["PANIC"].startswith('"'):
        # crash may add a remark after the quoted string: (check log for details)
        quoted = ref["sys"]["PANIC"]
        assert panic["message"] == quoted[1 : quoted.rindex('"')]


def test_processes_are_crash_ps(vmlinux_dump: CorpusDump) -> None:
    ref = _reference(vmlinux_dump)
    data = json.loads(render(_analysis(vmlinux_dump), "json"))
    got = {
        p["task"]: (p["pid"], p["ppid"], p["cpu"], p["state"], p["comm"], p["active"])
        for p in data["processes"]
    }
    want = {
        r["task"]: (r["pid"], r["ppid"], r["cpu"], r["state"], r["comm"], r["active"])
        for r in ref["ps"]
    }
    # Some oracle outputs have a ps row garbled by interleaved console output:
    # every row crash printed cleanly must match, and the count must be crash's.
    assert {task: got.get(task) for task in want} == want
    assert len(got) == int(ref["sys"]["TASKS"])


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_sections_in_order(vmlinux_dump: CorpusDump, fmt: str) -> None:
    analysis = _analysis(vmlinux_dump)
    out = render(analysis, fmt, width=140)
    if fmt == "html":
        out = out[out.index("</nav>") :]
    positions = [out.index(title) for title in SECTION_TITLES]
    assert positions == sorted(positions)
    ref = _reference(vmlinux_dump)
    if fmt == "text" and ref["exception_rip"] is not None:
        function = ref["exception_rip"].partition("+")[0]
        bt = out[out.index("4. Backtrace") : out.index("Other CPUs (bt -a)")].splitlines()
        at = next(i for i, line in enumerate(bt) if f"[exception RIP: {function}+" in line)
        if ref["exception_after"] is not None:
            # As crash: the exception frame right after the frame that took it.
            frames = [line for line in bt[:at] if re.match(r"^\s*#\d+ \[", line)]
            assert frames[-1].split()[2].startswith(ref["exception_after"] + "+")


def test_ident_json_validates(corpus_dump: CorpusDump) -> None:
    from ktriage.source.ident import identify

    ident = identify(corpus_dump.dump)
    data = json.loads(render_ident(ident, "json"))
    jsonschema.validate(data, IDENT_JSON_SCHEMA)
    assert data["path"] == str(corpus_dump.dump)
    if corpus_dump.crash_output is not None:
        ref = crash_reference(corpus_dump.crash_output)
        assert data["release"] == ref["sys"]["RELEASE"]
        assert data["partial"] is ("[PARTIAL DUMP]" in ref["sys"]["DUMPFILE"])
    for fmt in ("text", "markdown"):
        assert str(ident.release) in render_ident(ident, fmt)


def test_blocked_tasks_are_crash_un_tasks(vmlinux_dump: CorpusDump) -> None:
    ref = _reference(vmlinux_dump)
    analysis = _analysis(vmlinux_dump)
    data = json.loads(render(analysis, "json"))
    sleeping = {row["task"] for row in ref["ps"] if row["state"] == "UN"}
    shown = {bt["task"] for bt in data["blocked"]}
    assert shown <= sleeping
    assert len(shown) == min(len(sleeping), len(data["blocked"]))
    text = render(analysis, "text", width=140)
    section = text[text.index("Tasks in uninterruptible sleep") : text.index("5. Processes")]
    if not sleeping:
        assert "No task was in uninterruptible sleep (UN)." in section
    for bt in data["blocked"]:
        assert f"PID: {bt['pid']:<8} TASK: {bt['task']}" in section


def _rich_text(document: Document, width: int) -> str:
    from ktriage.report.text import render_rich

    return render_rich(document, width=width)


def test_plain_layout_is_rich_layout(corpus_dump: CorpusDump) -> None:
    # Uncoloured text is laid out without rich when nothing wraps; it must be
    # character for character what rich prints.
    from ktriage.report.build import ident_document
    from ktriage.report.text import plain_layout
    from ktriage.source.ident import identify

    document = ident_document(identify(corpus_dump.dump))
    widths = [width for width in (80, 100, 200) if plain_layout(document, width) is not None]
    assert 200 in widths  # wide enough for every ident line
    for width in widths:
        assert plain_layout(document, width) == _rich_text(document, width)


def test_plain_layout_of_reports(vmlinux_dump: CorpusDump) -> None:
    # Reports hold log lines and disassembly that rich wraps; section by section,
    # the ones laid out without rich must match rich.
    from ktriage.report.build import analysis_document
    from ktriage.report.text import plain_layout

    document = analysis_document(_analysis(vmlinux_dump))
    compared = 0
    for section in document.sections:
        alone = Document(document.title, (section,))
        for width in (100, 160):
            plain = plain_layout(alone, width)
            if plain is not None:
                assert plain == _rich_text(alone, width), section.title
                compared += 1
    assert compared >= 5
