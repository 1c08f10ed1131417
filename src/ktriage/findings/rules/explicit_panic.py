"""explicit-panic: kernel code called panic() directly."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.context import Context, is_never_blamed
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander

__all__ = ("RULE",)

_PANIC = re.compile(r"Kernel panic - not syncing: (?P<msg>.*)")
# Panic messages that only say "an oops/exception happened before"; the oops
# decides the class, not the panic.
_CONSEQUENCE = re.compile(
    r"^(?:Fatal exception(?: in interrupt)?|Attempted to kill the idle task!)"
)


def evaluate(ctx: Context) -> Verdict | None:
    panic = ctx.facts.panic
    message = panic.message if panic else None
    if not message:
        return None
    m = _PANIC.search(message)
    if m is None or _CONSEQUENCE.match(m["msg"]):
        return None
    caller = None
    bt = ctx.facts.backtrace
    if bt is not None:
        seen_panic = False
        for frame in bt.frames:
            if frame.function == "panic":
                seen_panic = True
            elif seen_panic and frame.function and not is_never_blamed(frame.function):
                caller = frame
                break
    reason = m["msg"].strip()
    return build_verdict(
        ctx,
        CrashClass.EXPLICIT_PANIC,
        what=f"panic: {reason}",
        summary=f'Kernel code called panic("{reason}") on purpose'
        + (f" from {caller.function}" if caller else "")
        + ": a check it considers fatal, or a panic_on_* policy.",
        evidence=[
            Evidence(claim="panic() was called with this reason", fact=message, source="log"),
            ctx.evidence_frame(caller, "panic() was called from here") if caller else None,
        ],
        next_steps=[
            f'Find the panic("{reason}") call in the source and the condition guarding it.'
        ],
        confidence="high" if caller else "medium",
        confidence_reason="the panic message and the caller of panic() in the backtrace"
        if caller
        else "the panic message only",
        task_caused=False,
        explanation=bystander(ctx),
        culprit_function=caller.function if caller else None,
        culprit_module=caller.module if caller else None,
    )


RULE = Rule(crash_class=CrashClass.EXPLICIT_PANIC, evaluate=evaluate)
