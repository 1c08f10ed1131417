"""
Stack collector
---------------

Backtraces as crash's ``bt`` and ``bt -a`` show them, with the exception frame.

drgn unwinds with ORC (from the vmlinux or from kernel memory). It stops at a PC
that is not code, which is exactly the interesting case when the kernel jumped
through a corrupted function pointer into data ("exception RIP: unknown or
invalid address"). Like crash, we then take the return address at RSP (the
``call`` that jumped there pushed it) and resume unwinding from a synthetic
``struct pt_regs``, so the frames that made the bad call are shown.
"""

import dataclasses
import struct
from collections.abc import Sequence

import drgn
from drgn.helpers.linux.cpumask import for_each_online_cpu, for_each_possible_cpu
from drgn.helpers.linux.sched import cpu_curr, task_cpu

from ktriage.facts import Backtrace, CpuContext, ExceptionFrame, Frame, Hex, RipKind
from ktriage.source.layout import USER_END, classify_address, kernel_layout
from ktriage.source.session import READ_ERRORS, KernelSession

__all__ = ("active_tasks_backtraces", "task_backtrace")

# drgn's x86-64 register names -> struct pt_regs member names.
_PT_REGS = {
    "r15": "r15",
    "r14": "r14",
    "r13": "r13",
    "r12": "r12",
    "rbp": "bp",
    "rbx": "bx",
    "r11": "r11",
    "r10": "r10",
    "r9": "r9",
    "r8": "r8",
    "rax": "ax",
    "rcx": "cx",
    "rdx": "dx",
    "rsi": "si",
    "rdi": "di",
    "rip": "ip",
    "cs": "cs",
    "rflags": "flags",
    "rsp": "sp",
    "ss": "ss",
}
# Registers shown for an exception frame, in crash's order.
_SHOWN = (
    "rip", "rsp", "rflags", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "cs", "ss",
)  # fmt: skip
_MAX_FRAMES = 128
_MAX_RESUMES = 4


def _registers(frame: drgn.StackFrame) -> dict[str, Hex]:
    try:
        regs = frame.registers()
    except READ_ERRORS:
        return {}
    return {name: Hex(regs[name]) for name in _SHOWN if name in regs}


def _is_code(session: KernelSession, pc: int) -> bool:
    kind, _ = classify_address(session, pc)
    return kind in (RipKind.KERNEL_TEXT, RipKind.MODULE_TEXT) and (
        session.symbolize(pc) is not None
    )


def _in_text(session: KernelSession, pc: int) -> bool:
    # The cheap test for scanning a stack: kernel or module text, no symbol lookup.
    text = kernel_layout(session).text
    return (text is not None and text[0] <= pc < text[1]) or session.module_of(pc) is not None


def _synthetic_pt_regs(
    session: KernelSession, regs: dict[str, Hex], ret: int, sp: int
) -> drgn.Object:
    value = {member: int(regs.get(name, 0)) for name, member in _PT_REGS.items()}
    value["ip"], value["sp"] = ret, sp
    value["cs"], value["ss"] = value["cs"] or 0x10, value["ss"] or 0x18
    return drgn.Object(session.prog, "struct pt_regs", value=value)


def _frame_fact(
    session: KernelSession, index: int, frame: drgn.StackFrame, recovered: bool
) -> Frame:
    pc = frame.pc
    sp = Hex(frame.sp)
    source = None
    try:
        filename, line, _column = frame.source()
        source = f"{filename}:{line}"
    except (LookupError, ValueError):
        pass
    if frame.is_inline:
        return Frame(
            index=index,
            function=frame.name,
            address=Hex(pc),
            module=session.module_of(pc),
            sp=sp,
            source=source,
            inline=True,
            recovered=recovered,
        )
    # A return address may point just past the end of a function that ends
    # in a call to a noreturn function (oops_end calling panic): name the
    # caller by the address of the call, pc - 1, as crash and drgn do.
    caller = index > 0 and not frame.interrupted
    info = session.symbolize(pc - 1 if caller else pc)
    if info is not None and caller:
        info = dataclasses.replace(info, offset=info.offset + 1)
    note = None
    if info is None or info.is_data:
        _, what = classify_address(session, pc)
        note = f"PC is not in code: {what}"
    return Frame(
        index=index,
        function=info.name if info else None,
        offset=info.offset if info else None,
        size=info.size if info else None,
        address=Hex(pc),
        module=info.module if info else session.module_of(pc),
        sp=sp,
        source=source,
        recovered=recovered,
        note=note,
    )


# Where a kdump panic CPU's saved registers point: crash_setup_regs() in
# __crash_kexec() (kernel/kexec_core.c), called from panic().
_KEXEC_ENTRY = ("crash_setup_regs", "__crash_kexec", "crash_kexec")
_SCAN_BELOW = 0x400


def _return_into(
    session: KernelSession, lo: int, hi: int, function: str, *, highest: bool
) -> tuple[int, int] | None:
    """A stack slot in [lo, hi) holding a return address into ``function``."""
    extent = session.extent(function)
    if extent is None:
        return None
    found = None
    for slot in range(lo & ~7, hi, 8):
        value = session.read_u64(slot)
        if value is not None and extent[0] <= value - 1 < extent[1]:
            found = (slot, value)
            if not highest:
                break
    return found


def _recovered(session: KernelSession, slot: int, value: int, note: str) -> Frame:
    info = session.symbolize(value - 1)
    return Frame(
        index=0,
        function=info.name if info else None,
        offset=info.offset + 1 if info else None,
        size=info.size if info else None,
        address=Hex(value),
        module=info.module if info else None,
        sp=Hex(slot),
        recovered=True,
        note=note,
    )


def _kexec_fixup(session: KernelSession, frames: list[Frame]) -> list[Frame]:
    """
    On a kdump, the panic CPU's registers were saved in __crash_kexec(); it then
    left through machine_kexec(), and ORC has a gap there that can skip the
    panic() frame. Like crash, show machine_kexec() and panic() when their
    return addresses are on the stack where they must be.
    """
    if not frames or frames[0].function not in _KEXEC_ENTRY or frames[0].sp is None:
        return frames
    out = list(frames)
    top = int(frames[0].sp)
    below = _return_into(session, top - _SCAN_BELOW, top, "machine_kexec", highest=True)
    if below is not None:
        out.insert(0, _recovered(session, *below, "found on the stack: the CPU left via kexec"))
    names = [f.function for f in frames[:4]]
    if "panic" not in names:
        first_caller = next(
            (f for f in frames if not f.inline and f.function not in _KEXEC_ENTRY), None
        )
        if first_caller is not None and first_caller.sp is not None:
            slot = _return_into(session, top, int(first_caller.sp), "panic", highest=False)
            if slot is not None:
                at = out.index(first_caller)
                out.insert(at, _recovered(session, *slot, "found on the stack (ORC gap)"))
    return [dataclasses.replace(f, index=i) for i, f in enumerate(out)]


_KDUMP_SCAN = 8192
_MAX_SLOT_TRIES = 16


def _kdump_oops_entry(
    session: KernelSession, task: drgn.Object, trace: drgn.StackTrace
) -> tuple[drgn.StackTrace, list[Frame]] | None:
    """
    A kdump entered from an oops (panic_on_oops: oops_end() -> crash_kexec())
    saves the oops's own registers as the CPU's, so unwinding starts at the
    faulting instruction and the crash path is not shown. Like crash, find
    machine_kexec()'s return address into __crash_kexec() on the stack below the
    faulting RSP and unwind from there: the trace then runs through oops_end()
    and the exception frame, as on any other dump. Returns the new trace and the
    recovered frames above it (machine_kexec), or None when the stack holds no
    such path.
    """
    try:
        first = trace[0]
        regs = first.registers()
    except (IndexError, *READ_ERRORS):
        return None
    info = session.symbolize(first.pc)
    if info is None or info.name in _KEXEC_ENTRY or "rsp" not in regs:
        return None
    rsp = int(regs["rsp"])
    try:
        base = int(task.stack.value_())
    except READ_ERRORS:
        return None
    lo = max(base, rsp - _KDUMP_SCAN) & ~7
    try:
        data = session.prog.read(lo, rsp - lo)
    except READ_ERRORS:
        return None
    # Return addresses on the stack below RSP, highest first: the live path lies
    # between machine_kexec()'s frame and RSP.
    slots = []
    for offset in range(len(data) - 8, -1, -8):
        (value,) = struct.unpack_from("<Q", data, offset)
        if value >= USER_END and _in_text(session, value - 1):
            slots.append((lo + offset, value))
    crash_kexec = session.extent("__crash_kexec")
    if crash_kexec is None:
        return None
    entry = next(
        (i for i, (_, value) in enumerate(slots) if crash_kexec[0] <= value - 1 < crash_kexec[1]),
        None,
    )
    if entry is None:
        return None

    def reaches_fault(slot: int, value: int) -> drgn.StackTrace | None:
        try:
            resumed = session.prog.stack_trace(
                _synthetic_pt_regs(session, _registers(first), value, slot + 8)
            )
            # Through the exception frame, not merely a stale copy of RIP.
            reached = any(frame.pc == first.pc and frame.interrupted for frame in list(resumed)[1:])
            return resumed if reached else None
        except READ_ERRORS:
            return None

    note = "found on the stack: kdump was entered from the oops"
    prefix = []
    kexec = _return_into(session, slots[entry][0] - _SCAN_BELOW, slots[entry][0], "machine_kexec",
                         highest=True)  # fmt: skip
    if kexec is not None:
        prefix.append(_recovered(session, *kexec, note))
    # Unwind from __crash_kexec(); where ORC has a gap there (the BTF tier reads
    # the kernel's own ORC), from the next return address up the stack that
    # leads to the faulting instruction.
    for i in range(entry, max(entry - _MAX_SLOT_TRIES, -1), -1):
        slot, value = slots[i]
        resumed = reaches_fault(slot, value)
        if resumed is not None:
            if i != entry:
                prefix.append(_recovered(session, *slots[entry], note))
            return resumed, prefix
    return None


def task_backtrace(session: KernelSession, task: drgn.Object) -> Backtrace:
    """
    The backtrace of ``struct task_struct *task`` (innermost first), with the
    first exception frame found in it and the user-space registers at kernel
    entry.
    """
    prog = session.prog
    pid = comm = cpu = None
    try:
        pid = task.pid.value_()
        comm = task.comm.string_().decode(errors="replace")
        cpu = task_cpu(task)
    except READ_ERRORS:
        pass
    frames: list[Frame] = []
    exception: ExceptionFrame | None = None
    user_regs: dict[str, Hex] | None = None
    error = None
    try:
        trace = prog.stack_trace(task)
    except READ_ERRORS as e:
        return Backtrace(
            pid=pid, comm=comm, task=Hex(task.value_()), cpu=cpu, error=f"cannot unwind: {e}"
        )
    oops_entry = _kdump_oops_entry(session, task, trace)
    if oops_entry is not None:
        trace, prefix = oops_entry
        frames.extend(prefix)
    # The first frame of a trace unwound from registers we made up is
    # "interrupted" for drgn, but it is no exception frame.
    synthetic = oops_entry is not None
    recovered = False
    resumes = 0
    while True:
        last_regs: dict[str, Hex] = {}
        stopped_in_data = False
        # In a trace from made-up registers, the first real frame (and the
        # inline frames drgn puts in front of it) carries those registers.
        made_up = True
        for i, frame in enumerate(trace):
            if len(frames) >= _MAX_FRAMES:
                error = f"stopped after {_MAX_FRAMES} frames"
                break
            pc = frame.pc
            if pc < USER_END:
                user_regs = _registers(frame)
                break
            fact = _frame_fact(session, len(frames), frame, recovered and i == 0)
            regs = _registers(frame) if frame.interrupted else {}
            # A real struct pt_regs has RFLAGS bit 1 set (reserved, always 1);
            # drgn also flags frames whose registers DWARF CFI could not
            # recover, which are not exception frames.
            if (
                frame.interrupted
                and frames
                and not (synthetic and made_up)
                and exception is None
                and regs.get("rflags", 0) & 2
            ):
                kind, _ = classify_address(session, pc)
                exception = ExceptionFrame(
                    rip=Hex(pc),
                    rip_kind=kind,
                    rip_symbol=session.format_symbol(pc),
                    registers=regs,
                )
            frames.append(fact)
            made_up = made_up and frame.is_inline
            last_regs = regs or _registers(frame)
            # A return address can be the first byte after a function that
            # ends in a call to a noreturn function: test the call, pc - 1.
            call_site = pc - 1 if len(frames) > 1 and not frame.interrupted else pc
            stopped_in_data = not frame.is_inline and not _is_code(session, call_site)
            if stopped_in_data:
                # Whatever drgn unwinds past a PC that is not code is junk
                # (on ELF dumps it emits one more frame): resume instead.
                break
        if not stopped_in_data or resumes >= _MAX_RESUMES or error:
            break
        # The last frame's PC is not code: resume from the return address at RSP.
        rsp = int(last_regs.get("rsp", 0))
        ret = session.read_u64(rsp) if rsp else None
        if ret is None or not _is_code(session, ret):
            error = "unwinding stopped at a PC that is not code; no return address at RSP"
            break
        try:
            trace = prog.stack_trace(_synthetic_pt_regs(session, last_regs, ret, rsp + 8))
        except READ_ERRORS as e:
            error = f"cannot resume unwinding from the return address at RSP: {e}"
            break
        recovered = True
        synthetic = True
        resumes += 1
    return Backtrace(
        pid=pid,
        comm=comm,
        task=Hex(task.value_()),
        cpu=cpu,
        frames=tuple(_kexec_fixup(session, frames)),
        exception=exception,
        user_registers=user_regs,
        error=error,
    )


def active_tasks_backtraces(
    session: KernelSession, known: Sequence[Backtrace] = ()
) -> tuple[CpuContext, ...]:
    """
    The active task of every CPU and its backtrace (crash's ``bt -a``);
    backtraces already taken (the panic task's) are reused from ``known``.
    """
    by_task = {int(bt.task): bt for bt in known if bt.task is not None}
    prog = session.prog
    contexts = []
    try:
        cpus = list(for_each_possible_cpu(prog))
        online = set(for_each_online_cpu(prog))
    except READ_ERRORS as e:
        session.note_unreadable(f"CPU masks: {e}")
        return ()
    for cpu in cpus:
        try:
            task = cpu_curr(prog, cpu)
        except READ_ERRORS as e:
            contexts.append(CpuContext(cpu=cpu, backtrace=None, error=f"no runqueue: {e}"))
            continue
        bt = by_task.get(task.value_()) or task_backtrace(session, task)
        note = None if cpu in online else "CPU was offline (stopped by the panic)"
        contexts.append(CpuContext(cpu=cpu, backtrace=bt, error=note))
    return tuple(contexts)
