"""null-pointer-dereference: a fault on an address in the NULL page."""

from ktriage.facts import CrashClass
from ktriage.findings.context import Context
from ktriage.findings.model import Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander
from ktriage.findings.rules._fault import fault_evidence

__all__ = ("RULE",)

NULL_PAGE_LIMIT = 0x10000


def evaluate(ctx: Context) -> Verdict | None:
    cr2 = ctx.fault_address
    if cr2 is None or cr2 >= NULL_PAGE_LIMIT:
        return None
    kind = (
        "execute"
        if ctx.pf_error is not None and ctx.pf_error & 0x10
        else ("write" if ctx.pf_error is not None and ctx.pf_error & 2 else "access")
    )
    return build_verdict(
        ctx,
        CrashClass.NULL_POINTER_DEREFERENCE,
        what="BUG: unable to handle kernel NULL pointer dereference",
        summary=f"Kernel code tried to {kind} address 0x{cr2:x}: a NULL pointer"
        + (f" plus the offset 0x{cr2:x} of a structure member" if cr2 else "")
        + ". A pointer that should have been checked or initialised was NULL.",
        evidence=fault_evidence(ctx),
        next_steps=[
            "Find which pointer was NULL: disassemble the faulting instruction and map the "
            "register it dereferenced to a variable (dis -rl with DWARF).",
            "Find why it was NULL: an error path, a race with teardown, or a missing check.",
        ],
        confidence="high" if ctx.exception is not None else "medium",
        confidence_reason="CR2 is in the NULL page"
        + (" and the exception frame locates the faulting code" if ctx.exception else ""),
        task_caused=False,
        explanation=bystander(ctx),
    )


RULE = Rule(crash_class=CrashClass.NULL_POINTER_DEREFERENCE, evaluate=evaluate)
