"""
Address collector
-----------------

What owns an address, as crash's ``kmem ADDR`` tells: slab cache and object
(allocated or free), page and its flags, a task_struct or kernel stack and
whose, a module, a vmalloc area, a symbol.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import drgn
from drgn.helpers.linux.mm import decode_page_flags, find_vmap_area, virt_to_page
from drgn.helpers.linux.slab import slab_object_info

from ktriage.facts import AddressFacts, Hex, RipKind, TaskFacts
from ktriage.source.layout import classify_address
from ktriage.source.session import READ_ERRORS, KernelSession

__all__ = ("collect_addresses", "describe_address", "looks_like_kernel_pointer")

THREAD_SIZE = 16384  # x86-64 with KASAN off: 4 pages (arch/x86/include/asm/page_64_types.h)


def looks_like_kernel_pointer(value: int) -> bool:
    """Whether a register value is worth a ``kmem`` lookup."""
    return value >= 0xFFFF_8000_0000_0000 and value not in (0xFFFF_FFFF_FFFF_FFFF,)


def _owning_stack(tasks: Sequence[TaskFacts], address: int) -> TaskFacts | None:
    for task in tasks:
        if task.stack_base is not None and task.stack_base <= address < (
            task.stack_base + THREAD_SIZE
        ):
            return task
    return None


def _task_at(tasks: Sequence[TaskFacts], start: int) -> TaskFacts | None:
    for task in tasks:
        if task.task == start:
            return task
    return None


def describe_address(
    session: KernelSession, address: int, source: str, tasks: Sequence[TaskFacts]
) -> AddressFacts:
    """Everything ktriage can say about ``address`` (came from ``source``)."""
    prog = session.prog
    kind, description = classify_address(session, address)

    def make(kind: str, description: str, **extra: Any) -> AddressFacts:
        return AddressFacts(
            address=Hex(address), source=source, kind=kind, description=description, **extra
        )

    if kind in (RipKind.NULL_PAGE, RipKind.USER, RipKind.NON_CANONICAL):
        return make(kind, description)
    if kind in (RipKind.KERNEL_TEXT, RipKind.KERNEL_DATA, RipKind.MODULE_TEXT):
        info = session.symbolize(address)
        return make(
            "module" if kind == RipKind.MODULE_TEXT else "symbol",
            description,
            symbol=session.format_symbol(address),
            module=info.module if info else None,
        )
    stack_owner = _owning_stack(tasks, address)
    if stack_owner is not None:
        return make(
            "kernel-stack",
            f"kernel stack of PID {stack_owner.pid} ({stack_owner.comm})"
            f" at offset 0x{address - (stack_owner.stack_base or 0):x}",
            task=stack_owner.task,
            pid=stack_owner.pid,
            comm=stack_owner.comm,
        )
    if kind == RipKind.DIRECT_MAP:
        slab = None
        try:
            slab = slab_object_info(prog, address)
        except READ_ERRORS as e:
            session.note_unreadable(f"slab lookup of 0x{address:x}: {e}")
        if slab is not None:
            cache = slab.slab_cache.name.string_().decode(errors="replace")
            size = int(slab.slab_cache.object_size.value_())
            state = (
                "state unknown"
                if slab.allocated is None
                else ("allocated" if slab.allocated else "free")
            )
            owner = _task_at(tasks, slab.address) if cache == "task_struct" else None
            text = (
                f"slab object in cache {cache} at 0x{slab.address:x}+0x"
                f"{address - slab.address:x} (object size {size}, {state})"
            )
            if owner is not None:
                text += f": task_struct of PID {owner.pid} ({owner.comm})"
            return make(
                "task_struct" if owner else "slab",
                text,
                slab_cache=cache,
                object_address=Hex(slab.address),
                object_size=size,
                allocated=slab.allocated,
                task=owner.task if owner else None,
                pid=owner.pid if owner else None,
                comm=owner.comm if owner else None,
            )
        try:
            page = virt_to_page(prog, address)
            flags = tuple(decode_page_flags(page).split("|"))
            return make(
                "page",
                f"page 0x{page.value_():x} ({'|'.join(flags)}), not a slab object",
                page=Hex(page.value_()),
                page_flags=flags,
            )
        except READ_ERRORS as e:
            return make(
                "direct-map",
                description,
                error=f"page not readable: {e}",
            )
    if kind == RipKind.VMALLOC:
        try:
            area = find_vmap_area(prog, address)
        except READ_ERRORS as e:
            area = None
            session.note_unreadable(f"vmalloc lookup of 0x{address:x}: {e}")
        if area:
            start = int(area.va_start.value_())
            caller = None
            try:
                caller = session.format_symbol(int(area.vm.caller.value_()))
            except READ_ERRORS:
                pass
            return make(
                "vmalloc",
                f"vmalloc area 0x{start:x}-0x{int(area.va_end.value_()):x}"
                + (f" allocated by {caller}" if caller else ""),
                symbol=caller,
            )
    return make(kind, description)


def collect_addresses(
    session: KernelSession,
    candidates: Iterable[tuple[str, int]],
    tasks: Sequence[TaskFacts],
) -> tuple[AddressFacts, ...]:
    """``kmem`` for each ``(source, address)`` that looks like a kernel pointer or is CR2."""
    seen: set[int] = set()
    out = []
    for source, address in candidates:
        if address in seen or not (source == "cr2" or looks_like_kernel_pointer(address)):
            continue
        seen.add(address)
        try:
            out.append(describe_address(session, address, source, tasks))
        except (*READ_ERRORS, drgn.FaultError) as e:
            out.append(
                AddressFacts(
                    address=Hex(address),
                    source=source,
                    kind="unknown",
                    description="could not be examined",
                    error=str(e),
                )
            )
    return tuple(out)
