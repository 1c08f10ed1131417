#!/usr/bin/env python3
"""Speed and memory of ktriage side by side with crash and drgn, on real corpus dumps.

One command::

    python3 bench/run.py [--quick] [--reps N] [--warmup N] [--dump SUBSTRING ...] [--all]

For each selected dump it measures, as separate child processes, wall time and peak RSS of:

* ``crash``: crash 8.0.6 (Debian trixie's, unpacked by ``tests/vmcores/build``) in batch mode,
  ``crash -s -i CMDS VMLINUX DUMP`` running ``sys, bt, bt -a, ps, log, kmem -i``;
* ``drgn``: drgn doing the same six commands through its crash mode
  (``bench/drgn_script.py``, one process);
* ``ktriage analyze --format json`` on each debuginfo tier (``dwarf`` with the vmlinux,
  also with ``--dwarf-types``, ``btf`` and ``none`` without);
* ``ktriage ident DUMP``;

and, once per repetition, ``ktriage oops`` over the whole oops corpus and over one file.

Runs are interleaved (every repetition runs every tool on every dump, the order rotated from
one repetition to the next), preceded by warm-up repetitions that are not counted (they also
bring the dumps into the page cache: the figures are warm-cache figures). Times are medians
of the repetitions; peak RSS comes from ``wait4`` on each child. Ratios against crash and drgn
are computed from the same run. Results go to ``bench/results/<stamp>.{json,md}`` (and
``latest.*``); a full run (not ``--quick``, not ``--tool``) also replaces the table in
``bench/README.md``. ``--tool 'ktriage btf' --all`` measures one row on every corpus dump.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
README = HERE / "README.md"
sys.path.insert(0, str(REPO / "tests"))

import corpus  # noqa: E402  (tests/corpus.py: discovery of the shared and built corpora)

CRASH_COMMANDS = ("sys", "bt", "bt -a", "ps", "log", "kmem -i")
TRIXIE_ROOT = corpus.CACHE / "tools" / "trixie"
TABLE_BEGIN = "<!-- bench:begin (written by bench/run.py) -->"
TABLE_END = "<!-- bench:end -->"
RUN_TIMEOUT = 900.0
# Targets from the issue; reported, never asserted.
TARGET_DWARF_VS_CRASH = 10.0
TARGET_BTF_SECONDS = 0.3
TARGET_BTF_MB = 100.0
TARGET_IDENT_SECONDS = 0.1


# ---------------------------------------------------------------------------------------------
# measuring one child process


@dataclass
class Sample:
    seconds: float
    peak_kb: int
    status: int


def child_env(as_is: bool) -> dict[str, str]:
    """The children's environment: Python bytecode cached, as on an installed system.

    This checkout's environment sets ``PYTHONDONTWRITEBYTECODE=1``, which makes every Python
    run recompile ktriage from source (about a second per run here). Unless ``as_is``, the
    children write and reuse bytecode under ``bench/results/pycache`` (the warm-up fills it),
    so nothing is written into the source tree.
    """
    env = dict(os.environ)
    if not as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(RESULTS / "pycache")
    return env


def tree_env(env: dict[str, str], tree: str) -> dict[str, str]:
    """The environment of a ``--src`` tree's runs: that tree first on the path, and a
    cache directory of its own (empty but for links to the machine's kernels, dumps
    and tools; the warm-up fills it), so that two versions with different cache
    formats do not rewrite each other's files."""
    base = Path(env.get("KTRIAGE_CACHE", "/var/cache/ktriage"))
    cache = RESULTS / "cache" / hashlib.sha256(tree.encode()).hexdigest()[:12]
    cache.mkdir(parents=True, exist_ok=True)
    for name in ("kernels", "vmcores", "tools"):
        link = cache / name
        if (base / name).is_dir() and not link.exists():
            link.symlink_to(base / name)
    return {**env, "PYTHONPATH": tree, "KTRIAGE_CACHE": str(cache)}


def measure(argv: Sequence[str], out: Path, cwd: Path, env: dict[str, str]) -> Sample:
    """Run ``argv`` with stdout+stderr to ``out``; wall time and the child's peak RSS."""
    with out.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
        )
        deadline = start + RUN_TIMEOUT
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
    return Sample(seconds, int(usage.ru_maxrss), proc.returncode)


# ---------------------------------------------------------------------------------------------
# the tools


def crash_argv() -> list[str] | None:
    """crash from Debian trixie, run with trixie's loader and libraries (as the builder does)."""
    ld = TRIXIE_ROOT / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    binary = TRIXIE_ROOT / "usr/bin/crash"
    if not (ld.is_file() and binary.is_file()):
        return None
    return [str(ld), "--library-path", str(ld.parent), str(binary)]


def crash_version(argv: list[str]) -> str:
    r = subprocess.run(
        [*argv, "--version"], capture_output=True, text=True, check=False, errors="replace"
    )
    m = re.search(r"crash (\S+)", r.stdout)
    return m.group(1) if m else (r.stdout.strip().splitlines() or ["?"])[0]


def ktriage_argv() -> list[str]:
    """The installed console script (not the pyenv shim), else ``python -m ktriage``."""
    script = Path(sysconfig.get_path("scripts")) / "ktriage"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "ktriage"]


def oops_files() -> tuple[list[Path], list[Path]]:
    """Files of the oops corpus ktriage reads as text, and those it refuses as binary.

    ``ktriage oops`` stops at the first file it refuses, so those are left out (and listed).
    The judgement is ktriage's own (``ktriage.oops.is_probably_text``) when importable.
    """
    try:
        from ktriage.oops import is_probably_text
    except ImportError:

        def is_probably_text(data: bytes) -> bool:
            return b"\0" not in data[:65536]

    text: list[Path] = []
    binary: list[Path] = []
    for path in sorted(corpus.OOPS_DEV.glob("*.txt"), key=lambda p: (len(p.name), p.name)):
        (text if is_probably_text(path.read_bytes()) else binary).append(path)
    return text, binary


@dataclass
class Case:
    """One tool on one target: what to run and how to check its output."""

    target: str
    tool: str
    argv: list[str]
    check: str  # "crash", "drgn", "json", "rc0"
    pythonpath: str | None = None  # for --compare-src: another ktriage source tree first
    samples: list[Sample] = field(default_factory=list)
    warmups: list[Sample] = field(default_factory=list)
    problem: str | None = None


def check_output(case: Case, sample: Sample, text: str) -> str | None:
    if case.check == "crash":
        missing = [c for c in ("PANIC:", "PID:", "TOTAL MEM") if c not in text]
        return f"crash output lacks {missing}" if missing else None
    if sample.status != 0:
        return f"exit status {sample.status}: {text[-300:].strip()}"
    if case.check == "drgn":
        missing = [c for c in CRASH_COMMANDS if f"=== crash> {c}\n" not in text]
        return f"drgn output lacks {missing}" if missing else None
    if case.check == "json":
        try:
            json.loads(text[text.index("{") :])
        except ValueError as error:
            return f"not JSON: {error}"
    return None


# ---------------------------------------------------------------------------------------------
# choosing dumps


def pick_dumps(everything: bool, wanted: Sequence[str], quick: bool) -> list[corpus.CorpusDump]:
    """Each kernel present: one compressed dump, one ELF dump, the kdump layout.

    The same scenario (EXEC_KMALLOC when present) is preferred across formats, the shared
    corpus before the built one.
    """
    dumps: list[corpus.CorpusDump] = corpus.all_dumps()
    if wanted:
        return [d for d in dumps if any(w in d.name for w in wanted)]
    if everything:
        return dumps

    def rank(d: corpus.CorpusDump) -> tuple[bool, bool, str]:
        return (d.scenario.upper() != "EXEC_KMALLOC", d.name.startswith("built/"), d.name)

    kinds = {
        "compressed": ("mkdf-c-d31", "kdump-zlib", "mkdf-z-d31", "mkdf-l-d31"),
        "elf": ("elf",),
        "kdump": ("kdump-layout",),
    }
    chosen: list[corpus.CorpusDump] = []
    for release in sorted({d.release for d in dumps}):
        for formats in kinds.values():
            candidates = sorted(
                (d for d in dumps if d.release == release and d.format in formats),
                key=lambda d: (formats.index(d.format), *rank(d)),
            )
            if candidates:
                chosen.append(candidates[0])
            if quick:
                break
    return chosen


def cases_for(
    dump: corpus.CorpusDump,
    crash: list[str] | None,
    ktriage: list[str],
    work: Path,
    indexed_crash: bool = True,
) -> list[Case]:
    target = dump.name
    # ktriage takes the crash directory for the kdump layout, the dump file otherwise.
    path = str(dump.crash_dir if dump.format == "kdump-layout" else dump.dump)
    cases = []
    if dump.vmlinux is not None:
        if crash is not None:
            cmds = work / "crash-commands"
            cmds.write_text("".join(f"{c}\n" for c in CRASH_COMMANDS) + "exit\n")
            argv = [*crash, "-s", "-i", str(cmds), str(dump.vmlinux), str(dump.dump)]
            cases.append(Case(target, "crash", argv, "crash"))
            # The corpus builder gives crash a copy of the vmlinux with a .gdb_index
            # (gdb-add-index): crash's best case, not what a distribution's vmlinux has.
            indexed = dump.vmlinux.with_name("vmlinux.gdb-index")
            if indexed_crash and indexed.is_file():
                argv = [*crash, "-s", "-i", str(cmds), str(indexed), str(dump.dump)]
                cases.append(Case(target, "crash (gdb-index)", argv, "crash"))
        drgn_argv = [sys.executable, str(HERE / "drgn_script.py"), str(dump.dump)]
        cases.append(Case(target, "drgn", [*drgn_argv, str(dump.vmlinux)], "drgn"))
        dwarf = ["--vmlinux", str(dump.vmlinux), "--debuginfo", "dwarf"]
        cases.append(Case(target, "ktriage dwarf", [*ktriage, "analyze", path, *J, *dwarf], "json"))
        # Every type from DWARF, as drgn does: drgn indexes the whole DWARF.
        argv = [*ktriage, "analyze", path, *J, *dwarf, "--dwarf-types"]
        cases.append(Case(target, "ktriage dwarf-types", argv, "json"))
    for tier in ("btf", "none"):
        argv = [*ktriage, "analyze", path, *J, "--debuginfo", tier, "--no-debuginfod"]
        cases.append(Case(target, f"ktriage {tier}", argv, "json"))
    cases.append(Case(target, "ktriage ident", [*ktriage, "ident", str(dump.dump)], "rc0"))
    return cases


J = ("--format", "json")


def with_sources(
    cases: list[Case],
    ktriage: list[str],
    sources: list[Path],
    ap: argparse.ArgumentParser,
    label: bool = True,
) -> list[Case]:
    """Each ktriage case once per source tree (``--src``), next to each other."""
    out = []
    for case in cases:
        if case.argv[: len(ktriage)] != ktriage:
            out.append(case)
            continue
        for src in sources:
            if not (src / "ktriage" / "__init__.py").is_file():
                ap.error(f"{src} holds no ktriage package")
            tool = f"{case.tool} @{src.name}" if label else case.tool
            out.append(Case(case.target, tool, case.argv, case.check, str(src.resolve())))
    return out


# ---------------------------------------------------------------------------------------------
# the machine


def machine() -> dict[str, Any]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    virt = (
        subprocess.run(
            ["systemd-detect-virt"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if shutil.which("systemd-detect-virt")
        else ""
    )
    import drgn

    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "virtualization": virt or None,
        "kernel": platform.release(),
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", "?")
        if hasattr(platform, "freedesktop_os_release")
        else "?",
        "python": platform.python_version(),
        "drgn": drgn.__version__,
    }


def git_state() -> str:
    """``git describe --dirty`` of the checkout, with the size of uncommitted changes."""

    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return r.stdout.strip()

    described = git("describe", "--always", "--dirty")
    if described.endswith("-dirty"):
        stat = git("diff", "--shortstat", "HEAD", "--", "src").strip()
        if stat:
            described += f" (src: {stat})"
    return described


def snapshot_source(work: Path) -> Path:
    """A copy of the checkout's ``src/ktriage``: the code every repetition runs.

    Others edit this checkout while a run lasts; running the copy keeps one version of
    ktriage in all repetitions.
    """
    dest = work / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "src" / "ktriage", dest / "ktriage", ignore=ignore)
    return dest


# ---------------------------------------------------------------------------------------------
# running


def log(msg: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {msg}", file=sys.stderr, flush=True)


def run_all(
    cases: list[Case], warmup: int, reps: int, work: Path, env: dict[str, str]
) -> list[float]:
    """Interleaved: every repetition runs every case, the order rotated each time."""
    loads = []
    outputs = work / "outputs"
    outputs.mkdir(exist_ok=True)
    for rep in range(warmup + reps):
        shift = rep % len(cases)
        order = cases[shift:] + cases[:shift]
        label = f"warm-up {rep + 1}/{warmup}" if rep < warmup else f"rep {rep - warmup + 1}/{reps}"
        loads.append(os.getloadavg()[0])
        log(f"{label}: {len(order)} runs, load {loads[-1]:.2f}")
        for case in order:
            out = outputs / re.sub(r"[^A-Za-z0-9.-]+", "_", f"{case.target}-{case.tool}")
            case_env = env if case.pythonpath is None else tree_env(env, case.pythonpath)
            sample = measure(case.argv, out, work, case_env)
            text = out.read_text(errors="replace")
            problem = check_output(case, sample, text)
            if problem and case.problem is None:
                case.problem = problem
                log(f"  {case.target} {case.tool}: {problem}")
            (case.warmups if rep < warmup else case.samples).append(sample)
    loads.append(os.getloadavg()[0])
    return loads


def median_s(case: Case | None) -> float | None:
    if case is None or not case.samples:
        return None
    return statistics.median(s.seconds for s in case.samples)


def median_mb(case: Case | None) -> float | None:
    if case is None or not case.samples:
        return None
    return statistics.median(s.peak_kb for s in case.samples) / 1024


def summarize(cases: list[Case]) -> list[dict[str, Any]]:
    by = {(c.target, c.tool): c for c in cases}
    rows = []
    for c in cases:
        crash = by.get((c.target, "crash"))
        indexed = by.get((c.target, "crash (gdb-index)"))
        ti = median_s(indexed)
        mc = median_mb(crash)
        drgn = by.get((c.target, "drgn"))
        t, mb = median_s(c), median_mb(c)
        tc, td = median_s(crash), median_s(drgn)
        secs = [s.seconds for s in c.samples]
        rows.append(
            {
                "target": c.target,
                "tool": c.tool,
                "argv": c.argv,
                "reps": len(c.samples),
                "median_s": t,
                "min_s": min(secs) if secs else None,
                "max_s": max(secs) if secs else None,
                "median_peak_mb": mb,
                "speedup_vs_crash": tc / t if t and tc and not c.tool.startswith("crash") else None,
                "speedup_vs_crash_gdb_index": ti / t
                if t and ti and not c.tool.startswith("crash")
                else None,
                "speedup_vs_drgn": td / t
                if t and td and not c.tool.startswith(("crash", "drgn"))
                else None,
                "rss_vs_crash": mb / mc if mb and mc and c.tool != "crash" else None,
                "problem": c.problem,
                "samples": [asdict(s) for s in c.samples],
                "warmups": [asdict(s) for s in c.warmups],
            }
        )
    return rows


def targets(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        name = f"{r['target']}: {r['tool']}"
        if r["median_s"] is None:
            continue
        if r["tool"] == "ktriage dwarf":
            vs_crash, vs_drgn = r["speedup_vs_crash"], r["speedup_vs_drgn"]
            if vs_crash is not None:
                ok = vs_crash >= TARGET_DWARF_VS_CRASH
                lines.append(
                    f"{'met' if ok else 'MISSED'}: {name} {vs_crash:.2f}x faster than crash"
                    f" (target >= {TARGET_DWARF_VS_CRASH:.0f}x)"
                )
            vs_index = r["speedup_vs_crash_gdb_index"]
            if vs_index is not None:
                # crash's best case (a vmlinux given a .gdb_index, which distributions'
                # debug packages lack): shown beside the target, not a target itself.
                lines.append(
                    f"info: {name} {vs_index:.2f}x faster than crash with a gdb-indexed vmlinux"
                )
            if vs_drgn is not None:
                ok = vs_drgn >= 1.0
                lines.append(
                    f"{'met' if ok else 'MISSED'}: {name} {vs_drgn:.2f}x drgn's speed"
                    " (target >= 1x)"
                )
        elif r["tool"] == "ktriage btf":
            ok = r["median_s"] < TARGET_BTF_SECONDS and r["median_peak_mb"] < TARGET_BTF_MB
            lines.append(
                f"{'met' if ok else 'MISSED'}: {name} {r['median_s']:.3f} s, "
                f"{r['median_peak_mb']:.0f} MB (target < {TARGET_BTF_SECONDS} s and "
                f"< {TARGET_BTF_MB:.0f} MB)"
            )
        elif r["tool"] == "ktriage ident":
            ok = r["median_s"] < TARGET_IDENT_SECONDS
            lines.append(
                f"{'met' if ok else 'MISSED'}: {name} {r['median_s']:.3f} s "
                f"(target < {TARGET_IDENT_SECONDS} s)"
            )
    return lines


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    load = result["load"]
    out = [
        f"Run {result['started']} → {result['finished']} UTC, ktriage `{result['ktriage']}`"
        + (" (ran from a snapshot of src/ taken at the start)" if result["snapshot"] else "")
        + ", "
        f"{result['warmup']} warm-up + {result['reps']} measured repetitions, interleaved; "
        "medians (warm page cache"
        + (", Python bytecode cached)." if result["bytecode_cache"] else ", no bytecode cache)."),
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gb']} GB RAM"
        + (f", {m['virtualization']} guest" if m["virtualization"] else "")
        + f"; {m['os']}, Linux {m['kernel']}; Python {m['python']}; drgn {m['drgn']}; "
        f"crash {result['crash_version']}.",
        f"1-min load average while running: min {min(load):.2f}, median "
        f"{statistics.median(load):.2f}, max {max(load):.2f} (sampled before each repetition).",
        "",
        "| dump | tool | time (s) | peak RSS (MB) | × faster than crash "
        "| × faster than crash (gdb-index) | × faster than drgn | RSS / crash |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        note = " ⚠" if r["problem"] else ""
        out.append(
            f"| {r['target']} | {r['tool']}{note} | {fmt(r['median_s'], '.3f')} "
            f"| {fmt(r['median_peak_mb'], '.0f')} | {fmt(r['speedup_vs_crash'], '.1f')} "
            f"| {fmt(r['speedup_vs_crash_gdb_index'], '.1f')} "
            f"| {fmt(r['speedup_vs_drgn'], '.2f')} | {fmt(r['rss_vs_crash'], '.2f')} |"
        )
    problems = [r for r in result["rows"] if r["problem"]]
    if problems:
        out += ["", "⚠ output problems:"]
        out += [f"- {r['target']} {r['tool']}: {r['problem']}" for r in problems]
    out += ["", "Targets:", ""] + [f"- {line}" for line in result["targets"]]
    return "\n".join(out) + "\n"


def update_readme(table: str) -> None:
    text = README.read_text() if README.is_file() else ""
    block = f"{TABLE_BEGIN}\n{table}{TABLE_END}"
    if TABLE_BEGIN in text and TABLE_END in text:
        head, _, rest = text.partition(TABLE_BEGIN)
        _, _, tail = rest.partition(TABLE_END)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n## Latest results\n\n" + block + "\n"
    README.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one dump, 1 warm-up, 2 repetitions")
    ap.add_argument("--reps", type=int, help="measured repetitions (default 5, quick 2)")
    ap.add_argument("--warmup", type=int, default=1, help="warm-up repetitions (default 1)")
    ap.add_argument("--dump", action="append", default=[], help="dumps whose name contains this")
    ap.add_argument("--all", action="store_true", help="every corpus dump")
    ap.add_argument("--no-crash", action="store_true", help="leave crash out")
    ap.add_argument(
        "--no-gdb-index",
        action="store_true",
        help="leave out crash on the corpus builder's vmlinux.gdb-index (crash's best case)",
    )
    ap.add_argument(
        "--as-is",
        action="store_true",
        help="keep the environment's PYTHONDONTWRITEBYTECODE (no bytecode cache)",
    )
    ap.add_argument(
        "--src",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="run the ktriage rows from this source tree (a directory holding a copy of the "
        "ktriage package) instead of the installed one; repeat for a before/after "
        "comparison (rows marked @DIR)",
    )
    ap.add_argument(
        "--live",
        action="store_true",
        help="run the installed ktriage as is, instead of a snapshot of src/ taken at the start",
    )
    ap.add_argument("--no-readme", action="store_true", help="do not update bench/README.md")
    ap.add_argument(
        "--tool",
        action="append",
        default=[],
        help="only the rows of this tool, e.g. 'ktriage btf' (repeatable; implies --no-readme)",
    )
    args = ap.parse_args(argv)
    reps = args.reps or (2 if args.quick else 5)

    crash = None if args.no_crash else crash_argv()
    if crash:
        version = crash_version(crash)
    elif args.no_crash:
        version = "left out (--no-crash)"
    else:
        version = f"not available (nothing under {TRIXIE_ROOT})"
    log(f"crash: {version}")
    dumps = pick_dumps(args.all, args.dump, args.quick)
    if not dumps:
        log("no corpus dumps on this machine")
        return 1
    texts, binaries = oops_files()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix=f"bench-{stamp}-", dir=RESULTS))
    git_at_start = git_state()
    # Unless --live, ktriage runs as python -m ktriage with PYTHONPATH=DIR: the --src trees,
    # or a snapshot of the checkout's src/ taken now.
    sources = list(args.src) if args.src else ([] if args.live else [snapshot_source(work)])
    ktriage = [sys.executable, "-m", "ktriage"] if sources else ktriage_argv()
    cases: list[Case] = []
    for dump in dumps:
        cases += cases_for(dump, crash, ktriage, work, not args.no_gdb_index)
    # The floor under every Python tool here: the interpreter starting (with this
    # machine's site-packages .pth hooks) and doing nothing.
    cases.append(Case("baseline", "python3 -c pass", [sys.executable, "-c", "pass"], "rc0"))
    if texts:
        oops_all = [*ktriage, "oops", *map(str, texts)]
        cases.append(Case(f"oops-dev ({len(texts)} files)", "ktriage oops", oops_all, "rc0"))
        one = [*ktriage, "oops", str(texts[0])]
        cases.append(Case(f"oops-dev/{texts[0].name}", "ktriage oops", one, "rc0"))
    if args.tool:
        cases = [c for c in cases if c.tool in args.tool or c.tool == "python3 -c pass"]
        if len(cases) <= 1:
            ap.error(f"no rows of {args.tool}")
    if sources:
        cases = with_sources(cases, ktriage, sources, ap, label=bool(args.src))
    log(f"ktriage: {git_at_start}" + (" (snapshot of src/)" if sources and not args.src else ""))
    for d in dumps:
        log(f"dump {d.name}: {d.dump} ({d.dump.stat().st_size / 2**20:.0f} MB)")
    if binaries:
        log(f"oops corpus: {len(binaries)} binary file(s) left out: {[p.name for p in binaries]}")

    started = datetime.datetime.now(datetime.UTC)
    loads = run_all(cases, args.warmup, reps, work, child_env(args.as_is))
    finished = datetime.datetime.now(datetime.UTC)
    rows = summarize(cases)
    result = {
        "started": started.strftime("%Y-%m-%d %H:%M:%S"),
        "finished": finished.strftime("%Y-%m-%d %H:%M:%S"),
        "warmup": args.warmup,
        "reps": reps,
        "quick": args.quick,
        "crash_version": version,
        "bytecode_cache": not args.as_is,
        "crash_commands": list(CRASH_COMMANDS),
        "machine": machine(),
        "ktriage": git_at_start,
        "ktriage_at_end": git_state(),
        "snapshot": bool(sources) and not args.src,
        "sources": [str(p) for p in args.src],
        "load": loads,
        "dumps": [
            {
                "name": d.name,
                "format": d.format,
                "dump": str(d.dump),
                "vmlinux": str(d.vmlinux),
                "size": d.dump.stat().st_size,
            }
            for d in dumps
        ],
        "oops_binary_left_out": [p.name for p in binaries],
        "rows": rows,
    }
    result["targets"] = targets(rows)
    table = markdown(result)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stamp}.md").write_text(table)
    shutil.copyfile(RESULTS / f"{stamp}.json", RESULTS / "latest.json")
    shutil.copyfile(RESULTS / f"{stamp}.md", RESULTS / "latest.md")
    (work / "outputs").rename(RESULTS / f"{stamp}-outputs")
    shutil.rmtree(work, ignore_errors=True)
    if not args.quick and not args.no_readme and not args.tool:
        update_readme(table)
    print(table)
    log(f"wrote {RESULTS / stamp}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
