"""Shared evidence for the page-fault family of rules."""

from ktriage.findings.context import Context
from ktriage.findings.model import Evidence

__all__ = ("fault_evidence",)


def fault_evidence(ctx: Context) -> list[Evidence | None]:
    """The report line, CR2, the #PF error code, RIP and the guilty frame."""
    items: list[Evidence | None] = [ctx.evidence_report("the kernel reported a fault")]
    if ctx.fault_address is not None:
        items.append(
            Evidence(
                claim="the faulting address (CR2)",
                fact=f"CR2: 0x{ctx.fault_address:x}",
                source="registers",
            )
        )
    if ctx.pf_error is not None:
        e = ctx.pf_error
        kind = "instruction fetch" if e & 0x10 else ("write" if e & 2 else "read")
        present = "protection violation on a present page" if e & 1 else "page not present"
        items.append(
            Evidence(
                claim=f"the access was a kernel {kind}, {present}",
                fact=f"#PF error code 0x{e:x}",
                source="log",
            )
        )
    items.append(ctx.evidence_rip())
    if ctx.guilty_frame is not None:
        items.append(ctx.evidence_frame(ctx.guilty_frame, "the faulting code"))
    return items
