"""
``render_oops`` on real logs: the shared corpus console logs and syzkaller's oops-dev
logs (one holding no crash, one marked corrupted, one with a title), parsed by
``ktriage.oops``. The renderer must carry every report the parser found, in order,
with nothing invented.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from corpus import OOPS_DEV, SHARED_CORPUS

from ktriage.facts import OopsReport, to_jsonable
from ktriage.oops import parse_file
from ktriage.report import render_oops
from ktriage.report.schema import OOPS_JSON_SCHEMA

jsonschema = pytest.importorskip("jsonschema")


def _header(path: Path) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep:
            header.setdefault(key.strip(), value.strip())
    return header


def _first_dev(predicate: Any, *, empty: bool = False) -> Path | None:
    """The first oops-dev log whose header matches (and, with ``empty``, holding no
    report for the parser: the renderer is tested, not the parser)."""
    for path in sorted(OOPS_DEV.glob("*.txt"), key=lambda p: int(p.stem)):
        if predicate(_header(path)) and (not empty or not parse_file(path)):
            return path
    return None


@cache
def _inputs() -> tuple[tuple[str, tuple[OopsReport, ...]], ...]:
    paths = [
        *sorted(SHARED_CORPUS.glob("*/*/console.log"))[:2],
        _first_dev(lambda h: "TITLE" not in h, empty=True),
        _first_dev(lambda h: h.get("CORRUPTED") == "Y"),
        _first_dev(lambda h: "TITLE" in h and "CORRUPTED" not in h),
    ]
    found = [p for p in paths if p is not None]
    if len(found) < 4:
        pytest.skip(f"needs console logs in {SHARED_CORPUS} and logs in {OOPS_DEV}")
    return tuple((str(p), tuple(parse_file(p))) for p in found)


def test_json_is_one_object_per_file_in_order() -> None:
    inputs = _inputs()
    data = json.loads(render_oops(inputs, "json"))
    jsonschema.Draft202012Validator.check_schema(OOPS_JSON_SCHEMA)
    jsonschema.validate(data, OOPS_JSON_SCHEMA)
    assert [entry["file"] for entry in data] == [name for name, _ in inputs]
    for entry, (_name, reports) in zip(data, inputs, strict=True):
        assert len(entry["crashes"]) == len(reports)
        for crash, report in zip(entry["crashes"], reports, strict=True):
            expected = to_jsonable(report)
            expected["class"] = expected.pop("crash_class")
            assert crash == expected


def test_json_has_an_empty_list_for_a_log_without_crash() -> None:
    inputs = _inputs()
    no_crash = [name for name, reports in inputs if not reports]
    assert no_crash, "the oops-dev file without TITLE holds no crash"
    data = json.loads(render_oops(inputs, "json"))
    assert all(entry["crashes"] == [] for entry in data if entry["file"] in no_crash)


def test_json_keeps_corruption_and_addresses_as_hex_strings() -> None:
    inputs = _inputs()
    data = json.loads(render_oops(inputs, "json"))
    crashes = [crash for entry in data for crash in entry["crashes"]]
    assert any(crash["corrupted"] for crash in crashes)
    for crash in crashes:
        assert all(value.startswith("0x") for value in crash["registers"].values())
        assert all(frame["address"].startswith("0x") for frame in crash["stack"])


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_text_and_markdown_list_every_file_and_report(fmt: str) -> None:
    inputs = _inputs()
    out = render_oops(inputs, fmt)
    if fmt == "markdown":
        out = out.replace("\\", "")
    positions = []
    for name, reports in inputs:
        heading = f"{name}: {len(reports)} crash report"
        assert heading in out
        positions.append(out.index(heading))
        section = out[positions[-1] :]
        for report in reports:
            line = f"lines {report.start_line + 1}-{report.end_line}: "
            line += f"[{report.crash_class.value}] {report.title}"
            assert line in " ".join(section.split()), line
        if not reports:
            first = next(line for line in section.splitlines()[1:] if line.strip())
            assert "No crash report found." in first
    assert positions == sorted(positions)
    assert out.count("No crash report found.") == sum(1 for _, r in inputs if not r)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render_oops(_inputs(), "html")
