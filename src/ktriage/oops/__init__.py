"""
Oops text triage
----------------

Turns kernel log text (console logs, ``dmesg``, ``vmcore-dmesg.txt``, syslog or
journal extracts) into :class:`~ktriage.facts.OopsReport` records: one per
crash report found, in order, the first being the main one.

The knowledge of report formats is in ``ktriage.oops.formats`` and the frames
never to blame in ``ktriage.oops.skip``; ``ktriage.oops.engine`` applies them.
"""

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ktriage.errors import BadInputError
from ktriage.facts.base import to_jsonable
from ktriage.facts.oops import OopsReport
from ktriage.oops.engine import parse_log

__all__ = (
    "crashes_json",
    "is_probably_text",
    "page_fault_error_code",
    "parse_file",
    "parse_log",
)

# x86 page-fault reports print the error code (arch/x86/include/asm/trap_pf.h)
# as "#PF: error_code(0x0011) - permissions violation" since v5.1.
_PF_ERROR = re.compile(r"#PF: error_code\((?P<code>0x[0-9a-f]+)\)")


def page_fault_error_code(lines: Iterable[str]) -> int | None:
    """The x86 page-fault error code printed in ``lines``, if any."""
    for line in lines:
        m = _PF_ERROR.search(line)
        if m:
            return int(m["code"], 16)
    return None


# Control bytes rare in a text log: C0 controls but NUL (counted apart), tab,
# line feed, carriage return, form feed, escape and backspace.
_TEXT_CONTROLS = frozenset(range(1, 32)) - {8, 9, 10, 12, 13, 27}
# Crash dump containers: ELF (kexec /proc/vmcore, QEMU), compressed kdump,
# makedumpfile flattened format.
_DUMP_MAGICS = (b"\x7fELF", b"KDUMP   ", b"makedumpfile", b"QEMU")
_SNIFF = 64 * 1024


def is_probably_text(data: bytes) -> bool:
    """
    Whether ``data`` (a file's first bytes are enough) looks like a text log
    rather than a binary dump. A dump's magic (ELF, kdump, makedumpfile) says
    binary; so do more than 1% NUL bytes, more than 10% other control bytes,
    or more than 10% bytes that are not UTF-8. Console logs carry some serial
    line noise, which stays well under those limits.
    """
    sample = data[:_SNIFF]
    if not sample:
        return True
    if sample.startswith(_DUMP_MAGICS):
        return False
    size = len(sample)
    if sample.count(b"\x00") * 100 > size:
        return False
    controls = sum(1 for b in sample if b in _TEXT_CONTROLS)
    if controls * 10 > size:
        return False
    text = sample.decode("utf-8", "replace")
    # U+FFFD already in the log (as UTF-8) is text; new ones are bad bytes.
    bad = text.count("\ufffd") - sample.count("\ufffd".encode())
    return bad * 10 <= len(text)


def parse_file(path: Path) -> list[OopsReport]:
    """
    Every crash report in the log file at ``path`` (see :func:`parse_log`).

    The file is read as bytes and decoded leniently (UTF-8, bad bytes
    replaced); it is never modified. Raises :class:`~ktriage.errors.BadInputError`
    when the file cannot be read or is not text.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file", "check the path of the kernel log") from None
    except IsADirectoryError:
        raise BadInputError(
            f"{path}: is a directory", "pass the log file inside it (e.g. vmcore-dmesg.txt)"
        ) from None
    except OSError as exc:
        raise BadInputError(
            f"{path}: cannot read: {exc.strerror or exc}", "check the file's permissions"
        ) from None
    if not is_probably_text(data):
        raise BadInputError(
            f"{path}: not a text log (binary data)",
            "for a crash dump (vmcore) use 'ktriage analyze'; for oops triage pass the "
            "kernel log text (dmesg, console log, vmcore-dmesg.txt)",
        )
    return parse_log(data.decode("utf-8", "replace"))


def crashes_json(file: str, reports: Sequence[OopsReport]) -> dict[str, Any]:
    """
    One file's result as ``ktriage oops --format json`` prints it:
    ``{"file": ..., "crashes": [{"title", "class", "frame", "corrupted", ...}]}``,
    ``crashes`` empty when the log holds no crash. Every other field of
    :class:`~ktriage.facts.OopsReport` follows, as JSON.
    """
    crashes = []
    for report in reports:
        fields = to_jsonable(report)
        crash = {
            "title": fields.pop("title"),
            "class": fields.pop("crash_class"),
            "frame": fields.pop("frame"),
            "corrupted": fields.pop("corrupted"),
        }
        crash.update(fields)
        crashes.append(crash)
    return {"file": file, "crashes": crashes}
