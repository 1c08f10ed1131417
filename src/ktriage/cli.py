"""
Command line
------------

``ktriage analyze``, ``ident``, ``oops`` and ``log``. The only place that prints
errors and exits: every :class:`~ktriage.errors.KtriageError` becomes one line
saying what is wrong and what to try, with a non-zero exit; anything unexpected
becomes one line too (``--debug`` shows the traceback).
"""

import argparse
import gc
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from ktriage import __version__
from ktriage.cache import cache_root
from ktriage.errors import BadInputError, KtriageError

__all__ = ("main",)

_FORMATS = ("text", "markdown", "json", "html")
EXIT_INTERNAL = 70


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        tmp.write_text(text if text.endswith("\n") else text + "\n")
        os.replace(tmp, output)
    except OSError as e:
        raise KtriageError(f"cannot write {output}: {e.strerror}", "check the directory") from e


def _print_error(error: KtriageError) -> None:
    """The one line a user sees for bad input: what is wrong, and what to try."""
    hint = f" (try: {error.hint})" if error.hint else ""
    print(f"ktriage: error: {error.message}{hint}", file=sys.stderr)


def _existing(path: Path) -> Path:
    if not path.exists():
        raise BadInputError(f"{path}: no such file or directory", "check the path")
    return path


def cmd_analyze(args: argparse.Namespace) -> int:
    # One analysis builds ~1M objects that live to the end (symbol tables, facts);
    # the cyclic collector would walk them again and again for garbage that the
    # exit frees anyway (15-30 ms of a BTF-tier run). Restored for a caller that
    # runs main() in its own process.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(args)
    finally:
        if enabled:
            gc.enable()


def _analyze(args: argparse.Namespace) -> int:
    from ktriage.analyze import AnalyzeOptions, analyze_path
    from ktriage.report import render

    options = AnalyzeOptions(
        vmlinux=_existing(args.vmlinux) if args.vmlinux else None,
        debuginfo=args.debuginfo,
        debug_dirs=tuple(args.debug_dir or ()),
        packages=tuple(_existing(p) for p in args.debuginfo_package or ()),
        debuginfod=not args.no_debuginfod,
        cache_dir=args.cache_dir / "debuginfo",
        progress=sys.stderr.isatty(),
        dwarf_types=args.dwarf_types,
    )
    analysis = analyze_path(_existing(args.path), options)
    color = args.output is None and args.format == "text" and sys.stdout.isatty()
    _write(render(analysis, args.format, color=color), args.output)
    if args.timings:
        for name, seconds in options.timings:
            print(f"{name:>14}: {seconds:.3f} s", file=sys.stderr)
    return 0


def _dump_path(path: Path) -> Path:
    """The dump ``path`` names: the file, or the one in a crash directory."""
    from ktriage.source.paths import resolve_input

    if not path.is_dir():
        return _existing(path)
    dump = resolve_input(path).dump
    if dump is None:
        raise BadInputError(f"{path} holds no dump, only a kernel log", "use ktriage analyze")
    return dump


def cmd_ident(args: argparse.Namespace) -> int:
    from ktriage.report import render_ident
    from ktriage.source.ident import identify

    _write(render_ident(identify(_dump_path(args.dump)), args.format), args.output)
    return 0


def cmd_oops(args: argparse.Namespace) -> int:
    from ktriage.oops import parse_file
    from ktriage.report import render_oops

    results = []
    failed: list[KtriageError] = []
    for path in args.files:
        try:
            results.append((str(path), parse_file(_existing(path))))
        except KtriageError as e:
            # One bad file does not stop a batch: say so and go on.
            failed.append(e)
            _print_error(e)
    if results:
        _write(render_oops(results, args.format), args.output)
    return max((e.exit_code for e in failed), default=0)


def cmd_log(args: argparse.Namespace) -> int:
    from ktriage.source.ident import identify
    from ktriage.source.open import open_program
    from ktriage.source.printk import format_log, read_log

    dump = _dump_path(args.dump)
    log = read_log(open_program(dump, identify(dump)))
    if not log:
        raise BadInputError(
            f"{dump}: no kernel log could be read from the dump",
            "use the vmcore-dmesg.txt saved beside it",
        )
    _write(format_log(log), args.output)
    for line in log.unreadable:
        print(f"ktriage: warning: {line}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ktriage`` command."""
    parser = argparse.ArgumentParser(
        prog="ktriage",
        description="Turn a Linux kernel crash dump or oops log into a root-cause answer.",
    )
    parser.add_argument("--version", action="version", version=f"ktriage {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "analyze",
        help="the whole crash walk: sys, bt, ps, kmem, dis, bt -v, log, and a verdict",
        description="Analyze a crash directory (/var/crash/<ip>-<date>/ or Ubuntu's "
        "/var/crash/<stamp>/), a dump file, or a kernel log text file.",
    )
    p.add_argument("path", type=Path, help="crash directory, vmcore, or kernel log text")
    p.add_argument("--vmlinux", type=Path, help="vmlinux with DWARF (its build ID must match)")
    p.add_argument(
        "--debuginfo",
        choices=("auto", "dwarf", "btf", "symbols", "none"),
        default="auto",
        help="debuginfo tier: auto (DWARF if found, else BTF, else symbols), or force one",
    )
    p.add_argument("--debug-dir", type=Path, action="append", help="extra debuginfo directory")
    p.add_argument(
        "--debuginfo-package",
        type=Path,
        action="append",
        help="a downloaded .deb/.ddeb/.rpm holding the vmlinux (repeatable)",
    )
    p.add_argument("--no-debuginfod", action="store_true", help="never fetch from debuginfod")
    p.add_argument(
        "--dwarf-types",
        action="store_true",
        help="with a vmlinux, take every type from its DWARF, not the dump's BTF first "
        "(slower: the whole DWARF is indexed)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=cache_root(),
        help="cache for debuginfo, parsed BTF, symbol indexes and rearranged flattened "
        "dumps (default: %(default)s)",
    )
    p.add_argument("--format", "-f", choices=_FORMATS, default="text")
    p.add_argument("--output", "-o", type=Path, help="write the report to this file")
    p.add_argument("--timings", action="store_true", help="print seconds per step on stderr")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("ident", help="identify a dump from its headers alone (no symbols needed)")
    p.add_argument("dump", type=Path)
    p.add_argument("--format", "-f", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--output", "-o", type=Path)
    p.set_defaults(func=cmd_ident)

    p = sub.add_parser("oops", help="find and triage every crash report in kernel log files")
    p.add_argument("files", type=Path, nargs="+")
    p.add_argument("--format", "-f", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--output", "-o", type=Path)
    p.set_defaults(func=cmd_oops)

    p = sub.add_parser(
        "log", help="print the kernel log from a dump (like vmcore-dmesg), no symbols needed"
    )
    p.add_argument("dump", type=Path)
    p.add_argument("--output", "-o", type=Path)
    p.set_defaults(func=cmd_log)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ktriage`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except KtriageError as e:
        _print_error(e)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal error: one line, the traceback on request
        if args.debug:
            traceback.print_exc()
        print(
            f"ktriage: internal error: {type(e).__name__}: {e} (run with --debug and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
