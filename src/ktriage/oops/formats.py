"""
Oops formats
------------

What the kernel prints when it crashes, as declarative tables. The matching
engine (``ktriage.oops.engine``) knows nothing about particular reports: to
support a new kind of report, add an :class:`OopsFormat` here and a real log
to the tests.

An :class:`Oops` groups formats under a *header*, a plain substring whose
presence on a line starts a report. Inside a report, the format whose
``title`` regex matches earliest wins (ties go to the format listed first).
Regexes use named groups, and these macros:

``{{ADDR}}``
    a hex address ``0x...``;
``{{PC}}``
    a ``[<ffffffff81234567>]`` program counter;
``{{FUNC:name}}``
    a function name followed by ``+`` or ``.`` (``foo+0x12/0x40``,
    ``foo.cold+0x1``), captured as group ``name``;
``{{SRC:name}}``
    a ``path/file.c:123`` source position, captured as ``name``;
``{{RIP}}``
    the line that names the faulting instruction (x86 ``RIP:``, arm64
    ``pc :``, arm ``PC is at``); a stack part, captures the function.

A title is ``fmt`` filled from the named groups of the ``report`` match (or of
the ``title`` match without a ``report``), plus ``frame`` (and ``frame2`` for a
second stack) chosen by the ``stack`` rule. If the title matches but the
``report`` regex does not, the report is corrupted; if the stack rule finds no
frame, the frame is ``corrupted``.
"""

from dataclasses import dataclass

from ktriage.facts.base import Record
from ktriage.facts.classes import CrashClass

__all__ = (
    "CLASS_RULES",
    "CORRUPTED_TITLES",
    "FRAME_PATTERNS",
    "INFO_WITH_STACK",
    "OOPSES",
    "REPORT_START_IGNORES",
    "STACK",
    "STACK_START",
    "TITLE_REPLACEMENTS",
    "ClassRule",
    "Oops",
    "OopsFormat",
    "StackRule",
)

STACK = "{{STACK}}"
"""A stack-rule part meaning: parse a call trace from here."""

C = CrashClass


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class StackRule(Record):
    """How to find the guilty frame in a report."""

    parts: tuple[str, ...]
    """Regexes matched on successive lines; a capturing one yields a frame,
    :data:`STACK` parses a call trace until the next part or trace matches."""
    parts2: tuple[str, ...] = ()
    """Tried when ``parts`` finds no frame."""
    skip: tuple[str, ...] = ()
    """Frames never to blame for this format, on top of the reviewed list."""
    extractor: str = "first"
    """``first`` (first frame not skipped), ``stall`` (frame above a dispatch
    anchor, for stalls and lockups) or ``hung`` (where a blocked task sleeps)."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class OopsFormat(Record):
    """One way a report of a given header can look."""

    title: str
    """Regex that identifies this format in the report."""
    fmt: str
    """Title template: ``{group}`` from the match, ``{frame}``, ``{frame2}``."""
    crash_class: CrashClass
    """Class when no :data:`CLASS_RULES` entry is more specific."""
    report: str | None = None
    """Regex the whole report must match; its groups fill ``fmt``."""
    alt: tuple[str, ...] = ()
    """Alternative titles (same template syntax)."""
    stack: StackRule | None = None
    no_stack_trace: bool = False
    """The report has no call trace by nature (don't call it corrupted)."""
    corrupted: bool = False
    """Matching this format means the report is corrupted or truncated."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Oops(Record):
    """A family of reports sharing a header substring."""

    header: str
    kind: str
    """Short name of the family (``KASAN``, ``BUG``, ``WARNING``, ...)."""
    formats: tuple[OopsFormat, ...]
    suppressions: tuple[str, ...] = ()
    """Regexes: a header line matching one of these does not start a report."""
    line_start: bool = False
    """The header must begin the message (after the log prefix): a driver's
    ``pr_warn("...: WARNING: ...")`` is not a kernel warning."""
    start: str | None = None
    """Regex the header line must match to start a report: for headers that
    drivers also print (``INFO:``), only the kernel's own reports count."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ClassRule(Record):
    """Refines the class of a report; the first matching rule wins."""

    crash_class: CrashClass
    title: str | None = None
    """Regex searched in the title."""
    report: str | None = None
    """Regex searched in the report text (multi-line)."""


# The line that starts the call trace: x86 "Call Trace:", arm64 "Call trace:",
# arm "Backtrace:".
_TRACE = "(?:Call [Tt]race:|Backtrace:)"


def _calltrace(*skip: str, extractor: str = "first") -> StackRule:
    return StackRule(parts=(_TRACE, STACK), skip=skip, extractor=extractor)


def _rip_then_trace(*skip: str, extractor: str = "first") -> StackRule:
    return StackRule(
        parts=("{{RIP}}", _TRACE, STACK),
        parts2=(_TRACE, STACK),
        skip=skip,
        extractor=extractor,
    )


def _warning_stack(*skip: str) -> StackRule:
    # Newer kernels trap on WARN() and print the RIP line first; older ones only
    # print the stack. powerpc prints "--- interrupt:" instead of RIP.
    return StackRule(
        parts=("(?:{{RIP}}|--- interrupt: [0-9]+ at {{FUNC}})", STACK),
        parts2=(_TRACE, STACK),
        skip=skip,
    )


_PAGE_FAULT_STACK = _rip_then_trace()

# What SLUB debugging reports (mm/slub.c slab_err/object_err callers).
_SLUB_PROBLEMS = (
    "(?:Poison overwritten|(?:Left |Right )?Redzone overwritten|Object already free"
    "|Freepointer corrupt|Freechain corrupt|Wrong object count|Padding overwritten"
    "|Object padding overwritten|Invalid object pointer|Objects remaining"
    "|Not a valid slab page|Wrong number of objects|Freelist Pointer check fails)"
)

# User-space faults that the kernel only logs ("traps: a.out[123] general
# protection fault ip:..."): not kernel crashes.
_USER_TRAPS = ("traps: \\S+\\[[0-9]+\\]",)

# The timer interrupt entry: what runs below it is what stalled.
_IRQ_ENTRY = "apic_timer_interrupt|\\(__irq_svc[)+]|el1h_64_irq|el1_irq\\b|handle_exception"

_LOCKDEP_AT = "at: (?:{{PC}} +)?{{FUNC:func}}"
_LOCKDEP_AT_FRAME = "at: (?:{{PC}} +)?{{FUNC}}"

OOPSES: tuple[Oops, ...] = (
    Oops(
        header="BUG:",
        kind="BUG",
        formats=(
            OopsFormat(
                title="BUG: KASAN:",
                report=(
                    "BUG: KASAN: (?P<kind>[a-z\\-]+) in {{FUNC:func}}(?:.*\\n)+?"
                    ".*(?P<access>Read|Write) (?:of size|at addr) [0-9a-f]+"
                ),
                fmt="KASAN: {kind} {access} in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.MEMORY_CORRUPTION,
                stack=StackRule(
                    parts=("BUG: KASAN: (?:[a-z\\-]+) in {{FUNC}}", _TRACE, STACK),
                ),
            ),
            OopsFormat(
                title="BUG: KASAN:",
                report=(
                    "BUG: KASAN: (?:double-free or invalid-free|invalid-free|double-free) "
                    "in {{FUNC:func}}"
                ),
                fmt="KASAN: invalid-free in {frame}",
                crash_class=C.USE_AFTER_FREE,
                stack=StackRule(
                    parts=(
                        (
                            "BUG: KASAN: (?:double-free or invalid-free|invalid-free|double-free) "
                            "in {{FUNC}}"
                        ),
                        _TRACE,
                        STACK,
                    ),
                    skip=("kmem_", "slab_", "kfree", "vunmap", "vfree"),
                ),
            ),
            OopsFormat(
                title=(
                    "BUG: KASAN: (?P<kind>[a-z\\-]+) on address(?:.*\\n)+?"
                    ".*(?P<access>Read|Write) of size ([0-9]+)"
                ),
                fmt="KASAN: {kind} {access}",
                crash_class=C.MEMORY_CORRUPTION,
            ),
            OopsFormat(
                title=(
                    "BUG: KASAN: (?P<kind>[a-z\\-]+) in {{FUNC:func}}(?:.*\\n)+?.*(?:Read|"
                    "Write) of size"
                ),
                fmt="KASAN: {kind} in {func}",
                crash_class=C.MEMORY_CORRUPTION,
                corrupted=True,
            ),
            OopsFormat(
                title="BUG: KASAN: (?P<rest>.*)",
                fmt="KASAN: {rest}",
                crash_class=C.MEMORY_CORRUPTION,
                corrupted=True,
            ),
            OopsFormat(
                title="BUG: KMSAN: kernel-usb-infoleak",
                report="BUG: KMSAN: kernel-usb-infoleak in {{FUNC:func}}",
                fmt="KMSAN: kernel-usb-infoleak in {frame}",
                crash_class=C.MEMORY_CORRUPTION,
                stack=StackRule(
                    parts=(_TRACE, STACK),
                    parts2=("BUG: KMSAN: [a-z\\-]+ in {{FUNC}}", STACK),
                    skip=(
                        "usb_submit_urb",
                        "usb_start_wait_urb",
                        "usb_bulk_msg",
                        "usb_interrupt_msg",
                        "usb_control_msg",
                    ),
                ),
            ),
            OopsFormat(
                title="BUG: KMSAN:",
                report="BUG: KMSAN: (?P<kind>[a-z\\-]+) in {{FUNC:func}}",
                fmt="KMSAN: {kind} in {frame}",
                crash_class=C.MEMORY_CORRUPTION,
                # Older KMSAN prints "Call Trace:", newer prints the stack
                # right after the title line.
                stack=StackRule(
                    parts=(_TRACE, STACK),
                    parts2=("BUG: KMSAN: [a-z\\-]+ in {{FUNC}}", STACK),
                ),
            ),
            OopsFormat(
                title="BUG: KCSAN: data-race",
                report="BUG: KCSAN: data-race in {{FUNC:f1}}(?:.*\\n)+?.*(?:read|write)",
                fmt="KCSAN: data-race in {frame} / {frame2}",
                crash_class=C.UNKNOWN,
                stack=StackRule(
                    parts=(
                        "(?:read|write|race at unknown origin, with read)[- a-z]* to",
                        STACK,
                        "(?:read|write|race at unknown origin, with read)[- a-z]* to",
                        STACK,
                    ),
                    skip=("kcsan", "tsan"),
                ),
                no_stack_trace=True,
            ),
            OopsFormat(
                title="BUG: KCSAN: (?P<rest>.*)",
                fmt="KCSAN: {rest}",
                crash_class=C.UNKNOWN,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="BUG: KFENCE: (?P<kind>[a-z\\- ]+) in {{FUNC:func}}",
                fmt="KFENCE: {kind} in {frame}",
                crash_class=C.MEMORY_CORRUPTION,
                stack=StackRule(
                    parts=("BUG: KFENCE: [a-z\\- ]+ in {{FUNC}}", STACK),
                    skip=("kfence",),
                ),
                no_stack_trace=True,
            ),
            OopsFormat(
                title=(
                    "BUG: (?:unable to handle kernel paging request|unable to handle page "
                    "fault for address|Unable to handle kernel data access|Unable to "
                    "handle kernel paging request)"
                ),
                fmt="BUG: unable to handle kernel paging request in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.BAD_POINTER_DEREFERENCE,
                stack=_PAGE_FAULT_STACK,
            ),
            OopsFormat(
                title=(
                    "BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL "
                    "pointer dereference|Kernel NULL pointer dereference)"
                ),
                fmt="BUG: unable to handle kernel NULL pointer dereference in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.NULL_POINTER_DEREFERENCE,
                stack=_PAGE_FAULT_STACK,
            ),
            OopsFormat(
                title="BUG: (?:unable to handle kernel|Unable to handle kernel)",
                fmt="BUG: unable to handle kernel",
                crash_class=C.BAD_POINTER_DEREFERENCE,
                corrupted=True,
            ),
            OopsFormat(
                title="BUG: (?:[A-Z]+ )?stack guard page was hit at",
                fmt="BUG: stack guard page was hit in {frame}",
                alt=("stack-overflow in {frame}",),
                crash_class=C.STACK_OVERFLOW,
                # The top of an overflowed stack is wherever the recursion
                # happened to be: name it by its entry, as for stalls.
                stack=_rip_then_trace(extractor="stall"),
                no_stack_trace=True,
            ),
            OopsFormat(
                title=(
                    "BUG: spinlock (?P<what>lockup suspected|already unlocked|recursion|"
                    "bad magic|wrong owner|wrong CPU)"
                ),
                fmt="BUG: spinlock {what} in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_calltrace("spin_"),
            ),
            OopsFormat(
                title=(
                    "BUG: rwlock (?P<what>lockup suspected|already unlocked|recursion|bad "
                    "magic|wrong owner|wrong CPU)"
                ),
                fmt="BUG: rwlock {what} in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_calltrace("rwlock_", "read_", "write_"),
            ),
            OopsFormat(
                title="BUG: soft lockup",
                fmt="BUG: soft lockup in {frame}",
                alt=("stall in {frame}",),
                crash_class=C.SOFT_LOCKUP,
                stack=_rip_then_trace(extractor="stall"),
            ),
            OopsFormat(
                title="BUG: .*still has locks held!",
                report="BUG: .*still has locks held!(?:.*\\n)+?.*{{PC}} +{{FUNC:func}}",
                fmt="BUG: still has locks held in {func}",
                crash_class=C.BUG_ASSERTION,
            ),
            OopsFormat(
                title="BUG: lock held when returning to user space",
                report=(
                    "BUG: lock held when returning to user space(?:.*\\n)+?"
                    ".*leaving the kernel with locks still held(?:.*\\n)+?"
                    ".*at: (?:{{PC}} +)?{{FUNC:func}}"
                ),
                fmt="BUG: lock held when returning to user space in {func}",
                crash_class=C.BUG_ASSERTION,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="BUG: bad unlock balance detected!",
                fmt="BUG: bad unlock balance in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=StackRule(
                    parts=("is trying to release lock", "(?:at: )?(?:{{PC}} +)?{{FUNC}}")
                ),
            ),
            OopsFormat(
                # lockdep's wait-type check (CONFIG_PROVE_RAW_LOCK_NESTING).
                title="BUG: Invalid wait context",
                fmt="WARNING: locking bug in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_calltrace(),
            ),
            OopsFormat(
                title="BUG: held lock freed!",
                report="BUG: held lock freed!(?:.*\\n)+?.*{{PC}} +{{FUNC:func}}",
                fmt="BUG: held lock freed in {func}",
                crash_class=C.USE_AFTER_FREE,
            ),
            OopsFormat(
                title="BUG: Bad rss-counter state",
                fmt="BUG: Bad rss-counter state",
                crash_class=C.MEMORY_CORRUPTION,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="BUG: non-zero (?P<what>nr_ptes|nr_pmds) on freeing mm",
                fmt="BUG: non-zero {what} on freeing mm",
                crash_class=C.MEMORY_CORRUPTION,
                no_stack_trace=True,
            ),
            OopsFormat(
                title=(
                    "BUG: Dentry .* still in use \\([0-9]+\\) \\[(?P<op>unmount) of "
                    "(?P<fs>[^\\]]+)\\]"
                ),
                fmt="BUG: Dentry still in use in {op}",
                crash_class=C.BUG_ASSERTION,
            ),
            OopsFormat(
                title="BUG: Dentry .* still in use",
                fmt="BUG: Dentry still in use in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_calltrace("dput", "shrink_", "dentry", "d_walk", "generic_shutdown"),
            ),
            OopsFormat(
                title="BUG: Bad page state",
                fmt="BUG: Bad page state in {frame}",
                crash_class=C.MEMORY_CORRUPTION,
                # With page_owner, the allocation site of the page names the
                # user that left it in a bad state; without it, who knows.
                stack=StackRule(
                    parts=("page last allocated via", STACK),
                    skip=(
                        "page_owner",
                        "post_alloc_hook",
                        "get_page_from_freelist",
                        "alloc",
                        "folio",
                        "filemap_",
                        "pagecache_get_page",
                        "page_pool",
                        "prep_new_page",
                    ),
                ),
            ),
            OopsFormat(
                title="BUG: Bad page map",
                fmt="BUG: Bad page map",
                crash_class=C.MEMORY_CORRUPTION,
            ),
            OopsFormat(
                title="BUG: workqueue lockup",
                fmt="BUG: workqueue lockup",
                crash_class=C.SOFT_LOCKUP,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="BUG: sleeping function called from invalid context at (?P<at>.*)",
                fmt="BUG: sleeping function called from invalid context in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_calltrace("__might_sleep", "__might_resched", "might_alloc"),
            ),
            OopsFormat(
                title="BUG: scheduling while atomic",
                fmt="BUG: scheduling while atomic in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_calltrace("schedule", "preempt", "__switch_to", "context_switch"),
            ),
            OopsFormat(
                title="BUG: using (?P<what>[a-z_]+)\\(\\) in preemptible",
                fmt="BUG: using {what}() in preemptible code in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_calltrace(
                    "dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu"
                ),
            ),
            OopsFormat(
                title="BUG: workqueue leaked lock or atomic",
                report=(
                    "BUG: workqueue leaked lock or atomic(?:.*\\n)+?.*last function: "
                    "(?P<func>[a-zA-Z0-9_]+)\\n"
                ),
                fmt="BUG: workqueue leaked lock or atomic in {func}",
                crash_class=C.BUG_ASSERTION,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="BUG: memory leak",
                fmt="memory leak in {frame}",
                crash_class=C.OUT_OF_MEMORY,
                stack=StackRule(
                    parts=("backtrace(?: \\(crc [0-9a-f]+\\))?:", STACK),
                    skip=(
                        "kmemleak",
                        "kmalloc",
                        "kcalloc",
                        "kzalloc",
                        "krealloc",
                        "vmalloc",
                        "mmap",
                        "kmem",
                        "slab",
                        "alloc",
                        "create_object",
                        "^kobject_",  # kobject helpers allocate the name for their caller
                        "idr_get",
                        "list_lru_init",
                        "kasprintf",
                        "kvasprintf",
                        "pcpu_create",
                        "strdup",
                        "strndup",
                        "memdup",
                    ),
                ),
            ),
            OopsFormat(
                title="BUG: MAX_STACK_TRACE_ENTRIES too low!",
                fmt="BUG: MAX_STACK_TRACE_ENTRIES too low!",
                crash_class=C.BUG_ASSERTION,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="BUG: (?P<rest>[^\\n]*[a-zA-Z][^\\n]*)",
                fmt="BUG: {rest}",
                crash_class=C.BUG_ASSERTION,
                no_stack_trace=True,
                corrupted=True,
            ),
            OopsFormat(
                title="BUG:[ \\t]*(?:\\n|$)",
                fmt="BUG: corrupted",
                crash_class=C.UNKNOWN,
                corrupted=True,
            ),
        ),
        suppressions=(
            "ODEBUG:",  # CONFIG_DEBUG_OBJECTS output
            "Boot_DEBUG:",  # Android boot chatter
            "xlog_status:",
            "DEBUG:",  # Android ART debug output
            "BUG: no syscalls can create resource",  # fuzzer host checks
        ),
    ),
    Oops(
        header="WARNING:",
        kind="WARNING",
        line_start=True,
        formats=(
            OopsFormat(
                title="WARNING: .*lib/debugobjects\\.c",
                fmt="WARNING: ODEBUG bug in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack(
                    "debug_",
                    "rcu",
                    "hrtimer_",
                    "timer_",
                    "work_",
                    "percpu_",
                    "kmem_",
                    "slab_",
                    "kfree",
                    "vunmap",
                    "vfree",
                    "__free_",
                    "debug_check",
                    "kobject_",
                ),
            ),
            OopsFormat(
                title="WARNING: .*mm/usercopy\\.c.* usercopy_warn",
                fmt="WARNING: bad usercopy in {frame}",
                crash_class=C.MEMORY_CORRUPTION,
                stack=_warning_stack("usercopy", "__check"),
            ),
            OopsFormat(
                title="WARNING: .*lib/kobject\\.c.* kobject_",
                fmt="WARNING: kobject bug in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack("kobject_"),
            ),
            OopsFormat(
                title="WARNING: .*fs/proc/generic\\.c.* proc_register",
                fmt="WARNING: proc registration bug in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack("proc_"),
            ),
            OopsFormat(
                title="WARNING: .*lib/refcount\\.c.* refcount_",
                fmt="WARNING: refcount bug in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack("refcount", "kobject_"),
            ),
            OopsFormat(
                title="WARNING: .*kernel/locking/lockdep\\.c.*lock_",
                fmt="WARNING: locking bug in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack("lock_sock", "release_sock"),
            ),
            OopsFormat(
                title="WARNING: .*still has locks held!",
                report=(
                    "WARNING: .*still has locks held!(?:.*\\n)+?.*at: (?:{{PC}} +)?{{FUNC:func}}"
                ),
                fmt="WARNING: still has locks held in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title="WARNING: Nested lock was not taken",
                fmt="WARNING: nested lock was not taken in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_calltrace(),
            ),
            OopsFormat(
                title="WARNING: lock held when returning to user space",
                report=(
                    "WARNING: lock held when returning to user space(?:.*\\n)+?"
                    ".*leaving the kernel with locks still held(?:.*\\n)+?"
                    ".*at: (?:{{PC}} +)?{{FUNC:func}}"
                ),
                fmt="WARNING: lock held when returning to user space in {func}",
                crash_class=C.WARNING_PANIC,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="WARNING: .*mm/.*\\.c.* (?:k?.?malloc|vmalloc)",
                fmt="WARNING: kmalloc bug in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack(
                    "kmalloc", "kcalloc", "kzalloc", "krealloc", "vmalloc", "slab", "kmem"
                ),
            ),
            OopsFormat(
                title="WARNING: .*mm/vmalloc\\.c.*__vmalloc_node_range",
                fmt="WARNING: zero-size vmalloc in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack("vmalloc", "kvmalloc", "kvzalloc"),
            ),
            OopsFormat(
                title="WARNING: .* usb_submit_urb",
                fmt="WARNING in {frame}/usb_submit_urb",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack(
                    "usb_submit_urb",
                    "usb_start_wait_urb",
                    "usb_bulk_msg",
                    "usb_interrupt_msg",
                    "usb_control_msg",
                ),
            ),
            OopsFormat(
                # Since 6.16: "WARNING: file.c:123 at func+0x1/0x2, CPU#0: comm/123",
                # optionally with the failed condition in brackets first.
                title="WARNING: (?:\\[.*\\] )?{{SRC:src}} at (?:{{FUNC:func}}|0x[0-9a-f]+)",
                fmt="WARNING in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack(),
            ),
            OopsFormat(
                title="WARNING: .* at {{SRC:src}} {{FUNC:func}}",
                fmt="WARNING in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack(),
            ),
            OopsFormat(
                title="WARNING: .* at {{SRC:src}}(?: \\[[a-z0-9_]+\\])?\\n",
                fmt="WARNING in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack(),
            ),
            OopsFormat(
                title="WARNING: possible circular locking dependency detected",
                report=(
                    "WARNING: possible circular locking dependency detected(?:.*\\n)+?.*is "
                    "trying to acquire lock"
                ),
                fmt="possible deadlock in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=StackRule(
                    parts=(
                        "at: (?:{{PC}} +)?{{FUNC}}",
                        "at: (?:{{PC}} +)?{{FUNC}}",
                        STACK,
                    ),
                    # These workqueue functions take locks of work items: a
                    # deadlock reported in them is about the work item.
                    skip=(
                        "process_one_work",
                        "flush_workqueue",
                        "drain_workqueue",
                        "destroy_workqueue",
                    ),
                ),
            ),
            OopsFormat(
                title="WARNING: possible irq lock inversion dependency detected",
                report=(
                    "WARNING: possible irq lock inversion dependency detected(?:.*\\n)+?"
                    ".*just changed the state of lock(?:.*\\n)+?.*" + _LOCKDEP_AT
                ),
                fmt="possible deadlock in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title=(
                    "WARNING: (?:SOFTIRQ|HARDIRQ)-safe -> (?:SOFTIRQ|HARDIRQ)-unsafe lock "
                    "order detected"
                ),
                fmt="possible deadlock in {frame}",
                crash_class=C.WARNING_PANIC,
                # Where the lock became IRQ-safe: the IRQ path taking it.
                stack=StackRule(
                    parts=("which became (?:SOFT|HARD)IRQ-irq-safe at:", STACK),
                    parts2=(_LOCKDEP_AT_FRAME,),
                ),
            ),
            OopsFormat(
                title="WARNING: possible recursive locking detected",
                report=(
                    "WARNING: possible recursive locking detected(?:.*\\n)+?"
                    ".*is trying to acquire lock(?:.*\\n)+?.*" + _LOCKDEP_AT
                ),
                fmt="possible deadlock in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title="WARNING: inconsistent lock state",
                fmt="inconsistent lock state in {frame}",
                crash_class=C.WARNING_PANIC,
                # The stack of the inconsistent acquisition, past lockdep.
                stack=StackRule(
                    parts=(_TRACE, STACK),
                    parts2=("takes:", _LOCKDEP_AT_FRAME),
                    skip=("print_usage_bug", "^mark_", "valid_state", "^lock_", "^__lock_"),
                ),
            ),
            OopsFormat(
                title="WARNING: suspicious RCU usage",
                report="WARNING: suspicious RCU usage(?:.*\\n)+?.*?{{SRC:src}}",
                fmt="WARNING: suspicious RCU usage in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_calltrace("rcu", "kmem", "slab", "kmalloc", "vmalloc", "kcalloc", "kzalloc"),
            ),
            OopsFormat(
                title=(
                    "WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad "
                    "'(?P<reg>[^']+)' value"
                ),
                fmt="WARNING: kernel stack regs has bad '{reg}' value",
                crash_class=C.WARNING_PANIC,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value",
                fmt="WARNING: kernel stack frame pointer has bad value",
                crash_class=C.WARNING_PANIC,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="WARNING: bad unlock balance detected!",
                report=(
                    "WARNING: bad unlock balance detected!(?:.*\\n){0,15}?"
                    ".*is trying to release lock(?:.*\\n){0,15}?.*{{PC}} +{{FUNC:func}}"
                ),
                fmt="WARNING: bad unlock balance in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title="WARNING: held lock freed!",
                report="WARNING: held lock freed!(?:.*\\n)+?.*at:(?: {{PC}})? +{{FUNC:func}}",
                fmt="WARNING: held lock freed in {func}",
                crash_class=C.USE_AFTER_FREE,
            ),
            OopsFormat(
                title="WARNING: kernel stack regs .* has bad 'bp' value",
                fmt="WARNING: kernel stack regs has bad value",
                crash_class=C.WARNING_PANIC,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="WARNING: kernel stack frame pointer .* has bad value",
                fmt="WARNING: kernel stack regs has bad value",
                crash_class=C.WARNING_PANIC,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="WARNING: (?P<rest>[^\\n]*[a-zA-Z][^\\n]*)",
                fmt="WARNING: {rest}",
                crash_class=C.WARNING_PANIC,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="WARNING:[ \\t]*(?:\\n|$)",
                fmt="WARNING in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_warning_stack(),
                corrupted=True,
            ),
        ),
        suppressions=(
            "WARNING: /etc/ssh/moduli does not exist, using fixed modulus",  # sshd
            "WARNING: workqueue cpumask: online intersect > possible intersect",
            "WARNING: [Tt]he mand mount option",
            "WARNING: Unsupported flag value",
            "WARNING: [a-z_]+ is deprecated",
            "WARNING: Support for .* is deprecated",
            "WARNING: CPU: [0-9]+ PID: [0-9]+ at .*usbip",
            "usbip: WARNING:",
        ),
    ),
    Oops(
        header="INFO:",
        kind="INFO",
        start=(
            "INFO:(?: (?:possible |inconsistent lock state|SOFTIRQ-safe|HARDIRQ-safe"
            "|rcu_(?:preempt|sched|bh) |trying to register non-static key"
            "|suspicious RCU usage|task |(?:Freed|Allocated) in )|[ \\t]*$)"
        ),
        formats=(
            OopsFormat(
                title="INFO: possible circular locking dependency detected",
                report=(
                    "INFO: possible circular locking dependency detected \\](?:.*\\n)+?"
                    ".*is trying to acquire lock(?:.*\\n)+?.*at: {{PC}} +{{FUNC:func}}"
                ),
                fmt="possible deadlock in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title="INFO: possible irq lock inversion dependency detected",
                report=(
                    "INFO: possible irq lock inversion dependency detected \\](?:.*\\n)+?"
                    ".*just changed the state of lock(?:.*\\n)+?.*at: {{PC}} +{{FUNC:func}}"
                ),
                fmt="possible deadlock in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title="INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
                report=(
                    "INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \\](?:.*\\n)+?"
                    ".*is trying to acquire(?:.*\\n)+?.*at: {{PC}} +{{FUNC:func}}"
                ),
                fmt="possible deadlock in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title="INFO: possible recursive locking detected",
                report=(
                    "INFO: possible recursive locking detected \\](?:.*\\n)+?"
                    ".*is trying to acquire lock(?:.*\\n)+?.*at: {{PC}} +{{FUNC:func}}"
                ),
                fmt="possible deadlock in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title="INFO: inconsistent lock state",
                report=(
                    "INFO: inconsistent lock state \\](?:.*\\n)+?.*takes(?:.*\\n)+?.*at: "
                    "{{PC}} +{{FUNC:func}}"
                ),
                fmt="inconsistent lock state in {func}",
                crash_class=C.WARNING_PANIC,
            ),
            OopsFormat(
                title="INFO: rcu_(?:preempt|sched|bh) (?:self-)?detected(?: expedited)? stall",
                fmt="INFO: rcu detected stall in {frame}",
                alt=("stall in {frame}",),
                crash_class=C.RCU_STALL,
                stack=StackRule(
                    parts=(_IRQ_ENTRY, "{{RIP}}", STACK),
                    parts2=(_IRQ_ENTRY, STACK),
                    skip=("apic_timer_interrupt", "rcu"),
                    extractor="stall",
                ),
            ),
            OopsFormat(
                title="INFO: trying to register non-static key",
                fmt="INFO: trying to register non-static key in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_calltrace("stack", "lock", "IRQ"),
            ),
            OopsFormat(
                title="INFO: suspicious RCU usage",
                report="INFO: suspicious RCU usage(?:.*\\n)+?.*?{{SRC:src}}",
                fmt="INFO: suspicious RCU usage in {frame}",
                crash_class=C.WARNING_PANIC,
                stack=_calltrace("rcu", "kmem", "slab", "kmalloc", "vmalloc", "kcalloc", "kzalloc"),
            ),
            OopsFormat(
                # A task name can hold a line break: allow one.
                title="INFO: task [^\\n]*(?:\\n[^\\n]*)? blocked for more than [0-9]+ seconds",
                fmt="INFO: task hung in {frame}",
                alt=("hang in {frame}",),
                crash_class=C.HUNG_TASK,
                stack=_calltrace(extractor="hung"),
            ),
            OopsFormat(
                title="INFO: task .* can't die for more than .* seconds",
                fmt="INFO: task can't die in {frame}",
                crash_class=C.HUNG_TASK,
                stack=_calltrace("schedule"),
            ),
            OopsFormat(
                # Captured for corrupted old-style KASAN reports.
                title="INFO: (?P<what>Freed|Allocated) in (?P<rest>.*)",
                fmt="INFO: {what} in {rest}",
                crash_class=C.USE_AFTER_FREE,
                corrupted=True,
            ),
            OopsFormat(
                title="INFO:[ \\t]*(?:\\n|$)",
                fmt="INFO: corrupted",
                crash_class=C.UNKNOWN,
                corrupted=True,
            ),
        ),
        suppressions=(
            "INFO: lockdep is turned off",
            "INFO: Stall ended before state dump start",
            "INFO: NMI handler",
            "INFO: recovery required on readonly filesystem",
            "(handler|interrupt).*took too long",
            "_INFO::",  # Android boot chatter
            "INFO: sys_.* is not present in /proc/kallsyms",  # fuzzer host checks
            "INFO: no syscalls can create resource",
        ),
    ),
    Oops(
        header="Unable to handle kernel",
        kind="BUG",
        formats=(
            OopsFormat(
                title="Unable to handle kernel access to user memory",
                fmt="BUG: unable to handle kernel access to user memory in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.BAD_POINTER_DEREFERENCE,
                stack=_rip_then_trace(),
            ),
            OopsFormat(
                title="Unable to handle kernel NULL pointer dereference",
                fmt="BUG: unable to handle kernel NULL pointer dereference in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.NULL_POINTER_DEREFERENCE,
                stack=_rip_then_trace(),
            ),
            OopsFormat(
                title=(
                    "Unable to handle kernel (?:paging request|execute from non-executable "
                    "memory|write to read-only memory)"
                ),
                fmt="BUG: unable to handle kernel paging request in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.BAD_POINTER_DEREFERENCE,
                stack=_rip_then_trace(),
            ),
        ),
    ),
    Oops(
        header="general protection fault",
        kind="GPF",
        suppressions=_USER_TRAPS,
        formats=(
            OopsFormat(
                title="general protection fault.*:",
                fmt="general protection fault in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.GENERAL_PROTECTION_FAULT,
                stack=_rip_then_trace(),
            ),
        ),
    ),
    Oops(
        header="stack segment: ",
        kind="GPF",
        suppressions=_USER_TRAPS,
        formats=(
            OopsFormat(
                title="stack segment: ",
                fmt="stack segment fault in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.GENERAL_PROTECTION_FAULT,
                stack=_rip_then_trace(),
            ),
        ),
    ),
    Oops(
        header="Kernel panic",
        kind="panic",
        formats=(
            OopsFormat(
                title="Kernel panic - not syncing: stack-protector:",
                report=(
                    "Kernel panic - not syncing: stack-protector: Kernel stack is "
                    "corrupted in: {{FUNC:func}}"
                ),
                fmt="kernel panic: stack is corrupted in {func}",
                crash_class=C.STACK_OVERFLOW,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="Kernel panic - not syncing: stack-protector:",
                report=(
                    "Kernel panic - not syncing: stack-protector: Kernel stack is "
                    "corrupted in: [a-f0-9]+"
                ),
                fmt="kernel panic: stack is corrupted in {frame}",
                crash_class=C.STACK_OVERFLOW,
                stack=_calltrace("stack_chk"),
            ),
            OopsFormat(
                title="Kernel panic - not syncing: corrupted stack end",
                report="Kernel panic - not syncing: corrupted stack end detected inside scheduler",
                fmt="kernel panic: corrupted stack end in {frame}",
                crash_class=C.STACK_OVERFLOW,
                stack=_calltrace("schedule", "retint_kernel", extractor="stall"),
            ),
            OopsFormat(
                title="Kernel panic - not syncing: kernel stack overflow",
                fmt="kernel stack overflow in {frame}",
                alt=("stack-overflow in {frame}",),
                crash_class=C.STACK_OVERFLOW,
                stack=_calltrace(extractor="stall"),
            ),
            OopsFormat(
                title="Kernel panic - not syncing: sysrq triggered crash",
                fmt="kernel panic: sysrq triggered crash",
                crash_class=C.SYSRQ_CRASH,
                stack=_calltrace(),
            ),
            OopsFormat(
                title="Kernel panic - not syncing: Attempted to kill init!",
                fmt="kernel panic: Attempted to kill init!",
                crash_class=C.EXPLICIT_PANIC,
            ),
            OopsFormat(
                title=(
                    "Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- "
                    "error -[0-9]+"
                ),
                fmt="kernel panic: Couldn't open N_TTY ldisc",
                crash_class=C.EXPLICIT_PANIC,
            ),
            OopsFormat(
                # Printed after an oops: alone, the oops itself was lost.
                title="Kernel panic - not syncing: Fatal exception",
                fmt="kernel panic: Fatal exception",
                crash_class=C.EXPLICIT_PANIC,
                corrupted=True,
            ),
            OopsFormat(
                # Printed after a WARNING or KASAN report that was lost.
                title="Kernel panic - not syncing: panic_on_warn set",
                fmt="kernel panic: panic_on_warn set",
                crash_class=C.WARNING_PANIC,
                corrupted=True,
            ),
            OopsFormat(
                # Printed after a hung task report that was lost.
                title="Kernel panic - not syncing: hung_task: blocked tasks",
                fmt="kernel panic: hung_task: blocked tasks",
                crash_class=C.HUNG_TASK,
                corrupted=True,
            ),
            OopsFormat(
                title="Kernel panic - not syncing: (?P<msg>.*)",
                fmt="kernel panic: {msg}",
                crash_class=C.EXPLICIT_PANIC,
                no_stack_trace=True,
            ),
        ),
    ),
    Oops(
        header="PANIC: double fault",
        kind="double-fault",
        formats=(
            OopsFormat(
                title="PANIC: double fault",
                fmt="PANIC: double fault in {frame}",
                crash_class=C.DOUBLE_FAULT,
                stack=StackRule(parts=("{{RIP}}",)),
            ),
        ),
    ),
    Oops(
        header="kernel BUG",
        kind="BUG",
        formats=(
            OopsFormat(
                title="kernel BUG at mm/usercopy.c",
                fmt="BUG: bad usercopy in {frame}",
                crash_class=C.MEMORY_CORRUPTION,
                stack=_calltrace("usercopy", "__check"),
            ),
            OopsFormat(
                title="kernel BUG at lib/list_debug.c",
                fmt="BUG: corrupted list in {frame}",
                crash_class=C.MEMORY_CORRUPTION,
                stack=_calltrace(),
            ),
            OopsFormat(
                title="kernel BUG at (?P<at>.*)",
                fmt="kernel BUG in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_rip_then_trace(),
            ),
        ),
    ),
    Oops(
        header="Kernel BUG",
        kind="BUG",
        formats=(
            OopsFormat(
                title="Kernel BUG (?P<rest>.*)",
                fmt="kernel BUG {rest}",
                crash_class=C.BUG_ASSERTION,
            ),
        ),
    ),
    Oops(
        # SLUB debugging (slub_debug=FZPU): "BUG kmalloc-1k (Tainted: G  B): Poison overwritten".
        header="BUG ",
        kind="SLUB",
        line_start=True,
        # Only "BUG <cache> (<taint>): <problem>" with a problem SLUB reports.
        suppressions=("^\\s*BUG (?!\\S+ \\(.*\\): " + _SLUB_PROBLEMS + ")",),
        formats=(
            OopsFormat(
                title="BUG [^ ]+ \\(.*\\): Object already free",
                fmt="BUG: Object already free",
                crash_class=C.USE_AFTER_FREE,
                no_stack_trace=True,
            ),
            OopsFormat(
                # A write after free: the freeing function is where the object
                # died under its user.
                title="BUG [^ ]+ \\(.*\\): Poison overwritten",
                fmt="BUG: Poison overwritten in {frame}",
                crash_class=C.USE_AFTER_FREE,
                stack=StackRule(
                    parts=("^(?:INFO: )?Freed in {{FUNC}}",),
                    parts2=("^(?:INFO: )?Allocated in {{FUNC}}",),
                ),
                no_stack_trace=True,
            ),
            OopsFormat(
                title=(
                    "BUG [^ ]+ \\(.*\\): (?P<what>Redzone overwritten|Left Redzone "
                    "overwritten|Right Redzone overwritten)"
                ),
                fmt="BUG: {what} in {frame}",
                crash_class=C.MEMORY_CORRUPTION,
                stack=StackRule(parts=("^(?:INFO: )?Allocated in {{FUNC}}",)),
                no_stack_trace=True,
            ),
            OopsFormat(
                title="BUG [^ ]+ \\(.*\\): (?P<what>" + _SLUB_PROBLEMS + ")",
                fmt="BUG: {what}",
                crash_class=C.MEMORY_CORRUPTION,
                no_stack_trace=True,
            ),
        ),
    ),
    Oops(
        header="divide error:",
        kind="divide-error",
        suppressions=_USER_TRAPS,
        formats=(
            OopsFormat(
                title="divide error: ",
                fmt="divide error in {frame}",
                crash_class=C.DIVIDE_ERROR,
                stack=_rip_then_trace(),
            ),
        ),
    ),
    Oops(
        header="invalid opcode:",
        kind="invalid-opcode",
        suppressions=_USER_TRAPS,
        formats=(
            OopsFormat(
                title="invalid opcode: ",
                fmt="invalid opcode in {frame}",
                crash_class=C.INVALID_OPCODE,
                stack=_rip_then_trace(),
            ),
        ),
    ),
    Oops(
        header="int3:",
        kind="int3",
        suppressions=_USER_TRAPS,
        formats=(
            OopsFormat(
                title="int3: ",
                fmt="int3 in {frame}",
                crash_class=C.INVALID_OPCODE,
                stack=_rip_then_trace(),
            ),
        ),
    ),
    Oops(
        header="UBSAN:",
        kind="UBSAN",
        formats=(
            OopsFormat(
                # Before 5.10: "UBSAN: Undefined behaviour in file.c:12:3".
                title="UBSAN: Undefined behaviour in",
                fmt="UBSAN: undefined-behaviour in {frame}",
                crash_class=C.UNKNOWN,
                stack=_calltrace("ubsan", "overflow"),
            ),
            OopsFormat(
                # Since 5.10: "UBSAN: shift-out-of-bounds in file.c:12:3".
                title="UBSAN: (?P<kind>[a-z\\-]+) in",
                fmt="UBSAN: {kind} in {frame}",
                crash_class=C.UNKNOWN,
                stack=_calltrace("ubsan", "overflow"),
            ),
        ),
    ),
    Oops(
        header="Booting the kernel.",
        kind="reboot",
        line_start=True,
        formats=(
            OopsFormat(
                title="Booting the kernel.",
                fmt="unexpected kernel reboot",
                crash_class=C.UNKNOWN,
                no_stack_trace=True,
            ),
        ),
    ),
    Oops(
        header="unregister_netdevice: waiting for",
        kind="hang",
        formats=(
            OopsFormat(
                title="unregister_netdevice: waiting for (?:.*) to become free",
                fmt="unregister_netdevice: waiting for DEV to become free",
                crash_class=C.HUNG_TASK,
                no_stack_trace=True,
            ),
        ),
    ),
    Oops(
        header="VFS: Close: file count is 0",
        kind="VFS",
        formats=(
            OopsFormat(
                title="VFS: Close: file count is 0",
                fmt="VFS: Close: file count is zero (use-after-free)",
                crash_class=C.USE_AFTER_FREE,
                no_stack_trace=True,
            ),
        ),
    ),
    Oops(
        header="Internal error:",
        kind="arm-oops",
        formats=(
            OopsFormat(
                title="Internal error: ",
                fmt="Internal error in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.BAD_POINTER_DEREFERENCE,
                stack=_rip_then_trace(),
            ),
        ),
    ),
    Oops(
        header="Unhandled fault:",
        kind="arm-oops",
        formats=(
            OopsFormat(
                title="Unhandled fault: ",
                fmt="Unhandled fault in {frame}",
                alt=("bad-access in {frame}",),
                crash_class=C.BAD_POINTER_DEREFERENCE,
                stack=StackRule(
                    parts=("{{RIP}}", "[Bb]acktrace:", STACK),
                    parts2=("[Bb]acktrace:", STACK),
                ),
            ),
        ),
    ),
    Oops(
        # A Rust panic: the message line, then BUG() in a C helper.
        header="rust_kernel: panicked at",
        kind="rust",
        formats=(
            OopsFormat(
                title="rust_kernel: panicked at [^\\n]*\\n(?P<msg>[^\\n]+)",
                fmt="{msg} in {frame}",
                crash_class=C.BUG_ASSERTION,
                stack=_calltrace(),
            ),
        ),
    ),
    Oops(
        header="trusty: panic",
        kind="trusty",
        formats=(
            OopsFormat(
                title="trusty: panic.* ASSERT FAILED",
                report=(
                    "trusty: panic \\(.*?\\):(?: DEBUG)? ASSERT FAILED at \\(.*?\\): (?P<what>.+)"
                ),
                fmt="trusty: ASSERT FAILED: {what}",
                crash_class=C.BUG_ASSERTION,
                no_stack_trace=True,
            ),
            OopsFormat(
                title="trusty: panic.* ASSERT FAILED.*: *(?P<what>.*)",
                fmt="trusty: ASSERT FAILED: {what}",
                crash_class=C.BUG_ASSERTION,
                corrupted=True,
            ),
            OopsFormat(
                title="trusty: panic",
                report="trusty: panic \\(.*?\\): (?P<what>.+)",
                fmt="trusty: panic: {what}",
                crash_class=C.EXPLICIT_PANIC,
                no_stack_trace=True,
            ),
        ),
    ),
    Oops(
        header="SYZFAIL:",
        kind="fuzzer",
        formats=(
            OopsFormat(
                title="SYZFAIL:(?P<rest>.*)",
                fmt="SYZFAIL:{rest}",
                crash_class=C.UNKNOWN,
                no_stack_trace=True,
            ),
        ),
    ),
    Oops(
        header="SYZFATAL:",
        kind="fuzzer",
        formats=(
            OopsFormat(
                title="SYZFATAL:(?P<rest>.*)",
                fmt="SYZFATAL:{rest}",
                crash_class=C.UNKNOWN,
                no_stack_trace=True,
            ),
        ),
    ),
    Oops(
        header="Watchdog detected hard LOCKUP",
        kind="lockup",
        formats=(
            OopsFormat(
                title="Watchdog detected hard LOCKUP",
                fmt="BUG: hard lockup in {frame}",
                crash_class=C.HARD_LOCKUP,
                stack=_rip_then_trace(extractor="stall"),
            ),
        ),
    ),
)
"""Every report family, in the order headers are tried on a line."""

REPORT_START_IGNORES: tuple[str, ...] = (
    # These can appear in the middle of another report: they do not start one.
    "invalid opcode: 0000",
    "Kernel panic - not syncing",
    "unregister_netdevice: waiting for",
    # A double fault can follow a page fault on badly corrupted memory.
    "PANIC: double fault",
    "Internal error:",
    "int3: 0000",
    "kernel BUG at rust/",
)

INFO_WITH_STACK: tuple[str, ...] = (
    # Informational messages with a stack trace: a report after one of these is
    # probably intermixed with it.
    "vmalloc: allocation failure:",
    "FAULT_INJECTION: forcing a failure",
    "FAULT_FLAG_ALLOW_RETRY missing",
)


STACK_START: tuple[str, ...] = (
    "Call [Tt]race",
    "^Backtrace:",
    "Allocated:",
    "Allocated by task [0-9]+:",
    "Freed:",
    "Freed by task [0-9]+:",
    "Last potentially related work creation:",
    "Second to last potentially related work creation:",
    "[^k] backtrace(?: \\(crc [0-9a-f]+\\))?:",  # kmemleak, not "stack backtrace:"
)
"""Lines that start a (new) stack trace."""

FRAME_PATTERNS: tuple[str, ...] = (
    "^ *(?:{{PC}} ){0,2}{{FUNC}}",
    # arm: "[<80b10c70>] (memset) from [<8062eec8>] (n_tty_set_termios+0x1a/0x2b)"
    "^(?:{{PC}} )?\\(([a-zA-Z0-9_]+)(?:\\.[a-zA-Z0-9_.]+)?(?:\\+0x[0-9a-f]+/0x[0-9a-f]+)?\\) from "
    "(?:{{PC}} )?\\((?P<caller>[a-zA-Z0-9_]+)",
)
"""Regexes of a call-trace line; group 1 is the function. A ``caller`` group
names the caller too (arm prints one call per line): it counts as the next
frame when no further line names it."""

CORRUPTED_TITLES: tuple[str, ...] = (
    # A timestamp merged into the middle of the title line.
    "\\[ *[0-9]+\\.[0-9]+\\]",
)

TITLE_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    # Make titles stable across runs: drop what changes from one crash to the next.
    ("syz-executor\\.?[0-9]+((/|:)[0-9]+)?", "syz-executor"),
    ("syzkaller[0-9]+((/|:)[0-9]+)?", "syzkaller"),
    ("([^a-zA-Z0])(?:0x)?[0-9a-f]{6,}", "\\1ADDR"),
    ("([0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3})", "IP"),
    ("(\\.\\w+)(:[0-9]+)+", "\\1:LINE"),
    ("([a-zA-Z][a-zA-Z0-9_.]+)\\+0x[0-9a-z]+/0x[0-9a-z]+", "\\1"),
    ("CPU#[0-9]+", "CPU"),
    ("(\\W)(\\d+)(\\W|$)", "\\1NUM\\3"),
)
"""(regex, replacement) applied in order to every title, each until stable."""

CLASS_RULES: tuple[ClassRule, ...] = (
    # Most specific first.
    ClassRule(
        # A jump to a NULL function pointer stays a NULL pointer dereference.
        crash_class=C.NX_EXECUTE,
        title="^BUG: unable to handle kernel paging request|^Internal error|^Unhandled fault",
        report=(
            "kernel tried to execute NX-protected page|#PF: supervisor instruction "
            "fetch|execute from non-executable memory"
        ),
    ),
    ClassRule(
        crash_class=C.WRITE_TO_READONLY,
        title="^BUG: unable to handle|^Internal error|^Unhandled fault",
        report=(
            "#PF: supervisor write access in kernel mode\\n.*permissions violation|"
            "write to read-only memory"
        ),
    ),
    ClassRule(
        crash_class=C.NULL_POINTER_DEREFERENCE,
        title="^BUG: unable to handle kernel paging request|^Internal error|^Unhandled fault",
        report=(
            "(?:NULL pointer dereference|CR2: 0{8,16}0[0-9a-f]{2}\\b|at virtual "
            "address 0{8,16}0[0-9a-f]{2}\\b)"
        ),
    ),
    ClassRule(
        # KASAN decodes a GPF on a small offset from NULL.
        crash_class=C.NULL_POINTER_DEREFERENCE,
        title="^general protection fault",
        report="KASAN: null-ptr-deref in range",
    ),
    ClassRule(
        crash_class=C.SYSRQ_CRASH, report="\\AKernel panic - not syncing: sysrq triggered crash"
    ),
    ClassRule(crash_class=C.SYSRQ_CRASH, title=" in sysrq_handle_crash$"),
    ClassRule(crash_class=C.MACHINE_CHECK, title="(?i)^kernel panic: .*machine check"),
    ClassRule(crash_class=C.HARD_LOCKUP, title="^kernel panic: Hard LOCKUP"),
    ClassRule(crash_class=C.SOFT_LOCKUP, title="^kernel panic: softlockup"),
    ClassRule(crash_class=C.RCU_STALL, title="^kernel panic: RCU Stall"),
    ClassRule(
        crash_class=C.STACK_OVERFLOW,
        report="stack guard page was hit|kernel stack overflow|Insufficient stack space",
    ),
    ClassRule(
        # List debugging found the corruption (a BUG or a WARNING in list_debug.c).
        crash_class=C.MEMORY_CORRUPTION,
        report=(
            "\\A(?:kernel BUG at lib/list_debug\\.c|WARNING: .*lib/list_debug\\.c"
            "|list_(?:add|del) corruption)"
        ),
    ),
    ClassRule(
        crash_class=C.USE_AFTER_FREE, title="use-after-free|invalid-free|invalid free|double-free"
    ),
    ClassRule(
        # "refcount_t: underflow; use-after-free." (but not "saturated; leaking memory.")
        crash_class=C.USE_AFTER_FREE,
        title="^WARNING: refcount bug",
        report="refcount_t: .*use-after-free",
    ),
    ClassRule(
        crash_class=C.MEMORY_CORRUPTION,
        title="^UBSAN:",
        report="array-index-out-of-bounds|index -?[0-9]+ is out of range|out-of-bounds",
    ),
    ClassRule(crash_class=C.NULL_POINTER_DEREFERENCE, title="^KASAN: null-ptr-deref"),
    ClassRule(crash_class=C.BAD_POINTER_DEREFERENCE, title="^KASAN: (?:wild|user)-memory-access"),
    ClassRule(
        crash_class=C.MACHINE_CHECK, report="Machine check events logged|mce: \\[Hardware Error\\]"
    ),
    ClassRule(
        crash_class=C.OUT_OF_MEMORY,
        title="^kernel panic: (?:Out of memory|System is deadlocked on memory)",
    ),
)
"""Class refinements, tried in order before the format's own class."""
