"""nx-execute: the kernel jumped into memory that is not code (NX fault on instruction fetch)."""

import re

from ktriage.facts import CrashClass, RipKind
from ktriage.findings.context import Context
from ktriage.findings.model import Evidence, Verdict
from ktriage.findings.rule import Rule, build_verdict, bystander

__all__ = ("RULE",)

_NX_LINE = re.compile(
    r"kernel tried to execute NX-protected page|#PF: supervisor instruction fetch"
)
# arch/x86/include/asm/trap_pf.h: X86_PF_INSTR
_PF_INSTR = 1 << 4
# The instruction before the return address (ktriage.source.code's dis lines):
# an indirect call through a register, directly or via a retpoline thunk.
_INDIRECT_CALL = re.compile(
    r"\bcall (?:(?P<reg>r[a-z0-9]+)$|0x[0-9a-f]+ <__x86_indirect_thunk_(?P<thunk>r[a-z0-9]+)>)"
)
_DATA_KINDS = (RipKind.DIRECT_MAP, RipKind.VMALLOC, RipKind.KERNEL_DATA, RipKind.UNKNOWN)


def _indirect_call(ctx: Context) -> Evidence | None:
    """The indirect call that jumped to RIP, when the caller's code shows it."""
    exc = ctx.exception
    lines = ctx.facts.disassembly
    here = next((i for i, line in enumerate(lines) if line.endswith("<-- here")), None)
    if exc is None or here is None or here == 0:
        return None
    call = next((line for line in reversed(lines[:here]) if "\tcall" in line), None)
    m = _INDIRECT_CALL.search(call or "")
    if call is None or m is None:
        return None
    reg = m["reg"] or m["thunk"]
    value = exc.registers.get(reg)
    if value is None or value != exc.rip:
        return None
    return Evidence(
        claim=f"the caller made an indirect call through {reg}, which holds the bad address",
        fact=f"{call.split(chr(9))[-1]}; {reg.upper()}: 0x{int(value):x} = RIP",
        source="code",
    )


def evaluate(ctx: Context) -> Verdict | None:
    exc = ctx.exception
    nx_line = ctx.report_line(_NX_LINE)
    instr_fetch = ctx.pf_error is not None and bool(ctx.pf_error & _PF_INSTR)
    rip_in_data = exc is not None and exc.rip_kind in _DATA_KINDS
    if not (nx_line or (instr_fetch and rip_in_data)):
        return None
    if ctx.fault_address is not None and ctx.fault_address < 0x10000:
        return None  # a call through a NULL function pointer: null-pointer-dereference
    caller = ctx.caller_of_bad_pc or ctx.guilty_frame
    evidence: list[Evidence | None] = [
        Evidence(
            claim="the CPU refused to execute a non-executable page", fact=nx_line, source="log"
        )
        if nx_line
        else None,
        ctx.evidence_rip(),
    ]
    if ctx.pf_error is not None:
        evidence.append(
            Evidence(
                claim="the page fault was an instruction fetch"
                + (" on a present page (protection violation)" if ctx.pf_error & 1 else ""),
                fact=f"#PF error code 0x{ctx.pf_error:x}",
                source="log",
            )
        )
    if caller is not None:
        evidence.append(
            ctx.evidence_frame(
                caller, "the return address on the stack names the function that made the call"
            )
        )
    evidence.append(_indirect_call(ctx))
    for address in ctx.facts.addresses:
        if address.source == "cr2":
            evidence.append(
                Evidence(
                    claim="the jump target is data owned by",
                    fact=f"0x{int(address.address):x}: {address.description}",
                    source="kmem",
                )
            )
    where = exc.rip_kind.replace("-", " ") if exc else "data"
    target = f"0x{int(exc.rip):x}" if exc else "a data address"
    return build_verdict(
        ctx,
        CrashClass.NX_EXECUTE,
        what="BUG: kernel jumped to non-executable memory",
        summary=(
            f"The kernel called or jumped to {target} ({where}), which is data, not code; "
            "the CPU's NX protection faulted on the instruction fetch. A function pointer "
            "or return address was corrupted or pointed at a buffer. The function that made "
            f"the call is {caller.function if caller and caller.function else 'unknown'}."
        ),
        evidence=evidence,
        next_steps=[
            f"Disassemble the caller ({caller.function if caller else 'the recovered caller'}) "
            "around the return address to find the indirect call and the pointer it used "
            "(crash: dis -rl; here: the Code section).",
            "Find what wrote the pointer: the object holding it, its slab cache, recent frees "
            "(enable slub_debug=FZPU or KASAN and reproduce).",
            f"Check what the target address {target} holds (kmem section) and who owns it.",
        ],
        confidence="high" if (nx_line and exc is not None and caller is not None) else "medium",
        confidence_reason="the log's NX message, the RIP in data and the recovered caller agree"
        if (nx_line and exc is not None and caller is not None)
        else "based on part of the evidence (log or registers only)",
        task_caused=False,
        explanation=bystander(ctx),
        culprit_function=caller.function if caller else None,
        culprit_module=caller.module if caller else None,
    )


RULE = Rule(crash_class=CrashClass.NX_EXECUTE, evaluate=evaluate)
