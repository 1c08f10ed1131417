"""The JSON renderer's text: what ``json.dumps(indent=2)`` writes, only faster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus import SHARED_CORPUS

from ktriage.analyze import analyze_text
from ktriage.report.jsondoc import analysis_json, dumps

LOGS = sorted(SHARED_CORPUS.glob("*/*/vmcore-dmesg.txt"))


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.parent.name)
def test_same_text_as_the_standard_library(log: Path) -> None:
    value = analysis_json(analyze_text(log))
    assert dumps(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def test_what_orjson_refuses_goes_through_the_standard_library() -> None:
    value = {"big": 1 << 70, "text": "é", 3: [1.5, None, True]}
    assert dumps(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    assert json.loads(dumps(value))["big"] == 1 << 70


def test_integer_keys_and_floats_as_the_standard_library() -> None:
    value = {"a": {3: [1.5, 0.25, 123.0, -1, 18446744073709551615]}, "b": []}
    assert dumps(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"
