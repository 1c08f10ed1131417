"""
``NameMatcher`` (the never-blame lists answered by string operations where the
pattern is plain) against the regex alternation it replaces, on every function
name of the oops-dev logs, the patterns' own bodies and a few edge names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import pytest
from corpus import OOPS_DEV

from ktriage.oops import formats as F
from ktriage.oops import skip as S
from ktriage.oops.engine import NameMatcher

_NAME = re.compile(r"\b([A-Za-z_][A-Za-z0-9_.]*)\+0x")

EDGE_NAMES = (
    "",
    "panic",
    "xpanic_y",
    "do_page_fault",
    "do_page_fault2",
    "__do_page_fault",
    "x_do_page_fault",
    "die",
    "died",
    "undie",
    "rb_",
    "rb",
    "xrb_insert",
    "crc32",
    "crc",
    "crc32_le",
    "aes_encrypt",
    "aes_crypt",
    "aesni_decrypt",
    "cleanup_srcu_struct",
    "init_srcu_struct_x",
    "kfree",
    "kfree_rcu",
    "el1h_64_sync_handler",
    "core::panicking::panic_fmt",
    "core::result::unwrap_failed",
    "<T as core::fmt::Debug>::fmt",
    "foo.cold",
    "print_report",
    "print_report.isra.0",
    "x_print_report",
)


def stack_rule_lists() -> dict[str, tuple[str, ...]]:
    """Every distinct pattern list a stack rule uses, as ``_Stack.skip`` builds it."""
    lists: dict[str, tuple[str, ...]] = {"NEVER_BLAME": S.NEVER_BLAME}
    for oops in F.OOPSES:
        for number, fmt in enumerate(oops.formats):
            if fmt.stack is None:
                continue
            patterns = (*S.NEVER_BLAME, *fmt.stack.skip)
            if patterns not in lists.values():
                lists[f"{oops.kind}-{number}"] = patterns
    return lists


LISTS = stack_rule_lists()


@lru_cache(maxsize=1)
def corpus_names() -> tuple[str, ...]:
    """Every function name of a call trace line in the oops-dev logs."""
    names: set[str] = set()
    for path in sorted(OOPS_DEV.glob("*.txt")):
        names.update(_NAME.findall(path.read_text(errors="replace")))
    return tuple(sorted(names))


def bodies(patterns: Sequence[str]) -> set[str]:
    """The patterns themselves, their text without anchors, and near misses of it."""
    found: set[str] = set()
    for pattern in patterns:
        body = pattern.removeprefix("^").removesuffix("$")
        found.update((pattern, body, body + "x", "x" + body, body[:-1], "_" + body + "_"))
    return found


def alternation(patterns: Sequence[str]) -> re.Pattern[str]:
    """What the stack rules compiled before ``NameMatcher``."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.MULTILINE)


@lru_cache(maxsize=1)
def names_to_check() -> tuple[str, ...]:
    names = corpus_names()
    if len(names) < 1000:
        pytest.skip(f"no oops-dev logs in {OOPS_DEV}")
    patterns = {p for listed in LISTS.values() for p in listed}
    return tuple(sorted({*names, *bodies(sorted(patterns)), *EDGE_NAMES}))


def test_lists_are_plain_regexes() -> None:
    # The reference below is plain re; compile_pattern's macros would differ.
    assert len(LISTS) > 5
    for patterns in LISTS.values():
        assert not any("{{" in p for p in patterns)
        alternation(patterns)  # valid as one regex


def test_corpus_names_found() -> None:
    names = corpus_names()
    if not names:
        pytest.skip(f"no oops-dev logs in {OOPS_DEV}")
    assert len(names) > 1000
    for expected in ("schedule", "do_syscall_64", "panic"):
        assert expected in names


@lru_cache(maxsize=4)
def searched(patterns: tuple[str, ...]) -> frozenset[str]:
    """The names to check that the alternation of *patterns* finds something in."""
    reference = alternation(patterns)
    return frozenset(n for n in names_to_check() if reference.search(n) is not None)


def test_same_as_alternation() -> None:
    # The full alternation, for the list the findings use and for every pattern
    # of every list at once.
    everything = tuple(dict.fromkeys(p for listed in LISTS.values() for p in listed))
    for patterns in (S.NEVER_BLAME, everything):
        matcher = NameMatcher(patterns)
        found = searched(patterns)
        wrong = [n for n in names_to_check() if matcher.search(n) != (n in found)]
        assert wrong == []
        # Both answers occur, plenty of each.
        assert len(found) > 500 and len(names_to_check()) - len(found) > 500


@pytest.mark.parametrize("which", sorted(LISTS))
def test_stack_rule_same_as_alternation(which: str) -> None:
    # Each rule's list is NEVER_BLAME plus its own skips: an alternation finds a
    # match where one of its alternatives does (none of these patterns has a
    # backreference or an inline flag), so the reference is the NEVER_BLAME
    # alternation's answer or that of the rule's own patterns.
    patterns = LISTS[which]
    own = patterns[len(S.NEVER_BLAME) :]
    assert patterns[: len(S.NEVER_BLAME)] == S.NEVER_BLAME
    assert not any(re.search(r"\\[0-9]|\(\?[aiLmsux]|\(\?P=", p) for p in patterns)
    found = searched(S.NEVER_BLAME)
    if own:
        found = found | searched(own)
    matcher = NameMatcher(patterns)
    wrong = [n for n in names_to_check() if matcher.search(n) != (n in found)]
    assert wrong == []


def test_edge_names() -> None:
    matcher = NameMatcher(S.NEVER_BLAME)
    assert not matcher.search("")
    assert matcher.search("panic") and matcher.search("xpanic_y")  # substring
    assert matcher.search("do_page_fault") and not matcher.search("do_page_fault2")  # ^exact$
    assert matcher.search("rb_insert_color") and not matcher.search("xrb_insert")  # ^prefix
    assert matcher.search("crc32_le") and not matcher.search("crc")  # ^regex
    assert matcher.search("core::panicking::panic_fmt")


def test_small_lists() -> None:
    # Empty list, empty pattern (matches everything, as an empty alternative
    # does) and repeated patterns.
    names = ("", "a", "panic", "do_page_fault", "x")
    for patterns in ((), ("",), ("panic", "panic"), ("^do_page_fault$", "^x"), ("^", "$")):
        matcher = NameMatcher(patterns)
        for name in names:
            expected = bool(patterns) and alternation(patterns).search(name) is not None
            assert matcher.search(name) == expected, (patterns, name)
