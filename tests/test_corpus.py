"""Checks of the corpus built by ``tests/vmcores/build`` (real dumps in the cache).

Each built dump must have a complete manifest whose size and sha256 match the file, the
crash oracle's output for every command, a kernel log that shows the crash the scenario
asked for, and must be readable by drgn with the recorded vmlinux.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from corpus import BUILT_CORPUS, REPO

BUILDER = REPO / "tests" / "vmcores" / "build"

REQUIRED_KEYS = (
    "kernel_release",
    "packages",
    "scenario",
    "format",
    "dump",
    "size",
    "sha256",
    "vmlinux",
    "build_id",
    "crash_version",
    "crash_output",
    "dmesg",
    "console",
    "how",
    "made_at",
)

# What the kernel log must show for each scenario (the crash really is the one asked for).
EXPECTED_LOG = {
    "EXEC_KMALLOC": r"kernel tried to execute NX-protected page",
    "EXEC_DATA": r"kernel tried to execute NX-protected page",
    "EXCEPTION": r"BUG: kernel NULL pointer dereference",
    "BUG": r"kernel BUG at",
    "PANIC": r"Kernel panic - not syncing: dumptest",
    "WRITE_AFTER_FREE": r"Poison overwritten",
    "SOFTLOCKUP": r"watchdog: BUG: soft lockup",
    "HUNG_TASK": r"blocked for more than \d+ seconds",
    "SYSRQ": r"sysrq triggered crash",
    "WARNING": r"WARNING: CPU: \d+ PID: \d+ at",
    "CORRUPT_LIST_ADD": r"list_add corruption",
    "KDUMP": r"sysrq triggered crash",
    "KDUMP_OOPS": r"BUG: kernel NULL pointer dereference",
}

# User processes the guest's initramfs starts so that `ps` looks like a server.
GUEST_PROCESSES = ("sshd", "cron", "mysqld", "php-fpm", "php", "tail")


def _load_builder() -> ModuleType:
    if "vmcores_build" in sys.modules:
        return sys.modules["vmcores_build"]
    loader = SourceFileLoader("vmcores_build", str(BUILDER))
    spec = spec_from_loader("vmcores_build", loader)
    assert spec is not None
    module = module_from_spec(spec)
    sys.modules["vmcores_build"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


def _manifests() -> list[Path]:
    if not BUILT_CORPUS.is_dir():
        return []
    return sorted(BUILT_CORPUS.glob("*/*/*/manifest.json"))


_MANIFESTS = _manifests()


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.parent.relative_to(BUILT_CORPUS)) for p in paths]


def _params() -> list[Any]:
    if _MANIFESTS:
        return [pytest.param(p, id=i) for p, i in zip(_MANIFESTS, _ids(_MANIFESTS), strict=True)]
    return [
        pytest.param(
            None,
            marks=pytest.mark.skip(
                reason=f"no built corpus in {BUILT_CORPUS} (run tests/vmcores/build)"
            ),
        )
    ]


@pytest.fixture(params=_params())
def manifest_path(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _crash_sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines(keepends=True):
        m = re.match(r"=== crash> (.*)$", line.rstrip("\n"))
        if m:
            current = m.group(1)
            sections[current] = ""
        elif current is not None:
            sections[current] += line
    return sections


def _elf_build_id(path: Path) -> str | None:
    """The GNU build ID of an ELF64 little-endian file, from its section headers."""
    with path.open("rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2:
            return None
        (shoff,) = struct.unpack_from("<Q", ehdr, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", ehdr, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        for i in range(shnum):
            sh_type, _flags, _addr, sh_offset, sh_size = struct.unpack_from(
                "<IQQQQ", table, i * shentsize + 4
            )
            if sh_type != 7:  # SHT_NOTE
                continue
            f.seek(sh_offset)
            notes = f.read(sh_size)
            pos = 0
            while pos + 12 <= len(notes):
                namesz, descsz, ntype = struct.unpack_from("<III", notes, pos)
                name_end = pos + 12 + ((namesz + 3) & ~3)
                name = notes[pos + 12 : pos + 12 + namesz].rstrip(b"\0")
                if name == b"GNU" and ntype == 3:  # NT_GNU_BUILD_ID
                    return notes[name_end : name_end + descsz].hex()
                pos = name_end + ((descsz + 3) & ~3)
    return None


def test_manifest_complete(manifest_path: Path) -> None:
    m = _read(manifest_path)
    missing = [k for k in REQUIRED_KEYS if k not in m]
    assert not missing, f"manifest lacks {missing}"
    directory = manifest_path.parent
    release, scenario, fmt = directory.relative_to(BUILT_CORPUS).parts
    assert (m["kernel_release"], m["scenario"], m["format"]) == (release, scenario, fmt)
    assert any(p.startswith("linux-image-") and p.endswith("-dbg") for p in m["packages"])
    for key in ("dump", "crash_output", "dmesg", "console"):
        assert not Path(m[key]).is_absolute(), f"{key} must be relative"
        assert (directory / m[key]).is_file(), f"{key}: {m[key]} missing"
    assert Path(m["vmlinux"]).is_absolute()
    if fmt == "kdump-layout":
        assert re.fullmatch(
            r"var/crash/127\.0\.0\.1-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d/vmcore", m["dump"]
        )
        assert Path(m["dmesg"]).parent == Path(m["dump"]).parent


def test_dump_size_and_sha256(manifest_path: Path) -> None:
    m = _read(manifest_path)
    dump = manifest_path.parent / m["dump"]
    assert dump.stat().st_size == m["size"]
    h = hashlib.sha256()
    with dump.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    assert h.hexdigest() == m["sha256"]


def test_dump_format_signature(manifest_path: Path) -> None:
    m = _read(manifest_path)
    with (manifest_path.parent / m["dump"]).open("rb") as f:
        head = f.read(16)
    expected = {
        "elf": b"\x7fELF",
        # QEMU's kdump-zlib is written in makedumpfile's flattened format (QEMU 8.2 added
        # separate kdump-raw-* formats for the seekable one)
        "kdump-zlib": b"makedumpfile",
        "mkdf-c-d31": b"KDUMP   ",
        "mkdf-l-d31": b"KDUMP   ",
        "mkdf-z-d31": b"KDUMP   ",
        "kdump-layout": b"KDUMP   ",
        "mkdf-F": b"makedumpfile",
    }[m["format"]]
    assert head.startswith(expected), head


def test_vmlinux_matches(manifest_path: Path) -> None:
    m = _read(manifest_path)
    vmlinux = Path(m["vmlinux"])
    if not vmlinux.is_file():
        pytest.skip(f"{vmlinux} is not on this machine")
    assert _elf_build_id(vmlinux) == m["build_id"]


def test_crash_output(manifest_path: Path) -> None:
    m = _read(manifest_path)
    text = (manifest_path.parent / m["crash_output"]).read_text(errors="replace")
    sections = _crash_sections(text)
    builder = _load_builder()
    assert list(sections) == list(builder.CRASH_COMMANDS)
    assert re.search(r"\d+\.\d+\.\d+", m["crash_version"])
    sys_out = sections["sys"]
    assert re.search(rf"RELEASE: {re.escape(m['kernel_release'])}$", sys_out, re.M), sys_out
    panic = re.search(r'PANIC: "(.+)"', sys_out)
    assert panic, sys_out
    assert m["panic_string"] == panic.group(1)
    assert re.search(r"^PID: \d+ +TASK: [0-9a-f]+ +CPU: \d+ +COMMAND: ", sections["bt"], re.M)
    comms = set(
        re.findall(
            r"^[> ]\s*\d+\s+\d+\s+\d+\s+[0-9a-f]+\s+\S+\s+[\d.]+\s+\d+\s+\d+\s+(\S+)",
            sections["ps"],
            re.M,
        )
    )
    missing = [p for p in GUEST_PROCESSES if p not in comms]
    assert not missing, f"crash's ps misses {missing}"
    assert "lkdtm" in sections["mod"]


def test_dmesg_shows_the_crash(manifest_path: Path) -> None:
    m = _read(manifest_path)
    dmesg = (manifest_path.parent / m["dmesg"]).read_text(errors="replace")
    assert re.search(EXPECTED_LOG[m["scenario"]], dmesg), f"no {EXPECTED_LOG[m['scenario']]!r}"
    assert f"lab.scenario={m['scenario']}" in dmesg
    crash_log = _crash_sections(
        (manifest_path.parent / m["crash_output"]).read_text(errors="replace")
    )["log"]
    assert re.search(EXPECTED_LOG[m["scenario"]], crash_log)


def test_drgn_reads_dump(manifest_path: Path) -> None:
    drgn = pytest.importorskip("drgn")
    m = _read(manifest_path)
    vmlinux = Path(m["vmlinux"])
    if not vmlinux.is_file():
        pytest.skip(f"{vmlinux} is not on this machine")
    from drgn.helpers.linux.pid import find_task

    prog = drgn.Program(
        drgn.Platform(
            drgn.Architecture.X86_64,
            drgn.PlatformFlags.IS_64_BIT | drgn.PlatformFlags.IS_LITTLE_ENDIAN,
        )
    )
    prog.set_core_dump(str(manifest_path.parent / m["dump"]))
    prog.load_debug_info([str(vmlinux)])
    assert prog["init_uts_ns"].name.release.string_().decode() == m["kernel_release"]
    crash_bt = _crash_sections(
        (manifest_path.parent / m["crash_output"]).read_text(errors="replace")
    )["bt"]
    pid_m = re.search(r'^PID: (\d+) +TASK: ([0-9a-f]+) .*COMMAND: "(.*)"', crash_bt, re.M)
    assert pid_m
    pid, task, comm = int(pid_m.group(1)), int(pid_m.group(2), 16), pid_m.group(3)
    if pid == 0:
        return  # an idle task: not in the PID hash
    found = find_task(prog, pid)
    assert found.value_() == task
    assert found.comm.string_().decode() == comm


def test_corpus_complete() -> None:
    """Every kernel built has every scenario in every format its builder knows."""
    if not _MANIFESTS:
        pytest.skip(f"no built corpus in {BUILT_CORPUS} (run tests/vmcores/build)")
    builder = _load_builder()
    releases = sorted({p.parent.parent.parent.name for p in _MANIFESTS})
    have = set(_ids(_MANIFESTS))
    missing = [
        f"{r}/{name}/{fmt}"
        for r in releases
        for name, sc in builder.SCENARIOS.items()
        for fmt in sc.formats
        if f"{r}/{name}/{fmt}" not in have
    ]
    assert not missing, f"{len(missing)} dumps missing, e.g. {missing[:5]}"
    lines = {_read(p).get("kernel_line") for p in _MANIFESTS}
    assert lines >= set(builder.KERNEL_LINES), f"kernel lines built: {lines}"
