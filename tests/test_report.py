"""
Renderer tests on a real dump.

The Analysis comes from ``ktriage.analyze.analyze_path`` on the real shared dump of
the lkdtm EXCEPTION scenario with its vmlinux. Expected values are read from crash's
own output next to the dump (``crash-8.0.6.txt``), never written into the test.
"""

from __future__ import annotations

import json
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from corpus import SHARED_CORPUS

from ktriage.analyze import AnalyzeOptions, analyze_path
from ktriage.facts import Hex
from ktriage.findings.model import Analysis
from ktriage.report import FORMATS, render, render_ident
from ktriage.report.build import LOG_CONTEXT_LINES, log_excerpt, panic_task
from ktriage.report.schema import IDENT_JSON_SCHEMA, REPORT_JSON_SCHEMA

jsonschema = pytest.importorskip("jsonschema")

RELEASE = "6.1.0-56-amd64"
SCENARIO_DIR = SHARED_CORPUS / RELEASE / "exception"
DUMP = SCENARIO_DIR / "vmcore.mkdf-c-d31"
CRASH_OUTPUT = SCENARIO_DIR / "crash-8.0.6.txt"
VMLINUX_CANDIDATES = (
    Path(f"/var/cache/ktriage/kernels/{RELEASE}/vmlinux"),
    Path(f"/usr/lib/debug/boot/vmlinux-{RELEASE}"),
)

SECTION_TITLES = (
    "1. Identification",
    "2. System (sys)",
    "3. Panic",
    "4. Backtrace (bt, bt -a)",
    "5. Processes (ps)",
    "6. Addresses (kmem)",
    "7. Code (dis -rl)",
    "8. Stack health (bt -v)",
    "9. Kernel log",
    "10. Verdict",
)


def _vmlinux() -> Path | None:
    return next((p for p in VMLINUX_CANDIDATES if p.is_file()), None)


_SYS_LINE = re.compile(
    r"^\s*(KERNEL|DUMPFILE|CPUS|DATE|UPTIME|LOAD AVERAGE|TASKS|NODENAME|RELEASE|VERSION|"
    r"MACHINE|MEMORY|PANIC): (.*)$"
)
_BT_HEADER = re.compile(r'^PID: (\d+)\s+TASK: ([0-9a-f]+)\s+CPU: (\d+)\s+COMMAND: "(.*)"$')
_PS_ROW = re.compile(
    r"^([> ])\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{16})\s+([A-Z]{2})\s+[\d.]+\s+\d+\s+\d+\s+(.*)$"
)


@cache
def crash_reference(path: Path = CRASH_OUTPUT) -> dict[str, Any]:
    """
    What crash printed for a dump: ``sys`` fields, the ``bt`` header of the panic
    task, its exception RIP (``None`` when it has none) with the function of the frame
    printed just before it, and the ``ps`` rows. Read by
    patterns, so it also works on oracle outputs without clean command markers.
    """
    lines = path.read_text(errors="replace").splitlines()
    sys_fields: dict[str, str] = {}
    for line in lines:
        m = _SYS_LINE.match(line)
        if m:
            sys_fields.setdefault(m[1], m[2].strip())
    bt_index, bt = next((i, m) for i, m in enumerate(_BT_HEADER.match(line) for line in lines) if m)
    exception_rip = exception_after = None
    previous = None
    for line in lines[bt_index + 1 :]:
        if _BT_HEADER.match(line) or line.startswith("==="):
            break
        m = re.search(r"\[exception RIP: (\S+)\]", line)
        if m:
            exception_rip, exception_after = m[1], previous
            break
        frame = re.match(r"^\s*#\d+ \[[0-9a-f]+\] (\S+) at ", line)
        if frame:
            previous = frame[1]
    ps = [
        {
            "active": m[1] == ">",
            "pid": int(m[2]),
            "ppid": int(m[3]),
            "cpu": int(m[4]),
            "task": "0x" + m[5].lstrip("0"),
            "state": m[6],
            "comm": m[7].strip().removeprefix("[").removesuffix("]"),
        }
        for m in (_PS_ROW.match(line) for line in lines)
        if m
    ]
    return {
        "sys": sys_fields,
        "bt": {"pid": int(bt[1]), "task": "0x" + bt[2], "cpu": int(bt[3]), "comm": bt[4]},
        "exception_rip": exception_rip,
        "exception_after": exception_after,
        "ps": ps,
    }


def _crash_reference() -> dict[str, Any]:
    return crash_reference(CRASH_OUTPUT)


@cache
def _analysis() -> Analysis:
    vmlinux = _vmlinux()
    if not DUMP.is_file() or vmlinux is None:
        pytest.skip(f"needs {DUMP} and the vmlinux of {RELEASE}")
    return analyze_path(DUMP, AnalyzeOptions(vmlinux=vmlinux, debuginfod=False))


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    return _analysis()


@pytest.fixture(scope="module")
def report_json(analysis: Analysis) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(analysis, "json"))
    return data


# ---------------------------------------------------------------- JSON


def test_json_validates_against_schema(report_json: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(REPORT_JSON_SCHEMA)
    jsonschema.validate(report_json, REPORT_JSON_SCHEMA)
    assert report_json["schema"] == "ktriage.report/1"


def test_json_panic_matches_crash(report_json: dict[str, Any]) -> None:
    ref = _crash_reference()
    panic = report_json["panic"]
    assert panic["pid"] == ref["bt"]["pid"]
    assert panic["comm"] == ref["bt"]["comm"]
    assert panic["cpu"] == ref["bt"]["cpu"]
    assert panic["task"] == ref["bt"]["task"]
    assert ref["sys"]["PANIC"].strip('"') == panic["message"]


def test_json_kernel_and_system_match_crash(report_json: dict[str, Any]) -> None:
    ref = _crash_reference()["sys"]
    assert report_json["kernel"]["release"] == ref["RELEASE"]
    assert report_json["kernel"]["version"] == ref["VERSION"]
    assert report_json["kernel"]["arch"] == ref["MACHINE"].split()[0]
    assert report_json["system"]["nodename"] == ref["NODENAME"]
    assert report_json["system"]["tasks"] == int(ref["TASKS"])
    assert report_json["dump"]["partial"] is ("[PARTIAL DUMP]" in ref["DUMPFILE"])


def test_json_processes_are_crash_ps(report_json: dict[str, Any]) -> None:
    ref = _crash_reference()["ps"]
    processes = report_json["processes"]
    assert len(processes) == len(ref) == int(_crash_reference()["sys"]["TASKS"])
    by_task = {p["task"]: p for p in processes}
    for row in ref:
        got = by_task[row["task"]]
        assert (got["pid"], got["ppid"], got["cpu"], got["state"], got["comm"]) == (
            row["pid"],
            row["ppid"],
            row["cpu"],
            row["state"],
            row["comm"],
        )
        assert got["active"] is row["active"]


def test_json_backtrace_and_exception(report_json: dict[str, Any]) -> None:
    ref = _crash_reference()
    backtrace = report_json["backtrace"]
    assert backtrace["pid"] == ref["bt"]["pid"]
    assert backtrace["frames"], "the panic task has frames"
    for index, frame in enumerate(backtrace["frames"]):
        assert frame["index"] == index
        assert frame["address"].startswith("0x")
    exception = backtrace["exception"]
    function = ref["exception_rip"].partition("+")[0]
    assert exception["rip_symbol"].startswith(function + "+")
    assert exception["rip_kind"] == "module-text"
    assert all(v.startswith("0x") for v in exception["registers"].values())


def test_json_cpus_cover_every_cpu(report_json: dict[str, Any]) -> None:
    cpus = int(_crash_reference()["sys"]["CPUS"].split()[0])
    assert sorted(c["cpu"] for c in report_json["cpus"]) == list(range(cpus))


def test_json_log_block_holds_oops(analysis: Analysis, report_json: dict[str, Any]) -> None:
    log = report_json["log"]
    assert log["records"] == len(analysis.facts.log) > 0
    assert analysis.facts.panic is not None and analysis.facts.panic.oops
    assert analysis.facts.panic.oops in log["oops"][0]
    assert 0 < len(log["before"]) <= LOG_CONTEXT_LINES
    assert re.match(r"\[\s*\d+\.\d{6}\] ", log["oops"][0])


def test_json_verdict(analysis: Analysis, report_json: dict[str, Any]) -> None:
    verdict = report_json["verdict"]
    assert verdict["class"] == analysis.verdict.crash_class.value
    assert verdict["evidence"][0]["fact"] == analysis.verdict.evidence[0].fact
    assert report_json["signature"] == analysis.signature


# ---------------------------------------------------------------- text, Markdown, HTML


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_every_section_heading_present(analysis: Analysis, fmt: str) -> None:
    out = render(analysis, fmt, width=120)
    positions = []
    for title in SECTION_TITLES:
        assert title in out, title
        positions.append(out.index(title))
    assert positions == sorted(positions), "sections are in the expert's order"


def test_text_has_no_ansi_without_color(analysis: Analysis) -> None:
    assert "\x1b[" not in render(analysis, "text", width=120)
    assert "\x1b[" in render(analysis, "text", width=120, color=True)


def test_text_lists_every_task_and_marks_active(analysis: Analysis) -> None:
    out = render(analysis, "text", width=160)
    ps = out[out.index("5. Processes") : out.index("6. Addresses")]
    for row in _crash_reference()["ps"]:
        line = next((ln for ln in ps.splitlines() if f"0x{row['task'][2:]}" in ln.split()), None)
        assert line is not None, row
        assert line.lstrip().startswith(">") is row["active"]


def test_text_backtrace_shows_exception_rip(analysis: Analysis) -> None:
    out = render(analysis, "text", width=160)
    bt = out[out.index("4. Backtrace") : out.index("5. Processes")]
    function = _crash_reference()["exception_rip"].partition("+")[0]
    assert f"[exception RIP: {function}+" in bt
    assert "module text" in bt
    assert f"PID: {_crash_reference()['bt']['pid']}" in bt


def test_panic_task_row_found(analysis: Analysis) -> None:
    task = panic_task(analysis.facts)
    assert task is not None
    assert task.pid == _crash_reference()["bt"]["pid"]


def test_log_excerpt_is_in_log_order(analysis: Analysis) -> None:
    before, block, _tail = log_excerpt(analysis.facts)
    log = analysis.facts.log
    start = log.index(block[0])
    assert log[start - len(before) : start] == before


def test_html_escapes_log_lines(analysis: Analysis) -> None:
    out = render(analysis, "html")
    assert out.startswith("<!DOCTYPE html>")
    assert "<script" not in out and "http://" not in out and "https://" not in out
    _before, block, _tail = log_excerpt(analysis.facts)
    raw = [r.format() for r in block if "<" in r.text or "&" in r.text]
    assert raw, "the oops block of this dump has '<' or '&' (e.g. '<TASK>')"
    for line in raw:
        assert line not in out
        escaped = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped.replace('"', "&quot;").replace("'", "&#x27;") in out


def test_html_parses_back_to_the_log_lines(analysis: Analysis) -> None:
    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.pre: list[str] = []
            self.depth = 0
            self.tags: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)
            if tag == "pre":
                self.depth += 1
                self.pre.append("")

        def handle_endtag(self, tag: str) -> None:
            if tag == "pre":
                self.depth -= 1

        def handle_data(self, data: str) -> None:
            if self.depth:
                self.pre[-1] += data

    parser = Collect()
    parser.feed(render(analysis, "html"))
    parser.close()
    assert parser.depth == 0
    assert not {"script", "link", "img", "iframe"} & set(parser.tags)
    _before, block, _tail = log_excerpt(analysis.facts)
    assert "\n".join(r.format() for r in block) in parser.pre


def test_markdown_escapes_table_cells(analysis: Analysis) -> None:
    out = render(analysis, "markdown")
    for line in out.splitlines():
        if line.startswith("| "):
            cells = re.split(r"(?<!\\)\|", line)
            assert cells[0] == "" and cells[-1] == ""


def test_unknown_format_is_refused(analysis: Analysis) -> None:
    assert set(FORMATS) == {"text", "markdown", "json", "html"}
    with pytest.raises(ValueError, match="unknown format"):
        render(analysis, "pdf")


# ---------------------------------------------------------------- ident


def test_ident_json_and_text(analysis: Analysis) -> None:
    ident = analysis.facts.ident
    data = json.loads(render_ident(ident, "json"))
    jsonschema.validate(data, IDENT_JSON_SCHEMA)
    ref = _crash_reference()["sys"]
    assert data["release"] == ref["RELEASE"]
    assert data["partial"] is ("[PARTIAL DUMP]" in ref["DUMPFILE"])
    text = render_ident(ident, "text")
    assert ref["RELEASE"] in text
    if ident.kaslr_offset is not None:
        assert str(Hex(ident.kaslr_offset)) in text
    assert "| **Release** |" in render_ident(ident, "markdown")
