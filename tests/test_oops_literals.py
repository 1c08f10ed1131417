"""
The literal prefilter of table regexes (``required_literals``): a text that holds
none of a pattern's literals is never matched by it, checked for every title and
class rule of the oops tables on every oops-dev log, and on hand-made cases.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pytest
from corpus import OOPS_DEV

from ktriage.oops import formats as F
from ktriage.oops.engine import compile_pattern, required_literals


@lru_cache(maxsize=1)
def _logs() -> tuple[str, ...]:
    return tuple(p.read_bytes().decode("utf-8", "replace") for p in sorted(OOPS_DEV.glob("*.txt")))


def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for oops in F.OOPSES:
        for fmt in oops.formats:
            out.append((fmt.title, compile_pattern(fmt.title)))
    for rule in F.CLASS_RULES:
        if rule.title:
            out.append((rule.title, re.compile(rule.title)))
        if rule.report:
            out.append((rule.report, re.compile(rule.report, re.MULTILINE)))
    return out


def test_no_match_without_a_literal() -> None:
    logs = _logs()
    if not logs:
        pytest.skip(f"no oops-dev logs in {OOPS_DEV}")
    assert len(logs) > 300
    prefiltered = 0
    for pattern, regex in _patterns():
        literals = required_literals(pattern)
        if literals is None:
            continue
        prefiltered += 1
        for text in logs:
            if not any(lit in text for lit in literals):
                assert regex.search(text) is None, (pattern, literals)
    assert prefiltered > 100  # most table titles start with plain text


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("BUG: KASAN:", ("BUG: KASAN:",)),
        ("^BUG: unable to handle|^Internal error", ("BUG: unable to handle", "Internal error")),
        ("BUG: (?:unable|Unable) to", ("BUG: ",)),
        ("WARNING: .*lib/kobject", ("WARNING: ",)),
        ("colou?r", ("colo",)),
        ("ab*c", ("a",)),
        ("in {{FUNC:func}}", ("in",)),
        ("(?i)bug: x", None),
        ("(?=x)y", None),
        ("a|(?:b)", None),
        ("{{RIP}}", None),
        ("x\\(y\\)", ("x",)),
        ("[|]|z", None),  # the "|" in brackets is no alternation; "[" is no text
        ("z|[|]", None),
        ("ab|c[|]", ("ab", "c")),
        ("(a|b)c", None),
    ],
)
def test_literals(pattern: str, expected: tuple[str, ...] | None) -> None:
    assert required_literals(pattern) == expected
