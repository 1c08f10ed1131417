"""drgn's side of the benchmark: crash's commands run through drgn 0.3.0's crash mode.

Run as a child process of ``bench/run.py``::

    python3 bench/drgn_script.py DUMP VMLINUX [COMMAND ...]

It opens the dump, loads the vmlinux's DWARF (and nothing else: no module debuginfo, no
debuginfod), then runs each crash command in the same process through the public
``drgn.commands.run_command(prog, "crash CMD")`` entry point (the ``%crash CMD`` of drgn's
CLI). Output goes to stdout, errors of one command to stderr without stopping the others.
"""

from __future__ import annotations

import sys

import drgn
from drgn.commands import run_command

DEFAULT_COMMANDS = ("sys", "bt", "bt -a", "ps", "log", "kmem -i")


def _report(error: Exception) -> None:
    print(f"drgn: crash: {type(error).__name__}: {error}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    dump, vmlinux, *commands = argv
    prog = drgn.Program()
    prog.set_core_dump(dump)
    prog.load_debug_info([vmlinux], default=False)
    failures = 0
    for command in commands or DEFAULT_COMMANDS:
        print(f"=== crash> {command}", flush=True)
        try:
            run_command(prog, f"crash {command}", globals={"prog": prog})
        except Exception as error:  # one failing command must not stop the rest
            failures += 1
            _report(error)
        sys.stdout.flush()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
