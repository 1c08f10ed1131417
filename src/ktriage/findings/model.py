"""
Findings model
--------------

A verdict: class, title, culprit, evidence, confidence and next steps.
"""

from dataclasses import dataclass

from ktriage.facts import CrashFacts
from ktriage.facts.base import Record
from ktriage.facts.classes import CrashClass

__all__ = ("Analysis", "Culprit", "Evidence", "Verdict")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Evidence(Record):
    """One step of the evidence chain, quoting the fact it rests on."""

    claim: str
    """What the fact shows."""
    fact: str
    """The fact itself, quoted (a register, a log line, a frame, a slab state...)."""
    source: str
    """Where the fact comes from: ``log``, ``registers``, ``backtrace``, ``slab``, ..."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Culprit(Record):
    """Who is to blame."""

    function: str | None
    module: str | None = None
    task_caused: bool | None = None
    """True when the panicking task caused the crash, False when it was a bystander
    (the kernel failed while it ran), None when that cannot be told."""
    pid: int | None = None
    comm: str | None = None
    """The task that is to blame (for a hung task: the blocked task)."""
    explanation: str = ""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Verdict(Record):
    """The conclusion."""

    crash_class: CrashClass
    title: str
    culprit: Culprit
    summary: str
    evidence: tuple[Evidence, ...]
    next_steps: tuple[str, ...]
    confidence: str
    """``high``, ``medium`` or ``low``."""
    confidence_reason: str = ""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Analysis(Record):
    """What ``ktriage analyze`` hands to a renderer: the facts and the verdict."""

    facts: CrashFacts
    verdict: Verdict
    signature: str
    """Stable deduplication key: same bug, same signature, across dumps and machines."""
