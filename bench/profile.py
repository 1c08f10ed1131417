#!/usr/bin/env python3
"""Where ``ktriage`` spends its time: cProfile of one command, summarized.

    python3 bench/profile.py [--top N] [--save FILE.prof] -- ktriage-args...

e.g. ``python3 bench/profile.py -- analyze DUMP --format json --debuginfo btf``. The command
runs under cProfile in a child process (``python -m cProfile -m ktriage ...``); the report
lists the total, the time spent importing modules, and the functions with the largest
cumulative and own times (ktriage's own code and the rest separately). cProfile slows pure
Python code down (often 1.5-2x), so read the shares, not the absolute seconds. As in
``bench/run.py``, Python bytecode is cached under ``bench/results/pycache`` (one unprofiled
warm-up run first) unless ``--as-is``.
"""

from __future__ import annotations

import argparse
import os
import pstats
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


def summarize(prof: Path, top: int) -> str:
    stats = pstats.Stats(str(prof))
    table = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = [(key, cc, nc, tt, ct) for key, (cc, nc, tt, ct, _callers) in table.items()]
    imports = max(
        (ct for key, _cc, _nc, _tt, ct in rows if key[2] == "_find_and_load"), default=0.0
    )
    regex = max((ct for key, _cc, _nc, _tt, ct in rows if key[2] == "_compile"), default=0.0)
    out = [
        f"total {total:.3f} s under cProfile; importing modules {imports:.3f} s "
        f"({imports / total:.0%}); re._compile {regex:.3f} s ({regex / total:.0%})",
        "",
        f"top {top} ktriage functions by cumulative time:",
    ]
    own = sorted((r for r in rows if _own(r[0])), key=lambda r: -r[4])[:top]
    out += [f"  {ct:7.3f} s {ct / total:4.0%}  {nc:7d}x  {_name(k)}" for k, _c, nc, _t, ct in own]
    out += ["", f"top {top} functions by own time (all code):"]
    hot = sorted(rows, key=lambda r: -r[3])[:top]
    out += [f"  {tt:7.3f} s {tt / total:4.0%}  {nc:7d}x  {_name(k)}" for k, _c, nc, tt, _ct in hot]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--save", type=Path, help="keep the .prof file here")
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
    with tempfile.TemporaryDirectory() as tmp:
        prof = ns.save or Path(tmp) / "ktriage.prof"
        cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "ktriage", *args]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False, env=env)
        if r.returncode != 0:
            print(f"ktriage exited with status {r.returncode}", file=sys.stderr)
        print(summarize(prof, ns.top), end="")
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
