"""
Task collector
--------------

What crash's ``ps`` shows, one :class:`~ktriage.facts.TaskFacts` per thread.
"""

from collections.abc import Iterator

import drgn
from drgn.helpers.linux.cpumask import for_each_possible_cpu
from drgn.helpers.linux.kthread import task_is_kthread
from drgn.helpers.linux.mm import task_rss, task_vsize
from drgn.helpers.linux.mmzone import for_each_online_pgdat
from drgn.helpers.linux.percpu import per_cpu_ptr
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import idle_task, task_cpu, task_on_cpu, task_state_to_char

from ktriage.facts import Hex, TaskFacts
from ktriage.source.session import READ_ERRORS, KernelSession

__all__ = (
    "CRASH_STATES",
    "collect_tasks",
    "crash_state",
    "for_each_task_and_idle",
    "present_pages",
    "task_facts",
)

# ps(1) state letters (drgn's task_state_to_char) to crash's two-letter states.
CRASH_STATES = {
    "R": "RU",
    "S": "IN",
    "D": "UN",
    "T": "ST",
    "t": "TR",
    "X": "DE",
    "Z": "ZO",
    "P": "PA",
    "I": "ID",
    "N": "NE",
    "W": "WA",
}


def has_member(type_: drgn.Type, name: str) -> bool:
    """Whether a struct type has a member (feature check, not a version check)."""
    try:
        type_.member(name)
    except LookupError:
        return False
    return True


def _rss_pages(prog: drgn.Program, task: drgn.Object, cpus: list[int]) -> int:
    """
    Resident pages of a task's mm (file + anon + shmem), as crash counts them.

    Since Linux kernel commit f1a7941243c1 ("mm: convert mm's rss stats into
    percpu_counter") (in v6.2), each counter is a percpu_counter whose per-CPU
    deltas must be summed over every possible CPU: at a panic the other CPUs are
    marked offline, and drgn's task_rss() sums the online ones only. Older
    layouts are left to drgn.
    """
    rss_stat = task.mm.rss_stat
    kind = rss_stat.type_.kind
    if kind != drgn.TypeKind.ARRAY or not has_member(rss_stat.type_.type, "counters"):
        return int(task_rss(prog, task).total)
    total = 0
    for name in ("MM_FILEPAGES", "MM_ANONPAGES", "MM_SHMEMPAGES"):
        counter = rss_stat[prog[name].value_()]
        value = counter.count.value_()
        for cpu in cpus:
            value += per_cpu_ptr(counter.counters, cpu)[0].value_()
        total += max(value, 0)
    return total


def present_pages(prog: drgn.Program) -> int:
    """Pages of RAM present in all online nodes (crash's MEMORY and %MEM base)."""
    return sum(int(pgdat.node_present_pages.value_()) for pgdat in for_each_online_pgdat(prog))


def for_each_task_and_idle(prog: drgn.Program) -> Iterator[drgn.Object]:
    """
    Every task as crash counts them: each CPU's idle task, then every other task.

    drgn 0.3.0's ``for_each_task(idle=True)`` misses CPU 0's idle task
    (``init_task``) on these kernels, so the idle tasks are taken per CPU.
    """
    seen = set()
    for cpu in for_each_possible_cpu(prog):
        idle = idle_task(prog, cpu)
        seen.add(idle.value_())
        yield idle
    for task in for_each_task(prog):
        if task.value_() not in seen:
            yield task


def crash_state(task: drgn.Object) -> str:
    """crash's two-letter state of ``struct task_struct *task``."""
    char = task_state_to_char(task)
    return CRASH_STATES.get(char, "??")


def task_facts(
    session: KernelSession,
    task: drgn.Object,
    total_pages: int,
    page_size: int,
    cpus: list[int] | None = None,
) -> TaskFacts:
    """Facts of one ``struct task_struct *``."""
    prog = session.prog
    rss_pages = 0
    vsz = 0
    kthread = task_is_kthread(task)
    if not kthread:
        try:
            possible = cpus if cpus is not None else list(for_each_possible_cpu(prog))
            rss_pages = _rss_pages(prog, task, possible)
            vsz = task_vsize(task)
        except READ_ERRORS:
            session.note_unreadable(f"memory usage of PID {task.pid.value_()}")
    try:
        stack_base: Hex | None = Hex(task.stack.value_())
    except READ_ERRORS:
        stack_base = None
    return TaskFacts(
        pid=task.pid.value_(),
        tgid=task.tgid.value_(),
        ppid=task.parent.pid.value_(),
        cpu=task_cpu(task),
        task=Hex(task.value_()),
        state=crash_state(task),
        comm=task.comm.string_().decode(errors="replace"),
        active=bool(task_on_cpu(task)),
        kernel_thread=kthread,
        rss_bytes=rss_pages * page_size,
        vsz_bytes=vsz,
        mem_percent=round(rss_pages * 100.0 / total_pages, 1) if total_pages else 0.0,
        stack_base=stack_base,
    )


def collect_tasks(session: KernelSession) -> tuple[TaskFacts, ...]:
    """Every task, idle tasks included, in crash's ``ps`` order (by PID, then CPU)."""
    prog = session.prog
    try:
        # crash's %MEM divides by the pages present in the nodes, not by totalram.
        total_pages = present_pages(prog)
        page_size = prog["PAGE_SIZE"].value_()
    except READ_ERRORS as e:
        session.note_unreadable(f"total memory: {e}")
        total_pages, page_size = 0, 4096
    tasks = []
    cpus = list(for_each_possible_cpu(prog))
    try:
        for task in for_each_task_and_idle(prog):
            try:
                tasks.append(task_facts(session, task, total_pages, page_size, cpus))
            except READ_ERRORS as e:
                session.note_unreadable(f"task at 0x{task.value_():x}: {e}")
    except READ_ERRORS as e:
        session.note_unreadable(f"task list (stopped after {len(tasks)} tasks): {e}")
    tasks.sort(key=lambda t: (t.pid, t.cpu))
    return tuple(tasks)
