"""
Rule context
------------

What every rule looks at, computed once from the facts: the report that started
the crash, the exception frame, the fault address and page-fault error code,
and the guilty frame of the crashing stack.
"""

import re
from dataclasses import dataclass
from functools import cached_property

from ktriage.facts import CrashFacts, ExceptionFrame, Frame, LogRecord, OopsReport, RipKind
from ktriage.findings.model import Evidence
from ktriage.oops import page_fault_error_code
from ktriage.oops.engine import NameMatcher
from ktriage.oops.skip import NEVER_BLAME

__all__ = ("Context", "is_never_blamed")

_NEVER_BLAME = NameMatcher(NEVER_BLAME)
# Frames of the crash machinery in a dump's backtrace (the unwinder shows the
# code that handled the crash above the code that crashed). Same rule as
# NEVER_BLAME, plus what only a dump shows.
_DUMP_MACHINERY = re.compile(
    r"^(?:pvpanic_|notifier_call_chain|atomic_notifier_call_chain|crash_|__crash_kexec|"
    r"machine_kexec|relocate_kernel|machine_crash_shutdown|native_machine_crash_shutdown|page_fault_oops|handle_page_fault|"
    r"exc_page_fault|kernelmode_fixup_or_oops|__bad_area_nosemaphore|bad_area_nosemaphore|"
    r"do_user_addr_fault|exc_general_protection|exc_double_fault|"
    r"show_opcodes|nmi_|default_do_nmi|exc_nmi)"
)
_PAGE_FAULT = re.compile(
    r"#PF: |unable to handle (?:page fault|kernel paging request|kernel NULL pointer)"
)
_PF_ADDRESS = re.compile(
    r"(?:unable to handle (?:page fault|kernel paging request|kernel NULL pointer dereference)"
    r"(?: for address:| at) ?|CR2: )(?P<addr>[0-9a-f]{4,16})\b"
)


def is_never_blamed(function: str) -> bool:
    """Whether a function is crash machinery or a generic helper, never the culprit."""
    return _NEVER_BLAME.search(function) or _DUMP_MACHINERY.match(function) is not None


@dataclass
class Context:
    """Facts plus derived values shared by all rules."""

    facts: CrashFacts

    @cached_property
    def report(self) -> OopsReport | None:
        """The report that started the crash: the first one found in the log."""
        return self.facts.oopses[0] if self.facts.oopses else None

    @cached_property
    def log_text(self) -> tuple[str, ...]:
        return tuple(r.text for r in self.facts.log)

    def log_line(self, pattern: "re.Pattern[str]") -> LogRecord | None:
        """The first log record matching ``pattern``."""
        for record in self.facts.log:
            if pattern.search(record.text):
                return record
        return None

    def report_line(self, pattern: "re.Pattern[str]") -> str | None:
        """The first line of any report (or of the log) matching ``pattern``."""
        for report in self.facts.oopses:
            for line in report.lines:
                if pattern.search(line):
                    return line
        record = self.log_line(pattern)
        return record.text if record else None

    @cached_property
    def exception(self) -> ExceptionFrame | None:
        bt = self.facts.backtrace
        return bt.exception if bt else None

    @cached_property
    def is_page_fault(self) -> bool:
        """Whether the crash is a page fault (CR2 means something only then)."""
        return self.report_line(_PAGE_FAULT) is not None

    @cached_property
    def fault_address(self) -> int | None:
        """CR2 of a page fault, from the exception frame, the report, or the log."""
        if not self.is_page_fault:
            return None
        if self.exception is not None and self.exception.cr2 is not None:
            return int(self.exception.cr2)
        if self.report is not None and self.report.fault_address is not None:
            return int(self.report.fault_address)
        if self.report is not None and "CR2" in self.report.registers:
            return int(self.report.registers["CR2"])
        line = self.report_line(_PF_ADDRESS)
        if line is not None:
            m = _PF_ADDRESS.search(line)
            assert m is not None
            return int(m["addr"], 16)
        return None

    @cached_property
    def pf_error(self) -> int | None:
        """The page-fault error code (arch/x86/include/asm/trap_pf.h), if printed."""
        if self.exception is not None and self.exception.error_code is not None:
            return self.exception.error_code
        for report in self.facts.oopses:
            code = page_fault_error_code(report.lines)
            if code is not None:
                return code
        return page_fault_error_code(record.text for record in self.facts.log)

    @cached_property
    def rip_is_code(self) -> bool | None:
        """Whether the exception RIP is in kernel or module text (None if unknown)."""
        if self.exception is None:
            return None
        return self.exception.rip_kind in (RipKind.KERNEL_TEXT, RipKind.MODULE_TEXT)

    @cached_property
    def crashing_frames(self) -> tuple[Frame, ...]:
        """The frames of the code that crashed: below the exception frame if any."""
        bt = self.facts.backtrace
        if bt is None:
            return ()
        frames = bt.frames
        if bt.exception is not None:
            for i, frame in enumerate(frames):
                if frame.address == bt.exception.rip:
                    return frames[i:]
        return frames

    @cached_property
    def guilty_frame(self) -> Frame | None:
        """
        The first frame of the crashing code that is not machinery or a helper.

        Only real (not inlined) frames are candidates: blame names a function
        that exists in the symbol table, the same on every debuginfo tier.
        """
        for frame in self.crashing_frames:
            if (
                frame.function
                and frame.in_code
                and not frame.inline
                and not is_never_blamed(frame.function)
            ):
                return frame
        return None

    @cached_property
    def caller_of_bad_pc(self) -> Frame | None:
        """When the kernel jumped into data, the frame that made the call."""
        for frame in self.crashing_frames:
            if frame.function is not None and frame.recovered and frame.in_code:
                return frame
        return None

    def culprit_function(self) -> tuple[str | None, str | None]:
        """``(function, module)`` to blame: the dump's frame, else the report's."""
        frame = self.guilty_frame
        if frame is not None and frame.function:
            return frame.function, frame.module
        if self.report is not None and self.report.frame:
            module = None
            for f in self.report.stack:
                if f.function == self.report.frame:
                    module = f.module
                    break
            return self.report.frame, module
        return None, None

    # Evidence helpers ----------------------------------------------------------

    def evidence_report(self, claim: str) -> Evidence | None:
        if self.report is None or not self.report.lines:
            return None
        return Evidence(claim=claim, fact=self.report.lines[0], source="log")

    def evidence_rip(self) -> Evidence | None:
        exc = self.exception
        if exc is None:
            return None
        what = exc.rip_symbol or f"0x{int(exc.rip):x}"
        return Evidence(
            claim=f"the exception RIP is {exc.rip_kind.replace('-', ' ')}",
            fact=f"exception RIP: {what} ({exc.rip_kind})",
            source="registers",
        )

    def evidence_frame(self, frame: Frame, claim: str) -> Evidence:
        # No frame number: it depends on whether inline frames are known.
        module = f" [{frame.module}]" if frame.module else ""
        offset = f"+0x{frame.offset:x}" if frame.offset is not None else ""
        return Evidence(
            claim=claim,
            fact=f"{frame.function}{offset}{module} at 0x{int(frame.address):x}",
            source="backtrace",
        )

    def evidence_panic(self) -> Evidence | None:
        panic = self.facts.panic
        if panic is None or not panic.message:
            return None
        return Evidence(claim="the kernel panicked", fact=panic.message, source="log")
