"""
Panic collector
---------------

The panic message as crash prints it, the oops line that started it, and the
task that panicked.
"""

import re
from collections.abc import Sequence

from drgn.helpers.linux.sched import task_cpu

from ktriage.facts import Hex, LogRecord, OopsReport, PanicFacts
from ktriage.source.session import READ_ERRORS, KernelSession
from ktriage.source.tasks import crash_state

__all__ = ("collect_panic", "panic_lines")

# The panic line proper (kernel/panic.c: pr_emerg("Kernel panic - not syncing: %s\n")).
_PANIC = re.compile(r"Kernel panic - not syncing: ?(?P<msg>.*)")
# arch/x86/kernel/dumpstack.c __die_header(): "Oops: <error code> [#N] ..."
_OOPS_BANNER = re.compile(r"^(?:Oops: )+[0-9a-f]{4} \[#\d+\]")
# First lines of reports that can start a panic, or end in a kdump when the
# kernel crashes straight into the capture kernel (no "Kernel panic" line then).
# Ranked: the first pattern that matches anywhere wins.
_OOPS_STARTS = (
    re.compile(r"^(?:kernel BUG at .*|BUG: .*|Oops: .*|general protection fault.*)$"),
    re.compile(r"^(?:watchdog: BUG: soft lockup.*|INFO: task .* blocked for more than.*)$"),
    re.compile(r"^(?:.*Watchdog detected hard LOCKUP.*)$"),
    re.compile(r"^(?:WARNING: .*|sysrq: Trigger a crash.*|.*SysRq : Trigger a crash.*)$"),
    re.compile(r"^(?:Out of memory.*|.*invoked oom-killer.*)$"),
)


def panic_lines(
    records: Sequence[LogRecord], oopses: Sequence[OopsReport] = ()
) -> tuple[str | None, str | None]:
    """
    ``(panic message, oops line)`` from the kernel log: the message is the last
    ``Kernel panic - not syncing`` line, or without one (a kdump taken at the
    oops) the oops line itself; the oops line is the first line of the report
    that started it.
    """
    texts = [r.text.rstrip() for r in records]
    panic_index = None
    for i in range(len(texts) - 1, -1, -1):
        if _PANIC.search(texts[i]):
            panic_index = i
            break
    window = texts[:panic_index] if panic_index is not None else texts
    oops = oopses[0].lines[0].strip() if oopses and oopses[0].lines else None
    for pattern in () if oops else _OOPS_STARTS:
        for text in window:
            if pattern.match(text):
                oops = text
                break
        if oops:
            break
    if panic_index is not None:
        m = _PANIC.search(texts[panic_index])
        assert m is not None
        return f"Kernel panic - not syncing: {m['msg']}".rstrip(), oops
    # No panic line: kdump was entered from oops_end() (panic_on_oops with
    # kdump loaded). crash then names the "Oops: " line, the die() banner.
    banner = next((t.strip() for t in texts if _OOPS_BANNER.match(t)), None)
    return banner or oops, oops


def collect_panic(
    session: KernelSession, records: Sequence[LogRecord], oopses: Sequence[OopsReport] = ()
) -> PanicFacts:
    """The panic and the task that panicked (drgn's crashed thread)."""
    message, oops = panic_lines(records, oopses)
    prog = session.prog
    try:
        thread = prog.crashed_thread()
        task = thread.object
    except READ_ERRORS as e:
        session.note_unreadable(f"panic task: {e}")
        return PanicFacts(message=message, oops=oops)
    cpu = pid = comm = state = None
    address = None
    try:
        address = Hex(task.value_())
        pid = task.pid.value_()
        comm = task.comm.string_().decode(errors="replace")
        cpu = task_cpu(task)
        state = crash_state(task)
    except READ_ERRORS as e:
        session.note_unreadable(f"panic task fields: {e}")
    return PanicFacts(
        message=message, oops=oops, cpu=cpu, pid=pid, comm=comm, task=address, state=state
    )
