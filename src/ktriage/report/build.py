"""
Report builder
--------------

Lays an :class:`~ktriage.findings.model.Analysis` out as a
:class:`~ktriage.report.document.Document`: one section per step of the expert's
workflow (identification, ``sys``, panic, ``bt``/``bt -a``, ``ps``, ``kmem``,
``dis -rl``, ``bt -v``, ``log``, verdict). It only selects, orders and formats what
the facts and the verdict say; it never classifies or infers. A section with no data
says in one line why, quoting ``facts.unreadable`` or ``facts.debuginfo.notes`` when
they explain it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ktriage.facts.base import Hex
from ktriage.facts.debuginfo import Tier
from ktriage.facts.stack import RipKind

if TYPE_CHECKING:
    from ktriage.facts import (
        AddressFacts,
        Backtrace,
        CrashFacts,
        DumpIdentity,
        ExceptionFrame,
        Frame,
        OopsReport,
        TaskFacts,
    )
    from ktriage.findings.model import Analysis
from ktriage.report.document import (
    Block,
    Bullets,
    Code,
    Column,
    Document,
    Field,
    Fields,
    Note,
    Row,
    Section,
    Subheading,
    Table,
    cell_text,
)
from ktriage.report.excerpt import LOG_CONTEXT_LINES, LOG_TAIL_LINES, log_excerpt

__all__ = (
    "LOG_CONTEXT_LINES",
    "LOG_TAIL_LINES",
    "REGISTER_ORDER",
    "RIP_KIND_WORDS",
    "analysis_document",
    "format_bytes",
    "format_frame_function",
    "format_time",
    "format_uptime",
    "frame_lines",
    "ident_document",
    "log_excerpt",
    "oops_document",
    "panic_task",
    "register_lines",
)

REGISTER_ORDER = (
    "rip",
    "rsp",
    "rflags",
    "rax",
    "rbx",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "rbp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
    "orig_rax",
    "cs",
    "ss",
)
"""x86-64 registers in the order crash's ``bt`` prints an exception frame."""

RIP_KIND_WORDS = {
    RipKind.KERNEL_TEXT: "kernel text",
    RipKind.MODULE_TEXT: "module text",
    RipKind.DIRECT_MAP: "direct map (RAM, not code)",
    RipKind.VMALLOC: "vmalloc area",
    RipKind.USER: "user space",
    RipKind.NON_CANONICAL: "non-canonical address",
    RipKind.NULL_PAGE: "NULL page",
    RipKind.KERNEL_DATA: "kernel data (not code)",
    RipKind.UNKNOWN: "unknown",
}
"""How each :class:`~ktriage.facts.RipKind` reads in words."""


# ---------------------------------------------------------------- formatting


def format_time(epoch: int | None) -> str | None:
    """Seconds since the epoch as crash's ``DATE`` (``Thu Nov 26 06:16:50 UTC 2026``)."""
    if epoch is None:
        return None
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(epoch))


def format_uptime(seconds: float | None) -> str | None:
    """Uptime as crash's ``UPTIME`` (``00:00:03`` or ``2 days, 01:02:03``)."""
    if seconds is None:
        return None
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if days:
        return f"{days} day{'s' if days != 1 else ''}, {clock}"
    return clock


def format_bytes(size: int | None) -> str | None:
    """A byte count in binary units (``511.5 MiB``)."""
    if size is None:
        return None
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def format_frame_function(frame: Frame) -> str | None:
    """``function+0xoff/0xsize`` as the kernel prints it, or ``None`` when unknown."""
    if frame.function is None:
        return None
    text = frame.function
    if frame.offset is not None:
        text += f"+0x{frame.offset:x}"
        if frame.size is not None:
            text += f"/0x{frame.size:x}"
    return text


_REG_DIGITS = {"rflags": 8, "cs": 4, "ss": 4, "ds": 4, "es": 4, "fs": 4, "gs": 4}


def _reg_key(name: str) -> tuple[int, str]:
    lower = name.lower()
    if lower in REGISTER_ORDER:
        return (REGISTER_ORDER.index(lower), lower)
    return (len(REGISTER_ORDER), lower)


def register_lines(registers: dict[str, Hex], per_line: int = 3) -> tuple[str, ...]:
    """Registers as crash prints them (``RAX: 000000000000000a  RBX: ...``)."""
    names = sorted(registers, key=_reg_key)
    cells = [
        f"{name.upper():>8}: {int(registers[name]):0{_REG_DIGITS.get(name.lower(), 16)}x}"
        for name in names
    ]
    return tuple(
        "  ".join(cells[i : i + per_line]).rstrip() for i in range(0, len(cells), per_line)
    )


def _join(parts: Iterable[str | None], sep: str = ", ") -> str | None:
    kept = [p for p in parts if p]
    return sep.join(kept) if kept else None


def _comm(task: TaskFacts) -> str:
    return f"[{task.comm}]" if task.kernel_thread else task.comm


# ---------------------------------------------------------------- empty sections


def _why_empty(
    facts: CrashFacts, what: str, keywords: Sequence[str], *, needs_exception: bool = False
) -> Note:
    """One line saying why a section is empty, quoting the facts that explain it."""
    quoted = [
        line
        for line in (*facts.unreadable, *facts.debuginfo.notes)
        if any(word in line.lower() for word in keywords)
    ]
    if quoted:
        return Note(f"No {what}: " + "; ".join(quoted))
    if facts.ident.format == "text":
        return Note(f"No {what}: the input is a kernel log, not a dump.")
    if facts.debuginfo.tier == Tier.NONE:
        return Note(f"No {what}: no debuginfo (tier none).")
    if needs_exception and facts.backtrace is not None and facts.backtrace.exception is None:
        return Note(
            f"No {what}: the panic task's backtrace has no exception frame "
            "(no faulting address or registers to start from)."
        )
    reason = f"No {what}: the analysis collected none"
    if facts.unreadable:
        reason += " (see 'Could not be read' under Identification)"
    return Note(reason + ".")


# ---------------------------------------------------------------- sections


def _identification(facts: CrashFacts, version: str | None) -> Section:
    ident = facts.ident
    debug = facts.debuginfo
    blocks: list[Block] = [
        Fields(
            (
                Field("File", ident.path),
                Field("Release", ident.release),
                Field("Version", version),
                Field("Build ID", ident.build_id),
                Field("Architecture", ident.arch),
                Field("Format", _join([ident.format, ident.producer], " by ")),
                Field("Compression", ident.compression),
                Field("Dump level", ident.dump_level),
                Field("Partial", ident.partial),
                Field("Incomplete", ident.incomplete),
                Field("File size", format_bytes(ident.file_size)),
                Field("Page size", ident.page_size),
                Field("KASLR offset", ident.kaslr_offset),
                Field("CPUs in dump", ident.cpus),
                Field("Crash time", format_time(ident.crash_time)),
            )
        ),
        Subheading("Debuginfo"),
        Fields(
            (
                Field("Tier", debug.tier),
                Field("Source", debug.source),
                Field("vmlinux", debug.vmlinux),
                Field("Build ID", debug.build_id),
                Field("Build ID match", debug.build_id_match),
                Field("Module debuginfo", _join(debug.modules)),
            )
        ),
    ]
    if debug.notes:
        blocks.append(Bullets(debug.notes))
    if facts.unreadable:
        blocks += [Subheading("Could not be read"), Bullets(facts.unreadable)]
    return Section("identification", "1. Identification", tuple(blocks))


def _system(analysis: Analysis) -> Section:
    facts = analysis.facts
    system = facts.system
    if system is None:
        return Section(
            "system", "2. System (sys)", (_why_empty(facts, "system state", ("system", "sys")),)
        )
    cpus: str | None = None
    if system.cpus is not None:
        cpus = str(system.cpus)
        if system.cpus_online is not None and system.cpus_online < system.cpus:
            cpus += f" [OFFLINE: {system.cpus - system.cpus_online}]"
    load = None
    if system.load_avg is not None:
        load = ", ".join(f"{value:.2f}" for value in system.load_avg)
    dumpfile = facts.ident.path + ("  [PARTIAL DUMP]" if facts.ident.partial else "")
    panic_message = None
    if facts.panic is not None and facts.panic.message is not None:
        panic_message = f'"{facts.panic.message}"'
    blocks: list[Block] = [
        Fields(
            (
                Field("KERNEL", facts.debuginfo.vmlinux),
                Field("DUMPFILE", dumpfile),
                Field("CPUS", cpus),
                Field("DATE", format_time(system.date)),
                Field("UPTIME", format_uptime(system.uptime_s)),
                Field("LOAD AVERAGE", load),
                Field("TASKS", system.tasks),
                Field("NODENAME", system.nodename),
                Field("RELEASE", system.release),
                Field("VERSION", system.version),
                Field("MACHINE", system.machine),
                Field("MEMORY", format_bytes(system.memory_bytes)),
                Field("PANIC", panic_message),
                Field("TAINTED", Hex(system.tainted) if system.tainted else "no (0)"),
            )
        )
    ]
    if system.taint_flags:
        blocks.append(
            Table(
                (Column("LETTER"), Column("BIT", "right"), Column("MEANING")),
                tuple(
                    Row((flag.letter, flag.bit, flag.meaning))
                    for flag in sorted(system.taint_flags, key=lambda f: f.bit)
                ),
            )
        )
    return Section("system", "2. System (sys)", tuple(blocks))


def _panic(facts: CrashFacts) -> Section:
    panic = facts.panic
    if panic is None:
        return Section("panic", "3. Panic", (_why_empty(facts, "panic facts", ("panic",)),))
    return Section(
        "panic",
        "3. Panic",
        (
            Fields(
                (
                    Field("Message", panic.message),
                    Field("Oops", panic.oops),
                    Field("CPU", panic.cpu),
                    Field("PID", panic.pid),
                    Field("Command", panic.comm),
                    Field("Task", panic.task),
                    Field("State", panic.state),
                )
            ),
        ),
    )


def frame_lines(frame: Frame) -> list[str]:
    """One frame as crash's ``bt -l`` prints it: the frame, then its source line."""
    sp = f"{int(frame.sp):016x}" if frame.sp is not None else "-".center(16)
    text = f"{'#' + str(frame.index):>4} [{sp}] {format_frame_function(frame) or '?'}"
    if frame.module:
        text += f" [{frame.module}]"
    text += f" at {int(frame.address):016x}"
    note = _frame_note(frame)
    if note:
        text += f" ({note})"
    return [text, f"     {frame.source}"] if frame.source else [text]


def _frame_note(frame: Frame) -> str | None:
    return _join(
        [
            "inlined" if frame.inline else None,
            "recovered" if frame.recovered else None,
            frame.note,
        ]
    )


def _exception_position(backtrace: Backtrace, exception: ExceptionFrame) -> int:
    """Index of the frame the exception frame is printed before (as crash places it)."""
    for i, frame in enumerate(backtrace.frames):
        if int(frame.address) == int(exception.rip):
            return i
    rsp = {k.lower(): v for k, v in exception.registers.items()}.get("rsp")
    if rsp is not None:
        for i, frame in enumerate(backtrace.frames):
            if frame.sp is not None and int(frame.sp) == int(rsp):
                return i
    return 0


def _exception_module(backtrace: Backtrace, exception: ExceptionFrame) -> str | None:
    for frame in backtrace.frames:
        if int(frame.address) == int(exception.rip):
            return frame.module
    return None


def _exception_label(exception: ExceptionFrame) -> str:
    return f"[exception RIP: {exception.rip_symbol or exception.rip}]"


def _backtrace_blocks(backtrace: Backtrace) -> list[Block]:
    """``bt``: header, exception frame, frames, user registers."""
    blocks: list[Block] = [
        Code(
            (
                f"PID: {cell_text(backtrace.pid):<8} TASK: {cell_text(backtrace.task)}  "
                f"CPU: {cell_text(backtrace.cpu):<4} COMMAND: "
                f'"{cell_text(backtrace.comm)}"',
            )
        )
    ]
    exception = backtrace.exception
    if exception is not None:
        module = _exception_module(backtrace, exception)
        kind = RIP_KIND_WORDS.get(exception.rip_kind, exception.rip_kind)
        if module is not None:
            kind += f" [{module}]"
        blocks.append(
            Fields(
                (
                    Field("RIP address", exception.rip),
                    Field("RIP is in", kind),
                    Field("CR2", exception.cr2),
                    Field(
                        "Error code",
                        None if exception.error_code is None else Hex(exception.error_code),
                    ),
                )
            )
        )
    lines: list[str] = []
    insert_at = _exception_position(backtrace, exception) if exception is not None else -1
    for i, frame in enumerate(backtrace.frames):
        if exception is not None and i == insert_at:
            lines += [f"    {_exception_label(exception)}", *register_lines(exception.registers)]
        lines += frame_lines(frame)
    if exception is not None and insert_at < 0:
        lines += [f"    {_exception_label(exception)}", *register_lines(exception.registers)]
    if backtrace.user_registers:
        lines += register_lines(backtrace.user_registers)
    if lines:
        blocks.append(Code(tuple(lines)))
    if not backtrace.frames:
        blocks.append(Note("No frames: the unwinder returned none."))
    if backtrace.error:
        blocks.append(Note(f"Unwinding stopped: {backtrace.error}"))
    return blocks


def _backtrace(facts: CrashFacts) -> Section:
    blocks: list[Block] = []
    if facts.backtrace is None:
        blocks.append(
            _why_empty(facts, "backtrace", ("backtrace", "stack", "unwind", "bt", "frame"))
        )
    else:
        blocks += _backtrace_blocks(facts.backtrace)
    panic_cpu = facts.backtrace.cpu if facts.backtrace is not None else None
    if panic_cpu is None and facts.panic is not None:
        panic_cpu = facts.panic.cpu
    others = [ctx for ctx in facts.cpus if ctx.cpu != panic_cpu]
    blocks.append(Subheading("Other CPUs (bt -a)"))
    if not facts.cpus:
        blocks.append(_why_empty(facts, "per-CPU tasks", ("cpu", "bt -a")))
    elif not others:
        blocks.append(Note("No other CPU: the dump describes only the panic CPU."))
    for ctx in sorted(others, key=lambda c: c.cpu):
        blocks.append(Subheading(f"CPU {ctx.cpu}"))
        if ctx.backtrace is not None:
            blocks += _backtrace_blocks(ctx.backtrace)
        if ctx.error:
            blocks.append(Note(f"CPU {ctx.cpu}: {ctx.error}"))
        elif ctx.backtrace is None:
            blocks.append(Note(f"CPU {ctx.cpu}: no backtrace recorded."))
    blocks += _blocked_blocks(facts)
    return Section("backtrace", "4. Backtrace (bt, bt -a)", tuple(blocks))


def _blocked_blocks(facts: CrashFacts) -> list[Block]:
    """``foreach UN bt``: the tasks in uninterruptible sleep."""
    blocks: list[Block] = [Subheading("Tasks in uninterruptible sleep (foreach UN bt)")]
    sleeping = [task for task in facts.tasks if task.state == "UN"]
    if not facts.blocked:
        if facts.tasks and not sleeping:
            blocks.append(Note("No task was in uninterruptible sleep (UN)."))
        else:
            blocks.append(
                _why_empty(facts, "backtraces of UN tasks", ("foreach", "blocked", "un bt"))
            )
        return blocks
    if len(sleeping) > len(facts.blocked):
        blocks.append(
            Note(f"{len(facts.blocked)} of the {len(sleeping)} tasks in UN state are shown.")
        )
    for backtrace in facts.blocked:
        blocks += _backtrace_blocks(backtrace)
    return blocks


def panic_task(facts: CrashFacts) -> TaskFacts | None:
    """The task row of the panic task: matched by task address, else by PID and CPU."""
    panic = facts.panic
    if panic is None:
        return None
    if panic.task is not None:
        for task in facts.tasks:
            if int(task.task) == int(panic.task):
                return task
    if panic.pid is not None:
        matches = [t for t in facts.tasks if t.pid == panic.pid]
        if panic.cpu is not None and len(matches) > 1:
            matches = [t for t in matches if t.cpu == panic.cpu] or matches
        if len(matches) == 1:
            return matches[0]
    return None


def _ps_line(task: TaskFacts, depth: int) -> str:
    return (
        " " * depth
        + f"PID: {task.pid:<6} TASK: {task.task}  CPU: {task.cpu:<3} "
        + f'COMMAND: "{task.comm}"'
    )


def _ancestors(facts: CrashFacts, task: TaskFacts) -> list[TaskFacts]:
    """The task and its parents up to PID 0, oldest first (``ps -p``)."""
    by_pid: dict[int, TaskFacts] = {}
    for candidate in facts.tasks:
        if candidate.pid == candidate.tgid and candidate.pid not in by_pid:
            by_pid[candidate.pid] = candidate
    chain = [task]
    seen = {int(task.task)}
    current = task
    while current.pid != 0:
        parent = by_pid.get(current.ppid)
        if parent is None or int(parent.task) in seen:
            break
        chain.append(parent)
        seen.add(int(parent.task))
        current = parent
    return chain[::-1]


def _processes(facts: CrashFacts) -> Section:
    if not facts.tasks:
        return Section(
            "processes",
            "5. Processes (ps)",
            (_why_empty(facts, "task list", ("task", "ps", "process")),),
        )
    culprit = panic_task(facts)
    rows = tuple(
        Row(
            (
                ">" if task.active else "",
                task.pid,
                task.ppid,
                task.cpu,
                task.task,
                task.state,
                f"{task.mem_percent:.1f}",
                task.vsz_bytes // 1024,
                task.rss_bytes // 1024,
                _comm(task),
            ),
            emphasis=culprit is not None and task is culprit,
        )
        for task in facts.tasks
    )
    blocks: list[Block] = [
        Note(
            f"{len(facts.tasks)} tasks; '>' marks a task running on its CPU (as crash's ps); "
            "VSZ and RSS in KiB."
        ),
        Table(
            (
                Column(""),
                Column("PID", "right"),
                Column("PPID", "right"),
                Column("CPU", "right"),
                Column("TASK", wrap=False),
                Column("ST"),
                Column("%MEM", "right"),
                Column("VSZ", "right"),
                Column("RSS", "right"),
                Column("COMM"),
            ),
            rows,
        ),
    ]
    if culprit is None:
        blocks.append(Note("The panic task is not in the task list, so ps -p/-c are not shown."))
        return Section("processes", "5. Processes (ps)", tuple(blocks))
    chain = _ancestors(facts, culprit)
    blocks += [
        Subheading(f"Ancestors of PID {culprit.pid} (ps -p)"),
        Code(tuple(_ps_line(task, depth) for depth, task in enumerate(chain))),
    ]
    group = {culprit.pid, culprit.tgid}
    children = [t for t in facts.tasks if t.ppid in group and t.tgid not in group]
    blocks.append(Subheading(f"Children of PID {culprit.pid} (ps -c)"))
    if children:
        blocks.append(Code(tuple(_ps_line(t, 1) for t in children)))
    else:
        blocks.append(Note(f"PID {culprit.pid} has no children."))
    threads = [t for t in facts.tasks if t.tgid == culprit.tgid]
    blocks += [
        Subheading(f"Thread group {culprit.tgid}"),
        Code(tuple(_ps_line(t, 1) for t in threads)),
    ]
    return Section("processes", "5. Processes (ps)", tuple(blocks))


def _address_details(item: AddressFacts) -> str | None:
    obj = None
    if item.object_address is not None:
        obj = f"object {item.object_address}"
        if item.object_size is not None:
            obj += f" size {item.object_size}"
    state = None
    if item.allocated is not None:
        state = "allocated" if item.allocated else "free"
    page = None
    if item.page is not None:
        page = f"page {item.page}"
        if item.page_flags:
            page += " flags " + "|".join(item.page_flags)
    task = None
    if item.task is not None or item.pid is not None:
        task = _join(
            [
                f"task {item.task}" if item.task is not None else None,
                f"pid {item.pid}" if item.pid is not None else None,
                f'"{item.comm}"' if item.comm is not None else None,
            ],
            " ",
        )
    return _join(
        [
            f"symbol {item.symbol}"
            if item.symbol and item.symbol not in item.description
            else None,
            f"module {item.module}"
            if item.module and item.module not in item.description
            else None,
            f"cache {item.slab_cache}" if item.slab_cache else None,
            obj,
            state,
            page,
            task,
            f"error: {item.error}" if item.error else None,
        ],
        "; ",
    )


def _addresses(facts: CrashFacts) -> Section:
    if not facts.addresses:
        return Section(
            "addresses",
            "6. Addresses (kmem)",
            (
                _why_empty(
                    facts,
                    "address ownership",
                    ("kmem", "address", "slab", "page"),
                    needs_exception=True,
                ),
            ),
        )
    return Section(
        "addresses",
        "6. Addresses (kmem)",
        (
            Table(
                (
                    Column("SOURCE"),
                    Column("ADDRESS"),
                    Column("KIND"),
                    Column("WHAT"),
                    Column("DETAILS"),
                ),
                tuple(
                    Row(
                        (
                            item.source,
                            item.address,
                            item.kind,
                            item.description,
                            _address_details(item),
                        )
                    )
                    for item in facts.addresses
                ),
            ),
        ),
    )


def _code(facts: CrashFacts) -> Section:
    if not facts.disassembly:
        return Section(
            "code",
            "7. Code (dis -rl)",
            (
                _why_empty(
                    facts,
                    "disassembly",
                    ("disassembl", "dis ", "code", "text"),
                    needs_exception=True,
                ),
            ),
        )
    blocks: list[Block] = []
    exception = facts.backtrace.exception if facts.backtrace is not None else None
    if exception is not None:
        blocks.append(Note(f"Up to the faulting address {exception.rip_symbol or exception.rip}."))
    blocks.append(Code(facts.disassembly))
    return Section("code", "7. Code (dis -rl)", tuple(blocks))


def _stack_health(facts: CrashFacts) -> Section:
    if not facts.stack_health:
        return Section(
            "stack",
            "8. Stack health (bt -v)",
            (_why_empty(facts, "stack checks", ("stack", "bt -v", "overflow")),),
        )
    problems = [item for item in facts.stack_health if not item.ok]
    blocks: list[Block] = [
        Note(f"{len(facts.stack_health)} task stacks checked; {len(problems)} with problems.")
    ]
    if problems:
        blocks.append(
            Table(
                (Column("PID", "right"), Column("COMM"), Column("TASK"), Column("PROBLEM")),
                tuple(Row((p.pid, p.comm, p.task, p.problem)) for p in problems),
            )
        )
    return Section("stack", "8. Stack health (bt -v)", tuple(blocks))


def _log(facts: CrashFacts) -> Section:
    if not facts.log:
        return Section(
            "log", "9. Kernel log", (_why_empty(facts, "kernel log", ("log", "printk", "dmesg")),)
        )
    before, block, tail = log_excerpt(facts)
    blocks: list[Block] = []
    if block:
        blocks += [
            Note(
                f"The {len(before)} records before the oops block, then the block "
                f"({len(block)} records) of {len(facts.log)}."
            ),
            Code(tuple(r.format() for r in before)),
            Subheading("Oops block"),
            Code(tuple(r.format() for r in block)),
        ]
    else:
        blocks += [
            Note(f"No oops block located in the log; its last {len(tail)} records."),
            Code(tuple(r.format() for r in tail)),
        ]
    if facts.oopses:
        blocks += [Subheading("Reports found in the log"), _oops_table(facts.oopses)]
    return Section("log", "9. Kernel log", tuple(blocks))


def _oops_table(reports: Sequence[OopsReport]) -> Table:
    return Table(
        (
            Column("LINES"),
            Column("KIND"),
            Column("CLASS"),
            Column("TITLE"),
            Column("FRAME"),
            Column("CORRUPTED"),
        ),
        tuple(
            Row(
                (
                    f"{o.start_line + 1}-{o.end_line}",
                    o.kind or None,
                    o.crash_class.value,
                    o.title,
                    o.frame,
                    _join([o.corrupted_reason]) if o.corrupted else False,
                )
            )
            for o in reports
        ),
    )


def _verdict(analysis: Analysis) -> Section:
    verdict = analysis.verdict
    culprit = verdict.culprit
    if culprit.task_caused is None:
        role = "cannot be told"
    elif culprit.task_caused:
        role = "caused it"
    else:
        role = "bystander"
    task = None
    if culprit.pid is not None or culprit.comm is not None:
        task = _join(
            [
                f"PID {culprit.pid}" if culprit.pid is not None else None,
                f'"{culprit.comm}"' if culprit.comm is not None else None,
            ],
            " ",
        )
    confidence = verdict.confidence
    if verdict.confidence_reason:
        confidence += f" ({verdict.confidence_reason})"
    blocks: list[Block] = [
        Fields(
            (
                Field("Class", verdict.crash_class.value),
                Field("Title", verdict.title),
                Field("Summary", verdict.summary),
                Field("Culprit function", culprit.function),
                Field("Culprit module", culprit.module),
                Field("Culprit task", task),
                Field("Panicking task", role),
                Field("Explanation", culprit.explanation or None),
                Field("Confidence", confidence),
                Field("Signature", analysis.signature),
            )
        ),
        Subheading("Evidence"),
    ]
    if verdict.evidence:
        blocks.append(
            Table(
                (Column("#", "right"), Column("CLAIM"), Column("FACT"), Column("SOURCE")),
                tuple(
                    Row((i, e.claim, e.fact, e.source)) for i, e in enumerate(verdict.evidence, 1)
                ),
            )
        )
    else:
        blocks.append(Note("The verdict quotes no evidence."))
    blocks.append(Subheading("Next steps"))
    if verdict.next_steps:
        blocks.append(Bullets(verdict.next_steps, numbered=True))
    else:
        blocks.append(Note("The verdict names no next step."))
    return Section("verdict", "10. Verdict", tuple(blocks))


def analysis_document(analysis: Analysis) -> Document:
    """The whole report for one crash, one section per step."""
    facts = analysis.facts
    version = facts.system.version if facts.system is not None else None
    return Document(
        title=f"ktriage: {analysis.verdict.title}",
        sections=(
            _identification(facts, version),
            _system(analysis),
            _panic(facts),
            _backtrace(facts),
            _processes(facts),
            _addresses(facts),
            _code(facts),
            _stack_health(facts),
            _log(facts),
            _verdict(analysis),
        ),
    )


def ident_document(ident: DumpIdentity) -> Document:
    """``ktriage ident``: what a dump is, from its headers and VMCOREINFO."""
    blocks: list[Block] = [
        Fields(
            (
                Field("File", ident.path),
                Field("Format", ident.format),
                Field("Producer", ident.producer),
                Field("Compression", ident.compression),
                Field("Dump level", ident.dump_level),
                Field("Partial", ident.partial),
                Field("Incomplete", ident.incomplete),
                Field("File size", format_bytes(ident.file_size)),
                Field("Release", ident.release),
                Field("Build ID", ident.build_id),
                Field("Architecture", ident.arch),
                Field("Page size", ident.page_size),
                Field("KASLR offset", ident.kaslr_offset),
                Field("CPUs", ident.cpus),
                Field("Crash time", format_time(ident.crash_time)),
            )
        )
    ]
    if ident.vmcoreinfo:
        blocks += [
            Subheading("VMCOREINFO"),
            Table(
                (Column("KEY"), Column("VALUE")),
                tuple(Row((key, value)) for key, value in sorted(ident.vmcoreinfo.items())),
            ),
        ]
    else:
        blocks.append(Note("No VMCOREINFO in this file."))
    return Document(
        title=f"ktriage ident: {ident.path}",
        sections=(Section("ident", "Identification", tuple(blocks)),),
    )


def _oops_line(report: OopsReport) -> str:
    text = f"lines {report.start_line + 1}-{report.end_line}: [{report.crash_class.value}] "
    text += report.title
    details = [
        f"frame {report.frame}" if report.frame else "no frame",
        f"kind {report.kind}" if report.kind else None,
        f"corrupted: {report.corrupted_reason or 'no reason given'}" if report.corrupted else None,
    ]
    return f"{text} ({_join(details, '; ')})"


def oops_document(results: Sequence[tuple[str, Sequence[OopsReport]]]) -> Document:
    """``ktriage oops FILE...``: the crash reports found in each file, one line each."""
    sections = []
    for index, (name, reports) in enumerate(results):
        block: Block
        if reports:
            block = Bullets(tuple(_oops_line(report) for report in reports))
        else:
            block = Note("No crash report found.")
        count = f"{len(reports)} crash report{'s' if len(reports) != 1 else ''}"
        sections.append(Section(f"file-{index}", f"{name}: {count}", (block,)))
    return Document(title="ktriage oops", sections=tuple(sections))
