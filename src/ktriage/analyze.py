"""
Analyze
-------

The whole crash walk, automated: open the input, pick the richest debuginfo
tier available, collect the facts an expert would look at (``sys``, ``bt``,
``ps``, ``kmem``, ``dis -rl``, ``bt -v``, ``log``), and judge them.

Text inputs (a vmcore-dmesg.txt or a console log) take the same road from the
facts on: the log and the crash reports parsed out of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import drgn

from ktriage.cache import cache_root
from ktriage.errors import BadInputError, DebuginfoError, KtriageError
from ktriage.facts import (
    AddressFacts,
    Backtrace,
    CpuContext,
    CrashFacts,
    DebuginfoFacts,
    DumpIdentity,
    ExceptionFrame,
    LogRecord,
    OopsReport,
    PanicFacts,
    StackHealth,
    SystemFacts,
    TaskFacts,
    Tier,
)
from ktriage.facts.base import Record
from ktriage.source.ident import identify_details
from ktriage.source.open import NOTES_KEY, UNREADABLE_KEY, open_program
from ktriage.source.paths import resolve_input
from ktriage.source.session import READ_ERRORS, KernelSession
from ktriage.symbols.kallsyms import module_symbol_index, unreadable_module_symbols

if TYPE_CHECKING:
    from ktriage.findings.model import Analysis

__all__ = (
    "DEBUGINFO_MODES",
    "AnalyzeOptions",
    "analyze_path",
    "analyze_text",
    "collect_dump_facts",
    "open_session",
)

DEBUGINFO_MODES = ("auto", "dwarf", "btf", "symbols", "none")
_MAX_BLOCKED = 32
_CODE_KINDS = ("kernel-text", "module-text")


@dataclass(frozen=True, eq=False, repr=False)
class AnalyzeOptions(Record):
    """How to find debuginfo and how much to collect."""

    vmlinux: Path | None = None
    debuginfo: str = "auto"
    """``auto`` (DWARF if a matching vmlinux is found, else BTF, else symbols),
    ``dwarf`` (fail with advice when none matches), ``btf``, ``symbols``, ``none``."""
    debug_dirs: tuple[Path, ...] = ()
    packages: tuple[Path, ...] = ()
    debuginfod: bool = True
    cache_dir: Path = field(default_factory=lambda: cache_root() / "debuginfo")
    """Debug files; the other caches are its siblings (``--cache-dir``/debuginfo)."""
    progress: bool = False
    dwarf_types: bool = False
    """On the DWARF tier, take every type from DWARF, even those the dump's BTF has
    (slower: drgn then indexes the whole DWARF)."""
    timings: list[tuple[str, float]] = field(default_factory=list, compare=False)
    """Filled with seconds per step (for benchmarks and ``--verbose``)."""


def _report_backtrace(report: OopsReport) -> Backtrace:
    """A backtrace from the text of a report (tier none and text inputs)."""
    exception = None
    rip = report.registers.get("RIP")
    if rip is not None:
        exception = ExceptionFrame(
            rip=rip,
            rip_kind="unknown",
            registers=dict(report.registers),
            cr2=report.fault_address,
        )
    return Backtrace(
        pid=report.pid,
        comm=report.comm,
        task=None,
        cpu=report.cpu,
        frames=report.stack,
        exception=exception,
        error="from the log text: no dump memory was read",
    )


def _text_facts(
    ident: DumpIdentity,
    debuginfo: DebuginfoFacts,
    records: tuple[LogRecord, ...],
    unreadable: Iterable[str] = (),
) -> CrashFacts:
    from ktriage.oops import parse_log
    from ktriage.source.panic import panic_lines

    oopses = tuple(parse_log("\n".join(r.format() for r in records)))
    message, oops = panic_lines(records, oopses)
    main = oopses[0] if oopses else None
    panic = PanicFacts(
        message=message,
        oops=oops,
        cpu=main.cpu if main else None,
        pid=main.pid if main else None,
        comm=main.comm if main else None,
    )
    return CrashFacts(
        ident=ident,
        debuginfo=debuginfo,
        panic=panic,
        backtrace=_report_backtrace(main) if main else None,
        log=records,
        oopses=oopses,
        unreadable=tuple(unreadable),
    )


def analyze_text(path: Path) -> Analysis:
    """Analyze a kernel log file (vmcore-dmesg.txt, console log, journal export)."""
    from ktriage.findings.engine import analyze_facts
    from ktriage.source.printk import parse_log_text

    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError as e:
        raise BadInputError(f"cannot read {path}: {e.strerror}", "check the path") from e
    ident = DumpIdentity(path=str(path), format="text", file_size=len(text))
    debuginfo = DebuginfoFacts(
        tier=Tier.NONE,
        source="none",
        notes=("a text log has no memory: backtraces and registers come from the log text",),
    )
    return analyze_facts(_text_facts(ident, debuginfo, parse_log_text(text)))


def _load_dwarf(
    prog: drgn.Program, vmlinux: Path, build_id: str | None, options: AnalyzeOptions
) -> tuple[list[str], bool]:
    """Load *vmlinux* as the kernel's debug file; return notes for the report and
    whether types come from BTF first.

    Unless ``options.dwarf_types``, types and declared globals come from the dump's
    BTF first (:func:`ktriage.symbols.btf_tier.load_btf_types`), so drgn indexes
    the DWARF only if something BTF lacks is looked up.
    """
    from ktriage.symbols.btf_tier import BtfTypes, load_btf_types

    prog.set_enabled_debug_info_finders([])
    kernel = prog.main_module(name="kernel", create=True)
    # Unlike Program.load_debug_info, Module.try_file does not index the DWARF.
    kernel.try_file(str(vmlinux))
    if not kernel.debug_file_path:
        raise DebuginfoError(
            f"drgn could not use {vmlinux} for the kernel in the dump",
            "check that the file is a vmlinux with DWARF for this kernel",
        )
    notes: list[str] = []
    btf: BtfTypes | None = None
    if not options.dwarf_types:
        try:
            btf = load_btf_types(prog, build_id, vmlinux=vmlinux, cache_dir=_cache(options, "btf"))
        except KtriageError as e:
            notes.append(f"types from DWARF: the dump's BTF is not usable ({e})")
    try:
        prog.create_loaded_modules()
    except READ_ERRORS as e:
        notes.append(f"module list not read: {e}")
    if btf is not None:
        btf.load_modules()
        notes.extend(btf.notes)
        notes.append(
            "types from the kernel's BTF (the same types, quicker to load); "
            "DWARF for source lines, inline frames and whatever BTF lacks"
        )
    # Module symbols from the kernel's own kallsyms, for modules without debug files.
    try:
        prog.register_symbol_finder("module_kallsyms", module_symbol_index(prog), enable_index=-1)
    except READ_ERRORS:
        pass
    return notes, btf is not None


def _remember_absent(prog: drgn.Program, options: AnalyzeOptions) -> None:
    # Names the loaded DWARF lacks, by the debug files loaded (see symbols.absent).
    from ktriage.symbols.absent import AbsentNames
    from ktriage.symbols.buildid import valid_build_id

    ids = []
    for module in prog.modules():
        if module.debug_file_path:
            build_id = valid_build_id(module.build_id.hex() if module.build_id else None)
            if build_id is None:
                return  # a debug file without a build ID: nothing to key the file by
            ids.append(build_id)
    if ids:
        AbsentNames(_cache(options, "symindex") / f"{AbsentNames.key(ids)}.absent").install(prog)


def _with_notes(facts: DebuginfoFacts, notes: Iterable[str]) -> DebuginfoFacts:
    return replace(facts, notes=(*facts.notes, *notes))


def _cache(options: AnalyzeOptions, name: str) -> Path:
    # The caches beside the debuginfo one: "symindex" (what the DWARF tier keeps
    # per vmlinux build), "btf" (parsed BTF, kallsyms per kernel build),
    # "flattened" (rearranged flattened dumps).
    return options.cache_dir.parent / name


def _symbol_index_file(options: AnalyzeOptions, build_id: str | None) -> Path | None:
    # By the vmlinux's build ID (none: not kept).
    from ktriage.symbols.buildid import valid_build_id

    name = valid_build_id(build_id)
    return None if name is None else _cache(options, "symindex") / f"{name}.symidx"


def _load_module_debug(prog: drgn.Program, files: dict[str, Path]) -> tuple[str, ...]:
    loaded = []
    for module in prog.modules():
        path = files.get(module.name)
        if path is not None and module.wants_debug_file():
            module.try_file(str(path))
            if module.debug_file_path:
                loaded.append(module.name)
    return tuple(loaded)


def _module_build_ids(prog: drgn.Program) -> list[tuple[str, str | None]]:
    out = []
    for module in prog.modules():
        if isinstance(module, drgn.RelocatableModule):
            build_id = module.build_id
            out.append((module.name, build_id.hex() if build_id else None))
    return out


def open_session(dump: Path, options: AnalyzeOptions) -> KernelSession:
    """Open a dump and load the richest debuginfo tier the options allow."""
    start = time.perf_counter()
    ident, problems = identify_details(dump)
    prog = open_program(dump, ident, _cache(options, "flattened"))
    early = [*problems, *prog.cache.get(UNREADABLE_KEY, ())]
    options.timings.append(("open", time.perf_counter() - start))
    mode = options.debuginfo
    if mode not in DEBUGINFO_MODES:
        raise KtriageError(
            f"unknown --debuginfo {mode!r}", f"use one of {', '.join(DEBUGINFO_MODES)}"
        )
    notes: list[str] = list(prog.cache.get(NOTES_KEY, ()))
    if mode in ("auto", "dwarf"):
        from ktriage.symbols.debuginfo import (
            missing_debuginfo_error,
            resolve_modules,
            resolve_vmlinux,
        )

        t = time.perf_counter()
        choice = resolve_vmlinux(
            release=ident.release,
            build_id=ident.build_id,
            explicit=options.vmlinux,
            debug_dirs=options.debug_dirs,
            packages=options.packages,
            debuginfod=options.debuginfod,
            cache_dir=options.cache_dir,
            progress=options.progress,
        )
        options.timings.append(("find vmlinux", time.perf_counter() - t))
        if choice.path is not None and choice.has_debug_info:
            t = time.perf_counter()
            try:
                dwarf_notes, btf_first = _load_dwarf(prog, choice.path, choice.build_id, options)
            except (drgn.MissingDebugInfoError, ValueError, OSError) as e:
                raise DebuginfoError(
                    f"cannot load debuginfo from {choice.path}: {e}",
                    "check that the file is a vmlinux with DWARF for this kernel",
                ) from e
            files = resolve_modules(
                release=ident.release,
                modules=_module_build_ids(prog),
                debug_dirs=options.debug_dirs,
                packages=options.packages,
                debuginfod=options.debuginfod,
                cache_dir=options.cache_dir,
                progress=options.progress,
            )
            modules = _load_module_debug(prog, files)
            if btf_first:
                _remember_absent(prog, options)
            options.timings.append(("load dwarf", time.perf_counter() - t))
            return KernelSession(
                prog,
                ident,
                _with_notes(choice.facts(tier=Tier.DWARF, modules=modules), [*notes, *dwarf_notes]),
                list(early),
                index_file=_symbol_index_file(options, choice.build_id),
            )
        if mode == "dwarf":
            raise missing_debuginfo_error(choice, ident.release, build_id=ident.build_id)
        advice = choice.advice
        if choice.path is not None:
            notes.append(f"{choice.path} matches the dump but has no DWARF (stripped)")
        if advice is not None:
            notes.append(
                f"no matching vmlinux: {advice.package} would add source lines and inline "
                f"frames ({advice.command})"
            )
    if mode in ("auto", "btf", "symbols"):
        from ktriage.symbols.btf_tier import load_btf_tier, load_symbols_tier

        t = time.perf_counter()
        cache = _cache(options, "btf")
        try:
            info = (
                load_btf_tier(prog, cache_dir=cache)
                if mode != "symbols"
                else load_symbols_tier(prog, cache)
            )
        except KtriageError as e:
            if mode == "btf":
                raise
            notes.append(f"BTF tier unavailable: {e}")
            try:
                info = load_symbols_tier(prog, cache)
            except KtriageError as e2:
                notes.append(f"symbols tier unavailable: {e2}")
                info = None
        options.timings.append(("load btf", time.perf_counter() - t))
        if info is not None:
            options.timings.extend((f"  {name}", seconds) for name, seconds in info.timings)
            return KernelSession(
                prog,
                ident,
                DebuginfoFacts(
                    tier=info.tier,
                    source=info.source,
                    notes=(*notes, *info.notes),
                    modules=info.modules_with_btf,
                ),
                list(early),
            )
    notes.append("no symbols: identification, the log and its crash reports only")
    return KernelSession(
        prog,
        ident,
        DebuginfoFacts(tier=Tier.NONE, source="none", notes=tuple(notes)),
        list(early),
    )


_T = TypeVar("_T")


def _section(
    session: KernelSession,
    options: AnalyzeOptions,
    name: str,
    func: Callable[[], _T],
    default: _T,
) -> _T:
    """
    Run one section of the walk. A section that fails (a page missing from a
    partial dump, a structure the kernel lays out differently) is reported as
    not read, and the report goes on with the other sections.
    """
    t = time.perf_counter()
    try:
        return func()
    except KtriageError:
        raise
    except Exception as e:
        session.note_unreadable(f"{name}: {type(e).__name__}: {e}")
        return default
    finally:
        options.timings.append((name, time.perf_counter() - t))


def _read_records(session: KernelSession, dmesg: Path | None) -> tuple[LogRecord, ...]:
    from ktriage.source.printk import parse_log_text, read_log

    log = read_log(session.prog)
    for line in log.unreadable:
        session.note_unreadable(f"kernel log: {line}")
    if not log and dmesg is not None:
        session.note_unreadable(f"kernel log not in the dump; read from {dmesg}")
        return parse_log_text(dmesg.read_text(errors="replace"))
    return tuple(log)


def _panic_backtrace(
    session: KernelSession, panic: PanicFacts, main: OopsReport | None
) -> Backtrace | None:
    from ktriage.oops import page_fault_error_code
    from ktriage.source.stacks import task_backtrace

    if panic.task is None:
        return None
    task = drgn.Object(session.prog, "struct task_struct *", int(panic.task))
    backtrace = task_backtrace(session, task)
    if backtrace.exception is not None and main is not None:
        # CR2 and the page-fault error code are not in the saved registers; the
        # oops report printed them.
        error_code = page_fault_error_code(main.lines)
        backtrace = replace(
            backtrace,
            exception=replace(
                backtrace.exception,
                cr2=main.fault_address if error_code is not None else None,
                error_code=error_code,
            ),
        )
    return backtrace


def _blocked(session: KernelSession, tasks: tuple[TaskFacts, ...]) -> tuple[Backtrace, ...]:
    from ktriage.source.stacks import task_backtrace

    return tuple(
        task_backtrace(session, drgn.Object(session.prog, "struct task_struct *", int(t.task)))
        for t in tasks
        if t.state == "UN"
    )[:_MAX_BLOCKED]


def _disassembly(session: KernelSession, backtrace: Backtrace | None) -> tuple[str, ...]:
    """``dis -rl`` of the faulting code: RIP when it is code, else the recovered caller."""
    from ktriage.source.code import disassemble_up_to
    from ktriage.source.layout import classify_address

    if backtrace is None:
        return ()
    exc = backtrace.exception
    if exc is not None and classify_address(session, int(exc.rip))[0] in _CODE_KINDS:
        return disassemble_up_to(session, int(exc.rip))
    recovered = next((f for f in backtrace.frames if f.recovered), None)
    if recovered is not None:
        return disassemble_up_to(session, int(recovered.address))
    return ()


def collect_dump_facts(
    session: KernelSession, dmesg: Path | None, options: AnalyzeOptions
) -> CrashFacts:
    """Every fact of the crash walk, as far as the tier allows."""
    from ktriage.oops import parse_log
    from ktriage.source.health import check_stacks
    from ktriage.source.memory import collect_addresses
    from ktriage.source.panic import collect_panic, panic_lines
    from ktriage.source.stacks import active_tasks_backtraces
    from ktriage.source.system import collect_system
    from ktriage.source.tasks import collect_tasks

    def section(name: str, func: Callable[[], _T], default: _T) -> _T:
        return _section(session, options, name, func, default)

    records: tuple[LogRecord, ...] = section("log", lambda: _read_records(session, dmesg), ())
    if session.debuginfo.tier == Tier.NONE:
        return _text_facts(session.ident, session.debuginfo, records, session.unreadable)
    oopses: tuple[OopsReport, ...] = section(
        "oops", lambda: tuple(parse_log("\n".join(r.format() for r in records))), ()
    )
    main = oopses[0] if oopses else None
    system: SystemFacts | None = section("sys", lambda: collect_system(session), None)
    tasks: tuple[TaskFacts, ...] = section("ps", lambda: collect_tasks(session), ())
    panic = section(
        "panic",
        lambda: collect_panic(session, records, oopses),
        PanicFacts(message=panic_lines(records, oopses)[0]),
    )
    backtrace: Backtrace | None = section(
        "bt", lambda: _panic_backtrace(session, panic, main), None
    )
    cpus: tuple[CpuContext, ...] = section(
        "bt -a",
        lambda: active_tasks_backtraces(session, (backtrace,) if backtrace else ()),
        (),
    )
    blocked: tuple[Backtrace, ...] = section("foreach UN bt", lambda: _blocked(session, tasks), ())
    candidates: list[tuple[str, int]] = []
    if main is not None and main.fault_address is not None:
        candidates.append(("cr2", int(main.fault_address)))
    if backtrace is not None and backtrace.exception is not None:
        candidates.extend((name, int(v)) for name, v in backtrace.exception.registers.items())
    addresses: tuple[AddressFacts, ...] = section(
        "kmem", lambda: collect_addresses(session, candidates, tasks), ()
    )
    disassembly: tuple[str, ...] = section("dis -rl", lambda: _disassembly(session, backtrace), ())
    health: tuple[StackHealth, ...] = section("bt -v", lambda: check_stacks(session, tasks), ())
    for line in unreadable_module_symbols(session.prog):
        session.note_unreadable(line)
    return CrashFacts(
        ident=session.ident,
        debuginfo=session.debuginfo,
        system=system,
        panic=panic,
        backtrace=backtrace,
        cpus=cpus,
        blocked=blocked,
        tasks=tasks,
        addresses=addresses,
        disassembly=disassembly,
        stack_health=health,
        log=records,
        oopses=oopses,
        unreadable=tuple(session.unreadable),
    )


def analyze_path(path: Path, options: AnalyzeOptions | None = None) -> Analysis:
    """Analyze a crash directory, a dump file or a text log."""
    from ktriage.findings.engine import analyze_facts

    options = options or AnalyzeOptions()
    resolved = resolve_input(path)
    if resolved.kind == "text" or resolved.dump is None:
        assert resolved.dmesg is not None
        return analyze_text(resolved.dmesg)
    session = open_session(resolved.dump, options)
    facts = collect_dump_facts(session, resolved.dmesg, options)
    t = time.perf_counter()
    analysis = analyze_facts(facts)
    options.timings.append(("verdict", time.perf_counter() - t))
    return analysis
