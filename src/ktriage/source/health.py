"""
Stack health
------------

What crash's ``bt -v`` checks for every task: the STACK_END_MAGIC word at the
end of each kernel stack (include/uapi/linux/magic.h; set by
set_task_stack_end_magic()), and that the saved stack pointer of a sleeping
task lies inside its stack.
"""

from collections.abc import Sequence

import drgn

from ktriage.facts import Hex, StackHealth, TaskFacts
from ktriage.source.memory import THREAD_SIZE
from ktriage.source.session import READ_ERRORS, KernelSession

__all__ = ("STACK_END_MAGIC", "check_stacks")

STACK_END_MAGIC = 0x57AC6E9D


def check_stacks(session: KernelSession, tasks: Sequence[TaskFacts]) -> tuple[StackHealth, ...]:
    """One :class:`StackHealth` per task, in the order given."""
    prog = session.prog
    results = []
    for task in tasks:
        problem = None
        if task.stack_base is None:
            problem = "kernel stack pointer unreadable"
        else:
            magic = session.read_u64(task.stack_base)
            if magic is None:
                problem = f"stack end at 0x{task.stack_base:x} not in the dump"
            elif magic & 0xFFFFFFFF != STACK_END_MAGIC:
                problem = (
                    f"stack overflow: end-of-stack magic at 0x{task.stack_base:x} is"
                    f" 0x{magic:x}, expected 0x{STACK_END_MAGIC:x}"
                )
            elif not task.active:
                try:
                    obj = drgn.Object(prog, "struct task_struct *", task.task)
                    sp = int(obj.thread.sp.value_())
                    if not task.stack_base <= sp < task.stack_base + THREAD_SIZE:
                        problem = f"saved stack pointer 0x{sp:x} is outside the task's stack"
                except READ_ERRORS:
                    pass
        results.append(
            StackHealth(
                pid=task.pid,
                comm=task.comm,
                task=Hex(task.task),
                ok=problem is None,
                problem=problem,
            )
        )
    return tuple(results)
