"""Opening real dumps in drgn without debug info (source.open)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import drgn
import pytest
from corpus import CorpusDump, all_dumps

from ktriage.errors import BadInputError
from ktriage.source.ident import identify
from ktriage.source.open import open_program, platform_for

_ARCH = {"x86_64": drgn.Architecture.X86_64, "aarch64": drgn.Architecture.AARCH64}


def test_open_without_debuginfo(corpus_dump: CorpusDump) -> None:
    ident = identify(corpus_dump.dump)
    prog = open_program(corpus_dump.dump, ident)
    assert prog.platform is not None
    if ident.arch in _ARCH:
        assert prog.platform.arch == _ARCH[ident.arch]
    assert prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL
    vmcoreinfo = prog["VMCOREINFO"].string_().decode()
    assert f"OSRELEASE={corpus_dump.release}" in vmcoreinfo
    # No debug info: kernel symbols are unknown...
    with pytest.raises(LookupError):
        prog.symbol("init_task")
    # ...but memory named by VMCOREINFO is readable: init_uts_ns holds the release.
    assert ident.vmcoreinfo is not None
    uts = int(ident.vmcoreinfo["SYMBOL(init_uts_ns)"], 16)
    name = uts + int(ident.vmcoreinfo.get("OFFSET(uts_namespace.name)", "0"))
    # struct new_utsname: sysname[65], nodename[65], release[65], ...
    release = prog.read(name + 65 * 2, 65).split(b"\0")[0].decode()
    assert release == corpus_dump.release


def test_open_identifies_when_not_given() -> None:
    dumps = all_dumps()
    if not dumps:
        pytest.skip("no corpus dumps on this machine")
    dump = min(dumps, key=lambda d: d.dump.stat().st_size).dump
    before = (dump.stat().st_size, dump.stat().st_mtime_ns)
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    prog = open_program(dump)
    assert prog["VMCOREINFO"]
    assert (dump.stat().st_size, dump.stat().st_mtime_ns) == before
    assert hashlib.sha256(dump.read_bytes()).hexdigest() == digest


def test_text_log_is_not_a_dump(tmp_path: Path) -> None:
    log = tmp_path / "dmesg.txt"
    log.write_text("[    0.000000] Linux version 6.1.0-56-amd64\n")
    with pytest.raises(BadInputError, match="text log"):
        open_program(log)


def test_garbage_after_magic_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "vmcore"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x04\0\x3e\0" + os.urandom(4096))
    with pytest.raises(BadInputError):
        open_program(path)


def test_platform_for() -> None:
    platform = platform_for("x86_64")
    assert platform.arch == drgn.Architecture.X86_64
    assert platform.flags & drgn.PlatformFlags.IS_64_BIT
    assert platform.flags & drgn.PlatformFlags.IS_LITTLE_ENDIAN
    assert platform_for(None).arch == drgn.Architecture.X86_64
    assert platform_for("aarch64").arch == drgn.Architecture.AARCH64


@pytest.mark.skipif(not os.access("/proc/kcore", os.R_OK), reason="/proc/kcore is not readable")
def test_live_kernel() -> None:
    ident = identify(Path("/proc/kcore"))
    assert ident.format == "live"
    prog = open_program(Path("/proc/kcore"), ident)
    assert prog.flags & drgn.ProgramFlags.IS_LIVE
