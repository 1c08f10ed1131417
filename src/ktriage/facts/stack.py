"""
Stacks
------

Backtraces, frames and exception frames.
"""

from dataclasses import dataclass, field

from ktriage.facts.base import Hex, Record

__all__ = ("Backtrace", "CpuContext", "ExceptionFrame", "Frame", "RipKind")


class RipKind:
    """What an instruction pointer points at (string constants)."""

    KERNEL_TEXT = "kernel-text"
    MODULE_TEXT = "module-text"
    DIRECT_MAP = "direct-map"
    VMALLOC = "vmalloc"
    USER = "user"
    NON_CANONICAL = "non-canonical"
    NULL_PAGE = "null-page"
    KERNEL_DATA = "kernel-data"
    UNKNOWN = "unknown"


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Frame(Record):
    """One stack frame."""

    index: int
    function: str | None
    """Function name, or ``None`` when the PC is not in any known symbol."""
    offset: int | None = None
    """Offset of the PC into the function."""
    size: int | None = None
    """Size of the function, when known."""
    address: Hex
    """The PC of the frame (return address for callers)."""
    module: str | None = None
    """Module name for module code, ``None`` for the core kernel."""
    sp: Hex | None = None
    source: str | None = None
    """``file:line`` when DWARF has it."""
    inline: bool = False
    """True for an inlined call (DWARF tier only)."""
    recovered: bool = False
    """True when the frame was recovered by hand (e.g. past a PC that is not code)."""
    in_code: bool = True
    """False when the PC is not in code: a data object, or no known symbol."""
    note: str | None = None
    """Why a frame is special (e.g. the PC is in data)."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ExceptionFrame(Record):
    """The ``struct pt_regs`` of a kernel exception (crash's ``exception RIP``)."""

    rip: Hex
    rip_kind: str
    """One of :class:`RipKind`."""
    rip_symbol: str | None = None
    """``func+0x12/0x40`` when RIP is in known code."""
    registers: dict[str, Hex] = field(default_factory=dict)
    cr2: Hex | None = None
    """Faulting address for page faults, when known (from the log or the CPU state)."""
    error_code: int | None = None
    """Page fault error code (``orig_ax``), when this is a page fault."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Backtrace(Record):
    """A task's stack, innermost frame first."""

    pid: int | None
    comm: str | None
    task: Hex | None
    cpu: int | None
    frames: tuple[Frame, ...] = ()
    exception: ExceptionFrame | None = None
    user_registers: dict[str, Hex] | None = None
    """Registers at kernel entry from user space (the last frame's pt_regs)."""
    error: str | None = None
    """Why unwinding stopped early, if it did."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class CpuContext(Record):
    """The active task of one CPU at the time of the crash (crash's ``bt -a``)."""

    cpu: int
    backtrace: Backtrace | None
    error: str | None = None
