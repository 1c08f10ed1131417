#!/usr/bin/env python3
"""Where ``ktriage`` spends its time: cProfile of one command, summarized.

    python3 bench/profile.py [--runs N] [--top N] [--save FILE.prof] -- ktriage-args...

e.g. ``python3 bench/profile.py -- analyze DUMP --format json --debuginfo btf``. The command
runs under cProfile in child processes (``python -m cProfile -m ktriage ...``), ``--runs``
times (default 3); per function, the median over the runs is reported, which keeps one stall
of a loaded machine from showing up as a hot spot. The report lists the total, the time spent
importing modules and compiling regular expressions, and the functions with the largest
cumulative time (ktriage's own code) and own time (all code). cProfile slows pure Python code
down (often 1.5-2x), so read the shares, not the absolute seconds. As in ``bench/run.py``,
Python bytecode is cached under ``bench/results/pycache`` (one unprofiled warm-up run first)
unless ``--as-is``.
"""

from __future__ import annotations

import argparse
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

Key = tuple[str, int, str]


def _name(key: Key) -> str:
    filename, line, func = key
    for marker in ("/src/ktriage/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({func})" if line else func


def _own(key: Key) -> bool:
    return "/src/ktriage/" in key[0] or "/ktriage/" in key[0]


Row = tuple[int, float, float]  # calls, own time, cumulative time


def load(prof: Path) -> tuple[float, dict[Key, Row]]:
    stats = pstats.Stats(str(prof))
    table = stats.stats  # type: ignore[attr-defined]
    rows = {key: (nc, tt, ct) for key, (_cc, nc, tt, ct, _callers) in table.items()}
    return float(stats.total_tt), rows  # type: ignore[attr-defined]


def median_rows(runs: list[dict[Key, Row]]) -> dict[Key, Row]:
    """Per function, the median over the runs (absent from a run counts as 0)."""
    keys = set().union(*runs)
    out = {}
    for key in keys:
        got = [run.get(key, (0, 0.0, 0.0)) for run in runs]
        out[key] = (
            int(statistics.median(g[0] for g in got)),
            statistics.median(g[1] for g in got),
            statistics.median(g[2] for g in got),
        )
    return out


def summarize(totals: list[float], rows: dict[Key, Row], top: int) -> str:
    total = statistics.median(totals)

    def biggest(func: str) -> float:
        return max((ct for key, (_n, _t, ct) in rows.items() if key[2] == func), default=0.0)

    imports, regex = biggest("_find_and_load"), biggest("_compile")
    runs = f"median of {len(totals)} runs" if len(totals) > 1 else "1 run"
    out = [
        f"total {total:.3f} s under cProfile ({runs}: "
        + ", ".join(f"{t:.3f}" for t in totals)
        + f"); importing modules {imports:.3f} s ({imports / total:.0%}); "
        f"re._compile {regex:.3f} s ({regex / total:.0%})",
        "",
        f"top {top} ktriage functions by cumulative time:",
    ]
    own = sorted((kv for kv in rows.items() if _own(kv[0])), key=lambda kv: -kv[1][2])[:top]
    out += [f"  {ct:7.3f} s {ct / total:4.0%}  {n:7d}x  {_name(k)}" for k, (n, _t, ct) in own]
    out += ["", f"top {top} functions by own time (all code):"]
    hot = sorted(rows.items(), key=lambda kv: -kv[1][1])[:top]
    out += [f"  {tt:7.3f} s {tt / total:4.0%}  {n:7d}x  {_name(k)}" for k, (n, tt, _c) in hot]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--runs", type=int, default=3, help="profiled runs; medians (default 3)")
    ap.add_argument("--save", type=Path, help="keep the last .prof file here")
    ap.add_argument("--as-is", action="store_true", help="keep PYTHONDONTWRITEBYTECODE")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="arguments of ktriage")
    ns = ap.parse_args(argv)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    if not args:
        ap.error("give the ktriage arguments after --")
    env = dict(os.environ)
    if not ns.as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(__file__).resolve().parent / "results" / "pycache")
        warm = [sys.executable, "-m", "ktriage", *args]
        subprocess.run(warm, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    totals, runs, status = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(max(1, ns.runs)):
            prof = ns.save or Path(tmp) / "ktriage.prof"
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "ktriage", *args]
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False, env=env)
            if r.returncode != 0:
                status = r.returncode
                print(f"ktriage exited with status {r.returncode}", file=sys.stderr)
            total, rows = load(prof)
            totals.append(total)
            runs.append(rows)
    print(summarize(totals, median_rows(runs), ns.top), end="")
    return status


if __name__ == "__main__":
    sys.exit(main())
