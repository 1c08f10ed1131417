"""
Opening dumps
-------------

A :class:`drgn.Program` on a core dump or on the running kernel, with no debug
info loaded. drgn (through libkdumpfile) reads the memory of every format
ktriage accepts; this module only chooses how to open it and turns drgn's
errors into :class:`~ktriage.errors.BadInputError`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import drgn

from ktriage.errors import BadInputError
from ktriage.facts import DumpIdentity
from ktriage.source.ident import identify, kdump_metadata_end

__all__ = (
    "open_program",
    "platform_for",
)

_ARCHITECTURES = {
    "x86_64": (drgn.Architecture.X86_64, True, True),
    "i386": (drgn.Architecture.I386, False, True),
    "aarch64": (drgn.Architecture.AARCH64, True, True),
    "arm": (drgn.Architecture.ARM, False, True),
    "ppc64": (drgn.Architecture.PPC64, True, True),
    "riscv64": (drgn.Architecture.RISCV64, True, True),
    "s390x": (drgn.Architecture.S390X, True, False),
}


def platform_for(arch: str | None) -> drgn.Platform:
    """
    The drgn platform for an architecture name of :class:`DumpIdentity`.

    Used for dumps whose headers do not name their architecture in a way
    libkdumpfile understands (QEMU's ``kdump-*`` files). An unknown or missing
    name gives x86-64.
    """
    machine, is_64, little = _ARCHITECTURES.get(arch or "x86_64", _ARCHITECTURES["x86_64"])
    flags = drgn.PlatformFlags(0)
    if is_64:
        flags |= drgn.PlatformFlags.IS_64_BIT
    if little:
        flags |= drgn.PlatformFlags.IS_LITTLE_ENDIAN
    return drgn.Platform(machine, flags)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    # libkdumpfile prints a warning about flattened files straight to file
    # descriptor 2; the identity already says the file is flattened.
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _set_core_dump(path: Path, platform: drgn.Platform | None, quiet: bool) -> drgn.Program:
    prog = drgn.Program(platform) if platform is not None else drgn.Program()
    with _quiet_stderr() if quiet else contextlib.nullcontext():
        prog.set_core_dump(str(path))
    _warm_up(prog)
    return prog


def _warm_up(prog: drgn.Program) -> None:
    # libkdumpfile sets up address translation on the first read (it searches
    # for the kernel text through the page tables). If a page it needs is missing
    # or damaged, that first read fails although later ones work: spend it here
    # on an address VMCOREINFO names, so callers' reads are not the victims.
    try:
        text = prog["VMCOREINFO"].string_().decode("utf-8", "replace")
    except Exception:  # no VMCOREINFO: nothing to read
        return
    for line in text.splitlines():
        if line.startswith(("SYMBOL(_stext)=", "SYMBOL(init_uts_ns)=")):
            try:
                prog.read(int(line.partition("=")[2], 16), 1)
            except Exception:  # the reason is reported by the caller's own reads
                pass
            return


def open_program(path: Path, ident: DumpIdentity | None = None) -> drgn.Program:
    """
    Open a dump (or ``/proc/kcore``) in drgn without loading any debug info.

    :param path: the dump file, or ``/proc/kcore`` for the running kernel.
    :param ident: the dump's identity if already known (saves reading headers).
    :raises BadInputError: the file is not a dump drgn can open; the message says
        what drgn reported and the hint what to try.
    """
    path = Path(path)
    if ident is None:
        ident = identify(path)
    if ident.format == "text":
        raise BadInputError(
            f"{path} is a text log, not a memory dump",
            "a log gives the oops triage only; point ktriage at the vmcore for more",
        )
    if ident.format == "live":
        prog = drgn.Program()
        try:
            prog.set_kernel()
        except PermissionError:
            raise BadInputError(
                "cannot read /proc/kcore: permission denied", "run ktriage as root"
            ) from None
        except Exception as exc:  # drgn reports libkdumpfile/libelf errors as Exception
            raise BadInputError(
                f"cannot open the running kernel: {exc}",
                "check that /proc/kcore exists (CONFIG_PROC_KCORE)",
            ) from None
        return prog
    if ident.incomplete and ident.format == "kdump-compressed":
        # libkdumpfile maps the bitmaps and page descriptors: a file cut short
        # inside them would kill the process with SIGBUS, so refuse it here.
        needed = kdump_metadata_end(path)
        if needed is None or needed > ident.file_size:
            raise BadInputError(
                f"{path} is cut short inside its page tables ({ident.file_size} bytes, "
                f"{needed or 'more'} needed): no memory can be read from it",
                "use 'ktriage ident' for what the headers say, and the dmesg file for the log",
            )
    quiet = ident.format == "flattened"
    # QEMU's kdump-* files name no architecture libkdumpfile knows: give drgn the
    # platform then, and retry with it whenever the plain open fails.
    first: drgn.Platform | None = None
    if ident.format != "elf" and (ident.producer == "qemu" or ident.arch is None):
        first = platform_for(ident.arch)
    attempts = [first] if first is not None else [None, platform_for(ident.arch)]
    error: Exception | None = None
    for platform in attempts:
        try:
            return _set_core_dump(path, platform, quiet)
        except PermissionError:
            raise BadInputError(
                f"cannot read {path}: permission denied",
                "run ktriage as root or make the dump readable",
            ) from None
        except Exception as exc:  # drgn reports libkdumpfile/libelf errors as Exception
            error = exc
            if ident.format == "elf":
                break
    hint = "the dump may be damaged or cut short; check it with 'ktriage ident'"
    if ident.format == "flattened":
        hint = "reassemble it with 'makedumpfile -R newfile < FILE' and try the new file"
    raise BadInputError(f"drgn cannot open {path}: {error}", hint)
