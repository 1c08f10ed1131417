"""
System collector
----------------

What crash's ``sys`` shows, as :class:`~ktriage.facts.SystemFacts`.
"""

import drgn
from drgn.helpers.linux.cpumask import num_online_cpus, num_present_cpus
from drgn.helpers.linux.sched import loadavg
from drgn.helpers.linux.timekeeping import (
    ktime_get_boottime_seconds,
    ktime_get_real_seconds,
)

from ktriage.facts import SystemFacts, TaintFlag
from ktriage.source.session import READ_ERRORS, KernelSession
from ktriage.source.tasks import for_each_task_and_idle, present_pages

__all__ = ("TAINT_FLAGS", "collect_system", "decode_taint")

# include/linux/panic.h (TAINT_*) and kernel/panic.c (taint_flags[]): bit,
# letter when set, meaning.
TAINT_FLAGS: tuple[tuple[int, str, str], ...] = (
    (0, "P", "proprietary module was loaded"),
    (1, "F", "module was force loaded"),
    (2, "S", "kernel running on an out of specification system"),
    (3, "R", "module was force unloaded"),
    (4, "M", "processor reported a Machine Check Exception"),
    (5, "B", "bad page referenced or some unexpected page flags"),
    (6, "U", "taint requested by userspace application"),
    (7, "D", "kernel died recently, i.e. there was an OOPS or BUG"),
    (8, "A", "an ACPI table was overridden by user"),
    (9, "W", "kernel issued warning"),
    (10, "C", "staging driver was loaded"),
    (11, "I", "workaround for bug in platform firmware applied"),
    (12, "O", "externally-built (out-of-tree) module was loaded"),
    (13, "E", "unsigned module was loaded"),
    (14, "L", "soft lockup occurred"),
    (15, "K", "kernel has been live patched"),
    (16, "X", "auxiliary taint, defined for and used by distros"),
    (17, "T", "kernel was built with the struct randomization plugin"),
    (18, "N", "an in-kernel test has been run"),
)


def decode_taint(mask: int) -> tuple[TaintFlag, ...]:
    """The flags set in a ``tainted_mask`` value, in bit order."""
    return tuple(
        TaintFlag(bit=bit, letter=letter, meaning=meaning)
        for bit, letter, meaning in TAINT_FLAGS
        if mask & (1 << bit)
    )


def _memory_bytes(prog: drgn.Program) -> int | None:
    # crash's MEMORY is the sum of the nodes' present pages.
    try:
        return int(present_pages(prog) * prog["PAGE_SIZE"].value_())
    except READ_ERRORS:
        return None


def collect_system(session: KernelSession) -> SystemFacts:
    """Collect ``sys`` facts; what cannot be read is ``None`` and noted."""
    prog = session.prog

    uts = session.attempt("utsname", lambda: prog["init_uts_ns"].name)

    def uts_field(name: str) -> str | None:
        if uts is None:
            return None
        return session.attempt(name, lambda: uts.member_(name).string_().decode(errors="replace"))

    tainted: int | None = session.attempt("tainted_mask", lambda: prog["tainted_mask"].value_())
    tasks = session.attempt("tasks", lambda: sum(1 for _ in for_each_task_and_idle(prog)))
    load = session.attempt("load average", lambda: loadavg(prog))
    date: int | None = session.attempt("date", lambda: ktime_get_real_seconds(prog).value_())
    uptime: int | None = session.attempt(
        "uptime", lambda: ktime_get_boottime_seconds(prog).value_()
    )
    cpus = session.attempt("cpus", lambda: num_present_cpus(prog))
    online = session.attempt("online cpus", lambda: num_online_cpus(prog))
    mask = tainted or 0
    return SystemFacts(
        nodename=uts_field("nodename"),
        release=uts_field("release"),
        version=uts_field("version"),
        machine=uts_field("machine"),
        cpus=cpus,
        cpus_online=online,
        date=date,
        uptime_s=float(uptime) if uptime is not None else None,
        load_avg=load,
        tasks=tasks,
        memory_bytes=_memory_bytes(prog),
        tainted=mask,
        taint_flags=decode_taint(mask),
    )
