"""
Findings engine
---------------

Runs the rules on the facts, most specific class first, and returns the verdict
and a stable signature for deduplication.
"""

import hashlib
import re

from ktriage.facts import CrashClass, CrashFacts
from ktriage.findings.context import Context, is_never_blamed
from ktriage.findings.model import Analysis, Culprit, Evidence, Verdict
from ktriage.findings.rule import build_verdict
from ktriage.findings.rules import RULES

__all__ = ("analyze_facts", "judge", "signature")

_OFFSET = re.compile(r"\+0x[0-9a-f]+(?:/0x[0-9a-f]+)?")


def _unknown(ctx: Context) -> Verdict:
    report = ctx.report
    if report is not None:
        # The parser classified a report no rule claims: keep its words.
        return build_verdict(
            ctx,
            report.crash_class,
            what=report.title.rsplit(" in ", 1)[0],
            summary=f"The kernel log reports: {report.lines[0] if report.lines else report.title}",
            evidence=[ctx.evidence_report("the kernel's report"), ctx.evidence_panic()],
            next_steps=["Read the full report in the log section."],
            confidence="low",
            confidence_reason="only the log's report; no rule confirmed it with dump facts",
            task_caused=None,
            explanation="Not determined.",
        )
    return Verdict(
        crash_class=CrashClass.UNKNOWN,
        title="unknown crash",
        culprit=Culprit(function=None, explanation="No crash report or panic was found."),
        summary="No crash report, panic message or exception frame was found.",
        evidence=tuple(e for e in (ctx.evidence_panic(),) if isinstance(e, Evidence)),
        next_steps=(
            "Check that the dump is complete and that the log was captured (vmcore-dmesg.txt).",
        ),
        confidence="low",
        confidence_reason="nothing to go on",
    )


def judge(facts: CrashFacts) -> Verdict:
    """The verdict of the most specific rule that applies."""
    ctx = Context(facts)
    for rule in RULES:
        verdict = rule.evaluate(ctx)
        if verdict is not None:
            return verdict
    return _unknown(ctx)


def signature(facts: CrashFacts, verdict: Verdict) -> str:
    """
    A deduplication key that is the same for the same bug on any machine: the
    class, the culprit (function and module) and the next three blamable frames
    of the crashing stack, without addresses or offsets.
    """
    ctx = Context(facts)
    frames: list[str] = []
    source = ctx.crashing_frames or (ctx.report.stack if ctx.report else ())
    for frame in source:
        name = frame.function
        if name and not frame.inline and not is_never_blamed(name) and name not in frames:
            frames.append(name)
        if len(frames) == 4:
            break
    parts = [
        verdict.crash_class.value,
        verdict.culprit.function or "-",
        verdict.culprit.module or "-",
        *frames,
    ]
    text = "|".join(_OFFSET.sub("", p) for p in parts)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{verdict.crash_class.value}:{verdict.culprit.function or '-'}:{digest}"


def analyze_facts(facts: CrashFacts) -> Analysis:
    """Facts in, verdict and signature out."""
    verdict = judge(facts)
    return Analysis(facts=facts, verdict=verdict, signature=signature(facts, verdict))
