"""
Corpus discovery for tests.

Two corpora are used: the reference dumps in ``../shared/corpus`` (read-only, next to
the checkout) and the corpus built by ``tests/vmcores/build`` in the cache
(``$KTRIAGE_CACHE/vmcores``, default ``/var/cache/ktriage/vmcores``).

Layout of the built corpus, one directory per dump::

    <cache>/vmcores/<release>/<scenario>/<format>/manifest.json

The manifest names the dump file (``dump``, relative to its directory; for the kdump
layout a path inside ``var/crash/<ip>-<date>/``), the crash oracle output
(``crash_output``), the dmesg (``dmesg``), the console log (``console``) and the
vmlinux (``vmlinux``, absolute).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("KTRIAGE_CACHE", "/var/cache/ktriage"))
SHARED_CORPUS = Path(os.environ.get("KTRIAGE_SHARED_CORPUS", REPO.parent / "shared" / "corpus"))
BUILT_CORPUS = CACHE / "vmcores"
OOPS_DEV = Path(os.environ.get("KTRIAGE_OOPS_DEV", REPO.parent / "shared" / "oops-dev"))


@dataclass(frozen=True)
class CorpusDump:
    """One dump with its reference answers."""

    name: str
    """``<release>/<scenario>/<format>``: used as the test id."""
    release: str
    scenario: str
    format: str
    dump: Path
    crash_output: Path | None
    dmesg: Path | None
    console: Path | None
    vmlinux: Path | None
    """The matching vmlinux, when it is on this machine."""

    @property
    def crash_dir(self) -> Path:
        """The directory a user would point ktriage at."""
        return self.dump.parent


def _vmlinux_for(release: str) -> Path | None:
    for candidate in (
        CACHE / "kernels" / release / "vmlinux",
        Path(f"/usr/lib/debug/boot/vmlinux-{release}"),
        Path(f"/usr/lib/debug/lib/modules/{release}/vmlinux"),
    ):
        if candidate.is_file():
            return candidate
    return None


def _maybe(path: Path) -> Path | None:
    return path if path.is_file() else None


def shared_dumps() -> list[CorpusDump]:
    """The reference dumps of ``../shared/corpus``."""
    found = []
    if not SHARED_CORPUS.is_dir():
        return found
    for meta_path in sorted(SHARED_CORPUS.glob("*/*/meta.json")):
        directory = meta_path.parent
        release = directory.parent.name
        meta = json.loads(meta_path.read_text())
        if (directory / meta.get("dump", "")).is_file() and meta.get("dump"):
            dump = directory / meta["dump"]
            dmesg = _maybe(dump.parent / "vmcore-dmesg.txt") or _maybe(
                directory / "vmcore-dmesg.txt"
            )
        else:
            vmcores = sorted(directory.glob("*/vmcore"))
            if not vmcores:
                continue
            dump = vmcores[0]
            dmesg = _maybe(dump.parent / "vmcore-dmesg.txt")
        fmt = "kdump-layout" if dump.name == "vmcore" else dump.name.partition(".")[2]
        crash_outputs = sorted(directory.glob("crash-*.txt"))
        found.append(
            CorpusDump(
                name=f"shared/{release}/{directory.name}",
                release=release,
                scenario=str(meta.get("scenario", directory.name)).upper(),
                format=fmt,
                dump=dump,
                crash_output=crash_outputs[-1] if crash_outputs else None,
                dmesg=dmesg,
                console=_maybe(directory / "console.log"),
                vmlinux=_vmlinux_for(release),
            )
        )
    return found


def built_dumps() -> list[CorpusDump]:
    """The dumps built by ``tests/vmcores/build`` into the cache."""
    found = []
    if not BUILT_CORPUS.is_dir():
        return found
    for manifest_path in sorted(BUILT_CORPUS.glob("*/*/*/manifest.json")):
        directory = manifest_path.parent
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        dump = directory / manifest["dump"]
        if not dump.is_file():
            continue
        vmlinux = manifest.get("vmlinux")
        found.append(
            CorpusDump(
                name=f"built/{manifest['kernel_release']}/{manifest['scenario']}/"
                f"{manifest['format']}",
                release=manifest["kernel_release"],
                scenario=manifest["scenario"],
                format=manifest["format"],
                dump=dump,
                crash_output=_maybe(directory / manifest.get("crash_output", "crash.txt")),
                dmesg=_maybe(directory / manifest.get("dmesg", "vmcore-dmesg.txt")),
                console=_maybe(directory / manifest.get("console", "console.log")),
                vmlinux=Path(vmlinux) if vmlinux and Path(vmlinux).is_file() else None,
            )
        )
    return found


def all_dumps() -> list[CorpusDump]:
    """Every dump this machine has, shared ones first."""
    return shared_dumps() + built_dumps()


# The format a crash is analysed in by the expensive tests when not every dump is
# (makedumpfile -c -d 31 is what kdump-tools writes by default; the kdump layout
# has only its own format).
_PREFERRED_FORMATS = ("mkdf-c-d31", "kdump-layout", "mkdf-l-d31", "elf")
FULL_CORPUS = os.environ.get("KTRIAGE_FULL_CORPUS", "") not in ("", "0")


def _rank(dump: CorpusDump) -> int:
    try:
        return _PREFERRED_FORMATS.index(dump.format)
    except ValueError:
        return len(_PREFERRED_FORMATS)


def representative_dumps(dumps: list[CorpusDump]) -> list[CorpusDump]:
    """One dump per (corpus, kernel, scenario): the expensive tests run on these."""
    best: dict[tuple[str, str, str], CorpusDump] = {}
    for dump in dumps:
        key = (dump.name.split("/", 1)[0], dump.release, dump.scenario)
        if key not in best or _rank(dump) < _rank(best[key]):
            best[key] = dump
    return [d for d in dumps if best.get((d.name.split("/", 1)[0], d.release, d.scenario)) is d]
