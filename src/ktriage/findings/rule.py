"""
Rules
-----

A rule turns the facts of one crash into a :class:`~ktriage.findings.model.Verdict`
for its class, or ``None`` when its class does not apply. The engine runs the
rules from the most specific class to the least and takes the first verdict.
"""

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ktriage.facts import CrashClass
from ktriage.facts.base import Record
from ktriage.findings.context import Context
from ktriage.findings.model import Culprit, Evidence, Verdict

_CLONE_SUFFIX = re.compile(r"(?:\.(?:cold|part|isra|constprop|lto_priv|llvm)(?:\.\d+)?)+$")

__all__ = ("Rule", "build_verdict", "bystander", "common_next_steps", "log_pattern_rule")


@dataclass(frozen=True, eq=False, repr=False)
class Rule(Record):
    """One crash class and how to recognise it."""

    crash_class: CrashClass
    evaluate: Callable[[Context], Verdict | None]


def common_next_steps(ctx: Context, title: str, module: str | None) -> list[str]:
    """Steps that apply to every kernel crash with a culprit."""
    steps = [
        f'Search known bugs for the title: "{title}" (distribution bug tracker, lore.kernel.org).'
    ]
    release = ctx.facts.ident.release or (ctx.facts.system.release if ctx.facts.system else None)
    if release:
        steps.append(
            f"Check whether a kernel newer than {release} (distribution update, upstream "
            "stable release) fixes it."
        )
    if module:
        steps.append(
            f"The culprit is in module {module}: get its exact version and source; if it is "
            "out of tree (taint O/E), reproduce without it before reporting upstream."
        )
    return steps


def build_verdict(
    ctx: Context,
    crash_class: CrashClass,
    *,
    what: str,
    summary: str,
    evidence: Iterable[Evidence | None],
    next_steps: Iterable[str],
    confidence: str,
    confidence_reason: str,
    task_caused: bool | None,
    explanation: str,
    culprit_function: str | None = None,
    culprit_module: str | None = None,
    culprit_pid: int | None = None,
    culprit_comm: str | None = None,
) -> Verdict:
    """A verdict whose title is ``<what> in <guilty function>`` (or ``<what>``)."""
    function, module = (
        (culprit_function, culprit_module) if culprit_function else ctx.culprit_function()
    )
    # Titles name the function as written in the source: GCC's clone suffixes
    # (.cold, .part.0, .isra.0, .constprop.0) vary between builds of one bug.
    title = f"{what} in {_CLONE_SUFFIX.sub('', function)}" if function else what
    panic = ctx.facts.panic
    pid = culprit_pid if culprit_pid is not None else (panic.pid if panic else None)
    comm = culprit_comm if culprit_comm is not None else (panic.comm if panic else None)
    steps = list(next_steps) + common_next_steps(ctx, title, module)
    return Verdict(
        crash_class=crash_class,
        title=title,
        culprit=Culprit(
            function=function,
            module=module,
            task_caused=task_caused,
            pid=pid,
            comm=comm,
            explanation=explanation,
        ),
        summary=summary,
        evidence=tuple(e for e in evidence if e is not None),
        next_steps=tuple(dict.fromkeys(steps)),
        confidence=confidence,
        confidence_reason=confidence_reason,
    )


def bystander(ctx: Context) -> str:
    """The usual explanation when the running task only happened to run the failing code."""
    panic = ctx.facts.panic
    who = f"{panic.comm} (PID {panic.pid})" if panic and panic.comm else "the running task"
    return (
        f"{who} was running when the kernel failed; the fault is in kernel code, so the task "
        "is a bystander, not the cause."
    )


def log_pattern_rule(
    crash_class: CrashClass,
    pattern: "re.Pattern[str]",
    *,
    what: str,
    summary: str,
    claim: str,
    next_steps: Iterable[str],
    task_caused: bool | None = False,
    explanation: str | None = None,
) -> Rule:
    """
    A rule for a class recognised by a line of the kernel's own report (soft
    lockup, machine check, ...). The title is the parsed report's when the
    parser gave this class, else ``<what> in <guilty function>``.
    """

    def evaluate(ctx: Context) -> Verdict | None:
        line = ctx.report_line(pattern)
        if line is None:
            return None
        verdict = build_verdict(
            ctx,
            crash_class,
            what=what,
            summary=summary,
            evidence=[
                Evidence(claim=claim, fact=line.strip(), source="log"),
                ctx.evidence_rip(),
                ctx.evidence_frame(ctx.guilty_frame, "first frame of the failing code")
                if ctx.guilty_frame
                else None,
                ctx.evidence_panic(),
            ],
            next_steps=next_steps,
            confidence="high" if ctx.facts.backtrace is not None else "medium",
            confidence_reason="the kernel's own report names the failure"
            + (" and the dump's backtrace agrees" if ctx.facts.backtrace is not None else ""),
            task_caused=task_caused,
            explanation=explanation or bystander(ctx),
        )
        report = ctx.report
        if report is not None and report.crash_class == crash_class and ctx.guilty_frame is None:
            return dataclasses.replace(verdict, title=report.title)
        return verdict

    return Rule(crash_class=crash_class, evaluate=evaluate)
