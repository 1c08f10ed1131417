"""use-after-free: memory was used after it was freed."""

import re

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander

__all__ = ("RULE",)

_LOG = re.compile(
    r"KASAN: (?:slab-|vmalloc-)?use-after-free|KFENCE: use-after-free|"
    r"BUG \S+ \(.*\): Poison overwritten|Poison overwritten"
)
_FREED_IN = re.compile(r"Freed in (?P<func>[\w.]+)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[(?P<mod>\w+)\])?")
_ALLOC_IN = re.compile(r"Allocated in (?P<func>[\w.]+)\+0x")
# mm/slab.h / include/linux/poison.h: POISON_FREE bytes in a freed object.
_POISON_FREE = 0x6B6B6B6B6B6B6B6B


def evaluate(ctx: Context) -> Verdict | None:
    line = ctx.report_line(_LOG)
    freed = [a for a in ctx.facts.addresses if a.kind == "slab" and a.allocated is False]
    fault_in_freed = [a for a in freed if a.source == "cr2"]
    poisoned = [
        (name, value)
        for name, value in (ctx.exception.registers.items() if ctx.exception else ())
        if value == _POISON_FREE
    ]
    if line is None and not fault_in_freed:
        return None
    evidence: list[Evidence | None] = []
    if line:
        evidence.append(
            Evidence(
                claim="the allocator's checks found a freed object used",
                fact=line.strip(),
                source="log",
            )
        )
    for address in fault_in_freed:
        evidence.append(
            Evidence(
                claim="the faulting address is inside a freed slab object",
                fact=address.description,
                source="slab",
            )
        )
    for name, value in poisoned:
        evidence.append(
            Evidence(
                claim=f"{name} holds the free-poison pattern",
                fact=f"{name}: 0x{int(value):x}",
                source="registers",
            )
        )
    freed_line = ctx.report_line(_FREED_IN)
    alloc_line = ctx.report_line(_ALLOC_IN)
    culprit_function = culprit_module = None
    if freed_line:
        evidence.append(
            Evidence(
                claim="the slab debug record names who freed the object",
                fact=freed_line.strip(),
                source="log",
            )
        )
        m = _FREED_IN.search(freed_line)
        if m:
            culprit_function, culprit_module = m["func"], m["mod"]
    if alloc_line:
        evidence.append(
            Evidence(claim="and who allocated it", fact=alloc_line.strip(), source="log")
        )
    report = ctx.report
    what = "use-after-free"
    if report is not None and report.crash_class == CrashClass.USE_AFTER_FREE and report.title:
        what = report.title.rsplit(" in ", 1)[0]
    return build_verdict(
        ctx,
        CrashClass.USE_AFTER_FREE,
        what=what,
        summary="Memory was written or read after it was freed. The code that touched the "
        "freed object is the bug; with slab poisoning the damage is found later, by the next "
        "user of the object, so the panicking stack is often not the writer: the free site "
        "and the object's other users are.",
        evidence=[*evidence, ctx.evidence_panic()],
        next_steps=[
            "Find every user of the object between the free site and the detection (reference "
            "counting or a missing lock).",
            "Reproduce with KASAN (CONFIG_KASAN) to catch the bad access at the moment it "
            "happens, with the allocation and free stacks.",
        ],
        confidence="high" if line and (freed_line or fault_in_freed) else "medium",
        confidence_reason="the allocator's report and the free record agree"
        if line and (freed_line or fault_in_freed)
        else "one sign of use after free",
        task_caused=False,
        explanation=bystander(ctx),
        culprit_function=culprit_function,
        culprit_module=culprit_module,
    )


RULE = Rule(crash_class=CrashClass.USE_AFTER_FREE, evaluate=evaluate)
