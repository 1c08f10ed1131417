"""memory-corruption: kernel data found damaged (list, slab, page checks; KASAN OOB)."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander

__all__ = ("RULE",)

_LOG = re.compile(
    r"list_(?:add|del) corruption|list corruption|kernel BUG at lib/list_debug\.c|"
    r"BUG: Bad page (?:state|map)|Redzone overwritten|Object padding overwritten|"
    r"Padding overwritten|Freepointer corrupt|KASAN: (?:slab-|global-|stack-|vmalloc-)?"
    r"out-of-bounds|KFENCE: (?:out-of-bounds|memory corruption)|BUG: corrupted list|"
    r"slab corruption|Corrupted memory at|stack-protector: Kernel stack is corrupted"
)


def evaluate(ctx: Context) -> Verdict | None:
    line = ctx.report_line(_LOG)
    if line is None:
        return None
    report = ctx.report
    what = "memory corruption"
    if report is not None and report.crash_class == CrashClass.MEMORY_CORRUPTION and report.title:
        what = report.title.rsplit(" in ", 1)[0]
    return build_verdict(
        ctx,
        CrashClass.MEMORY_CORRUPTION,
        what=what,
        summary="A kernel consistency check found a damaged data structure (linked list, "
        "slab redzone, page state or out-of-bounds access). The code that did the damage "
        "ran earlier; the reporting stack found it.",
        evidence=[
            Evidence(claim="a kernel integrity check failed", fact=line.strip(), source="log"),
            ctx.evidence_frame(ctx.guilty_frame, "the check fired under this function")
            if ctx.guilty_frame
            else None,
            ctx.evidence_panic(),
        ],
        next_steps=[
            "Identify the damaged object (addresses in the report, kmem) and its owner.",
            "Reproduce with KASAN or slub_debug=FZPU to catch the writer in the act.",
        ],
        confidence="high" if ctx.facts.backtrace is not None else "medium",
        confidence_reason="the kernel's integrity check names the corruption",
        task_caused=False,
        explanation=bystander(ctx),
    )


RULE = Rule(crash_class=CrashClass.MEMORY_CORRUPTION, evaluate=evaluate)
