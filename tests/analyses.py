"""One analysis per (dump, tier) for the whole test session, shared by test modules."""

from __future__ import annotations

import functools
from pathlib import Path

from corpus import CorpusDump

from ktriage.analyze import AnalyzeOptions, analyze_path
from ktriage.findings.model import Analysis


@functools.cache
def _analyze(target: Path, vmlinux: Path | None, tier: str) -> Analysis:
    dwarf_types = tier == "dwarf-types"
    options = AnalyzeOptions(
        vmlinux=vmlinux,
        debuginfo="dwarf" if dwarf_types else tier,
        debuginfod=False,
        dwarf_types=dwarf_types,
    )
    return analyze_path(target, options)


def analysis_of(dump: CorpusDump, tier: str) -> Analysis:
    """``ktriage analyze`` of a corpus dump on ``tier`` (``dwarf`` uses its vmlinux;
    ``dwarf-types`` too, with every type from DWARF: ``--dwarf-types``)."""
    target = dump.dump.parent if dump.dump.name == "vmcore" else dump.dump
    return _analyze(target, dump.vmlinux if tier.startswith("dwarf") else None, tier)
