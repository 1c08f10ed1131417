"""write-to-readonly: kernel code wrote to read-only memory (rodata or text)."""

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander
from ktriage.findings.rules._fault import fault_evidence

__all__ = ("RULE",)

# arch/x86/include/asm/trap_pf.h: X86_PF_PROT | X86_PF_WRITE, no X86_PF_USER
_PROT_WRITE = 0x3


def evaluate(ctx: Context) -> Verdict | None:
    e = ctx.pf_error
    if e is None or (e & _PROT_WRITE) != _PROT_WRITE or e & 0x4 or e & 0x10:
        return None
    cr2 = ctx.fault_address
    if cr2 is not None and cr2 < 0x10000:
        return None
    return build_verdict(
        ctx,
        CrashClass.WRITE_TO_READONLY,
        what="BUG: write to read-only memory",
        summary="Kernel code wrote to a page that is mapped read-only (const data, kernel text "
        "or a write-protected page): a corrupted pointer or a write to const data.",
        evidence=fault_evidence(ctx),
        next_steps=[
            "Find what the written address is (kmem): kernel rodata, text or a protected page.",
            "Find the pointer that led there in the faulting function.",
        ],
        confidence="high",
        confidence_reason="the page-fault error code says protection violation on a write",
        task_caused=False,
        explanation=bystander(ctx),
    )


RULE = Rule(crash_class=CrashClass.WRITE_TO_READONLY, evaluate=evaluate)
