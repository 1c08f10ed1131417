"""
Input paths
-----------

Turn what the user typed into the files to read: a dump file, a text log, the
running kernel (``/proc/kcore``), or a crash directory in one of the layouts
the distributions write:

- kdump (kexec-tools, Fedora/RHEL/Debian): ``/var/crash/<ip>-<date>/`` holding
  ``vmcore`` (``vmcore-incomplete`` while or if saving failed) and
  ``vmcore-dmesg.txt``;
- Ubuntu's kdump-tools: ``/var/crash/<stamp>/`` holding ``dump.<stamp>`` and
  ``dmesg.<stamp>``;
- any directory holding one dump file (recognised by its magic number) and
  optionally a dmesg file;
- a parent directory (e.g. ``/var/crash``) holding one such crash directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ktriage.errors import BadInputError
from ktriage.facts.base import Record
from ktriage.source.ident import dump_magic, looks_like_text

__all__ = (
    "ResolvedInput",
    "is_text_file",
    "resolve_input",
)

_KCORE = Path("/proc/kcore")
_SNIFF = 65536


@dataclass(frozen=True, eq=False, repr=False)
class ResolvedInput(Record):
    """The files one crash is read from."""

    dump: Path | None
    """The memory dump (or ``/proc/kcore``); ``None`` for a text log alone."""
    dmesg: Path | None
    """The kernel log saved next to the dump, or the text log itself."""
    kind: str
    """``dump``, ``text`` or ``live``."""


def _head(path: Path, size: int = _SNIFF) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(size)
    except PermissionError:
        raise BadInputError(
            f"cannot read {path}: permission denied", "run ktriage as root"
        ) from None
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}", "check the path") from None


def is_text_file(path: Path) -> bool:
    """
    Whether a file looks like text (a console log or a saved dmesg).

    Looks at the first 64 KiB: no NUL bytes, valid UTF-8 (a character cut at the
    end of the sample is allowed) or else at least 95 % printable bytes.
    """
    return looks_like_text(_head(path))


def _is_dump(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return dump_magic(file.read(16)) is not None
    except OSError:
        return False


def _dump_rank(path: Path) -> tuple[int, str]:
    # Prefer the names the tools write, a finished dump before an incomplete one.
    name = path.name
    if name == "vmcore":
        return (0, name)
    if name.startswith("dump."):
        return (1, name)
    if name.startswith("vmcore") and "incomplete" not in name:
        return (2, name)
    if "incomplete" in name:
        return (4, name)
    return (3, name)


def _dmesg_for(directory: Path, dump: Path | None) -> Path | None:
    names = ["vmcore-dmesg.txt"]
    if dump is not None and dump.name.startswith("dump."):
        names.append("dmesg." + dump.name.removeprefix("dump."))
    names += ["dmesg.txt", "dmesg", "vmcore-dmesg-incomplete.txt"]
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    # Ubuntu: dmesg.<stamp> next to dump.<stamp> with another stamp, or alone.
    others = sorted(p for p in directory.glob("dmesg.*") if p.is_file())
    return others[0] if len(others) == 1 else None


def _files(directory: Path) -> list[Path]:
    try:
        entries = sorted(directory.iterdir())
    except PermissionError:
        raise BadInputError(
            f"cannot list {directory}: permission denied", "run ktriage as root"
        ) from None
    except OSError as exc:
        raise BadInputError(f"cannot list {directory}: {exc.strerror}", "check the path") from None
    return entries


def _crash_dir(directory: Path) -> ResolvedInput | None:
    files = [p for p in _files(directory) if p.is_file()]
    dumps = sorted((p for p in files if _is_dump(p)), key=_dump_rank)
    if dumps:
        return ResolvedInput(dump=dumps[0], dmesg=_dmesg_for(directory, dumps[0]), kind="dump")
    dmesg = _dmesg_for(directory, None)
    if dmesg is not None and is_text_file(dmesg):
        return ResolvedInput(dump=None, dmesg=dmesg, kind="text")
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _resolve_directory(directory: Path) -> ResolvedInput:
    found = _crash_dir(directory)
    if found is not None:
        return found
    children = [p for p in _files(directory) if p.is_dir()]
    crashes = []
    for child in children:
        try:
            resolved = _crash_dir(child)
        except BadInputError:
            continue
        if resolved is not None:
            crashes.append((child, resolved))
    if len(crashes) == 1:
        return crashes[0][1]
    if crashes:
        newest = sorted(crashes, key=lambda item: _mtime(item[0]), reverse=True)
        names = ", ".join(child.name for child, _ in newest[:5])
        raise BadInputError(
            f"{directory} holds {len(crashes)} crash directories ({names}"
            f"{', ...' if len(crashes) > 5 else ''})",
            f"point ktriage at one of them, e.g. the newest: {newest[0][0]}",
        )
    raise BadInputError(
        f"{directory} holds no crash dump and no kernel log",
        "point ktriage at a vmcore, a /var/crash/<crash>/ directory or a dmesg file",
    )


def resolve_input(path: Path) -> ResolvedInput:
    """
    Find the dump and the kernel log a path names.

    :param path: a dump file, a text log, ``/proc/kcore``, a crash directory, or
        a directory holding one crash directory.
    :raises BadInputError: the path does not exist, cannot be read, holds no
        crash, holds several, or is a binary file that is not a dump.
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise BadInputError(f"{path} does not exist", "check the path")
    if not path.exists():
        raise BadInputError(f"{path} is a broken symbolic link", "check where it points")
    if path.resolve() == _KCORE:
        return ResolvedInput(dump=_KCORE, dmesg=None, kind="live")
    if path.is_dir():
        return _resolve_directory(path)
    if not path.is_file():
        raise BadInputError(
            f"{path} is not a regular file", "point ktriage at a dump file or a directory"
        )
    head = _head(path)
    if not head:
        raise BadInputError(f"{path} is empty", "the dump or log was not saved")
    if dump_magic(head[:16]) is not None:
        return ResolvedInput(dump=path, dmesg=_dmesg_for(path.parent, path), kind="dump")
    if looks_like_text(head):
        return ResolvedInput(dump=None, dmesg=path, kind="text")
    raise BadInputError(
        f"{path} is neither a crash dump (ELF, kdump-compressed, flattened) nor a text log",
        "point ktriage at a vmcore, a /var/crash directory or a dmesg file",
    )
