"""
Finding and checking debuginfo
------------------------------

Which vmlinux and module debug files go with a dump, tried in this order and each
checked against the dump's build IDs (VMCOREINFO ``BUILD-ID`` for the kernel, the
modules' build-ID notes in memory):

1. ``explicit``: the vmlinux the user gave. A build-ID mismatch is an error.
2. ``local``: ``--debug-dir`` directories, then the standard places of Debian/Ubuntu,
   Fedora/RHEL/CentOS/Oracle Linux and SUSE, and ``.build-id/xx/<rest>.debug`` links
   (in those and in ktriage's cache). Files that do not match are skipped and listed
   in ``tried``.
3. ``package``: ``--debuginfo-package`` files (:mod:`ktriage.symbols.packages`).
4. ``debuginfod``: by build ID from ``DEBUGINFOD_URLS`` (:mod:`ktriage.symbols.debuginfod`).

When nothing matches, the choice carries :func:`~ktriage.symbols.advice.advise`'s
package and command; the analysis goes on with BTF or symbols, or
:func:`missing_debuginfo_error` stops it for ``--debuginfo dwarf``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ktriage.cache import cache_root
from ktriage.errors import BadInputError, DebuginfoError
from ktriage.facts.base import Record
from ktriage.facts.debuginfo import DebuginfoFacts, Tier
from ktriage.symbols.advice import Advice, advise
from ktriage.symbols.buildid import ElfIdentity, elf_identity, normalize_build_id
from ktriage.symbols.debuginfod import cached_build_id_path, debuginfod_urls

__all__ = (
    "DEFAULT_CACHE_DIR",
    "DebuginfoResolution",
    "VmlinuxChoice",
    "build_id_paths",
    "missing_debuginfo_error",
    "resolve_debuginfo",
    "resolve_modules",
    "resolve_vmlinux",
    "standard_module_dirs",
    "standard_vmlinux_paths",
)

DEFAULT_CACHE_DIR = cache_root() / "debuginfo"
"""Where fetched and extracted debug files are kept, in the ``.build-id`` layout."""

_MAX_TRIED = 40


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class VmlinuxChoice(Record):
    """The vmlinux chosen for a dump, or why there is none."""

    path: Path | None
    source: str
    """``explicit``, ``local``, ``debuginfod``, ``package`` or ``none``."""
    build_id: str | None
    """Build ID of the chosen file (``None`` when there is no file)."""
    build_id_match: bool | None
    """True when it equals the dump's; ``None`` when either side has none."""
    tried: tuple[str, ...] = ()
    """What was looked at and why it was not taken, for the not-found message."""
    advice: Advice | None = None
    """Which package to install, when no file with DWARF was found."""
    has_debug_info: bool = False
    """Whether the file has DWARF (``.debug_info``); a stripped vmlinux has symbols only."""
    searched: tuple[str, ...] = ()
    """Where a vmlinux with DWARF was looked for, in order (``--debug-dir``, ...)."""

    def facts(self, *, tier: str | None = None, modules: Iterable[str] = ()) -> DebuginfoFacts:
        """The report's ``debuginfo`` record; *tier* defaults to what the file gives."""
        if tier is None:
            if self.path is None:
                tier = Tier.NONE
            else:
                tier = Tier.DWARF if self.has_debug_info else Tier.SYMBOLS
        notes: tuple[str, ...] = ()
        if self.advice is not None:
            notes = (f"no matching vmlinux with DWARF: {self.advice.hint()}",)
        return DebuginfoFacts(
            tier=tier,
            source=self.source,
            vmlinux=str(self.path) if self.path is not None else None,
            build_id=self.build_id,
            build_id_match=self.build_id_match,
            modules=tuple(sorted(modules)),
            notes=notes,
        )


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class DebuginfoResolution(Record):
    """The vmlinux and module debug files found in one pass."""

    vmlinux: VmlinuxChoice
    modules: Mapping[str, Path] = field(default_factory=dict)
    """Module name (as given) -> matching debug file."""
    module_sources: Mapping[str, str] = field(default_factory=dict)
    """Module name -> ``local``, ``package`` or ``debuginfod``."""
    module_tried: tuple[str, ...] = ()
    """Module files looked at and not taken (mismatching build ID, no DWARF)."""


def standard_vmlinux_paths(release: str, root: Path = Path("/")) -> tuple[Path, ...]:
    """Where distributions put the vmlinux of *release*, under *root*.

    Debian/Ubuntu ``/usr/lib/debug/boot/vmlinux-R``; Fedora/RHEL/CentOS/Oracle
    ``/usr/lib/debug/lib/modules/R/vmlinux``; SUSE ``/usr/lib/debug/boot/vmlinux-R.debug``;
    usr-merged variants; and the (often stripped) ``/boot/vmlinux-R`` and
    ``/lib/modules/R/vmlinux``.
    """
    rel = [
        f"usr/lib/debug/boot/vmlinux-{release}",
        f"usr/lib/debug/boot/vmlinux-{release}.debug",
        f"usr/lib/debug/lib/modules/{release}/vmlinux",
        f"usr/lib/debug/lib/modules/{release}/vmlinux.debug",
        f"usr/lib/debug/usr/lib/modules/{release}/vmlinux",
        f"usr/lib/debug/usr/lib/modules/{release}/vmlinux.debug",
        f"boot/vmlinux-{release}",
        f"lib/modules/{release}/vmlinux",
        f"usr/lib/modules/{release}/vmlinux",
        f"lib/modules/{release}/build/vmlinux",
    ]
    return tuple(root / r for r in rel)


def standard_module_dirs(release: str, root: Path = Path("/")) -> tuple[Path, ...]:
    """Where distributions put the module debug files of *release*, under *root*."""
    return (
        root / f"usr/lib/debug/lib/modules/{release}",
        root / f"usr/lib/debug/usr/lib/modules/{release}",
        root / f"lib/modules/{release}",
        root / f"usr/lib/modules/{release}",
    )


def build_id_paths(debug_dir: Path, build_id: str) -> tuple[Path, ...]:
    """The ``.build-id`` links for *build_id* in a debug directory (both spellings)."""
    build_id = normalize_build_id(build_id)
    base = debug_dir / ".build-id" / build_id[:2]
    return (base / f"{build_id[2:]}.debug", base / build_id[2:])


def _dir_vmlinux_paths(directory: Path, release: str | None) -> list[Path]:
    paths = [directory / "vmlinux", directory / "vmlinux.debug"]
    if release:
        paths += [
            directory / f"vmlinux-{release}",
            directory / f"vmlinux-{release}.debug",
            directory / release / "vmlinux",
            *standard_vmlinux_paths(release, directory),
        ]
    return paths


class _Search:
    """Candidates checked against one build ID, collecting what was tried."""

    def __init__(self, what: str, build_id: str | None, release: str | None) -> None:
        self.what = what
        self.build_id = build_id
        self.release = release
        self.tried: list[str] = []
        self.seen: set[Path] = set()
        self.fallback: tuple[Path, ElfIdentity] | None = None
        """A matching file without DWARF, used only if nothing better turns up."""

    def check(self, path: Path, *, need_dwarf: bool = True) -> tuple[Path, ElfIdentity] | None:
        try:
            if not path.is_file():
                return None
            key = path.resolve()
        except OSError:
            return None
        if key in self.seen:
            return None
        self.seen.add(key)
        try:
            ident = elf_identity(path)
        except BadInputError as exc:
            self.note(f"{path}: {exc.message}")
            return None
        if self.build_id is not None and ident.build_id != self.build_id:
            self.note(
                f"{path}: build ID {ident.build_id or 'none'}, not the dump's {self.build_id}"
            )
            return None
        if need_dwarf and not ident.has_debug_info:
            if self.fallback is None:
                self.fallback = (path, ident)
            self.note(f"{path}: matches but has no DWARF (symbols only)")
            return None
        return path, ident

    def note(self, line: str) -> None:
        if len(self.tried) < _MAX_TRIED:
            self.tried.append(line)


def _choice(
    path: Path, ident: ElfIdentity, source: str, build_id: str | None, tried: Sequence[str]
) -> VmlinuxChoice:
    return VmlinuxChoice(
        path=path,
        source=source,
        build_id=ident.build_id,
        build_id_match=(ident.build_id == build_id)
        if build_id is not None and ident.build_id is not None
        else None,
        tried=tuple(tried),
        advice=None,
        has_debug_info=ident.has_debug_info,
    )


def _explicit(path: Path, release: str | None, build_id: str | None) -> VmlinuxChoice:
    if not path.exists():
        raise BadInputError(f"vmlinux {path} does not exist", "check the path given to --vmlinux")
    ident = elf_identity(path)
    if build_id is not None and ident.build_id != build_id:
        hint = advise(release, build_id=build_id).hint() if release else ""
        raise DebuginfoError(
            f"vmlinux {path} has build ID {ident.build_id or 'none'} but the dump "
            f"(release {release or 'unknown'}) has build ID {build_id}: it is another build",
            hint or "give the vmlinux of the kernel that crashed",
        )
    return _choice(path, ident, "explicit", build_id, ())


def _local_vmlinux(
    search: _Search, release: str | None, debug_dirs: Sequence[Path]
) -> tuple[Path, ElfIdentity] | None:
    for candidate in _local_vmlinux_candidates(search.build_id, release, debug_dirs):
        if (hit := search.check(candidate)) is not None:
            return hit
    for directory in debug_dirs:
        search.note(f"--debug-dir {directory}: no vmlinux{f' of {release}' if release else ''}")
    if release:
        places = standard_vmlinux_paths(release)
        shown = ", ".join(str(p) for p in places[:3])
        search.note(f"standard places ({shown} and {len(places) - 3} more): no match")
    if search.build_id:
        link = build_id_paths(Path("/usr/lib/debug"), search.build_id)[0]
        search.note(f"{link}: no match")
    return None


def _local_vmlinux_candidates(
    build_id: str | None, release: str | None, debug_dirs: Sequence[Path]
) -> Iterator[Path]:
    for directory in debug_dirs:
        if build_id:
            yield from build_id_paths(directory, build_id)
            yield from build_id_paths(directory / "usr/lib/debug", build_id)
        yield from _dir_vmlinux_paths(directory, release)
    if release:
        yield from standard_vmlinux_paths(release)
    if build_id:
        yield from build_id_paths(Path("/usr/lib/debug"), build_id)


def _modules_dep(top: Path) -> list[str] | None:
    """The module files ``top/modules.dep`` lists (relative paths), if it exists."""
    try:
        text = (top / "modules.dep").read_text(errors="replace")
    except OSError:
        return None
    return [line.partition(":")[0] for line in text.splitlines() if ":" in line]


def _module_files(
    directories: Iterable[Path], names: Iterable[str] | None = None
) -> dict[str, list[Path]]:
    """Module name -> ``.ko``/``.ko.debug`` files under *directories* (recursive);
    only the modules in *names* (``-`` as ``_``) when given."""
    from ktriage.symbols.packages import module_name_of

    # A module tree holds thousands of files; a file whose name does not start with
    # a wanted module's name is skipped before it is parsed.
    wanted = None if names is None else {name.replace("-", "_") for name in names}
    found: dict[str, list[Path]] = {}

    def stem(filename: str) -> str:
        return filename.partition(".")[0].replace("-", "_")

    seen: set[Path] = set()
    for top in directories:
        if not top.is_dir() or top.resolve() in seen:
            continue  # /lib is often /usr/lib: one tree, listed twice
        seen.add(top.resolve())
        listed = _modules_dep(top)
        if listed is not None:
            # A module tree that depmod indexed: its modules.dep names every module
            # file, which spares walking thousands of files.
            for relative in listed:
                if wanted is not None and stem(relative.rpartition("/")[2]) not in wanted:
                    continue
                if (name := module_name_of(relative)) is not None:
                    found.setdefault(name, []).append(top / relative)
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != ".build-id"]
            for filename in filenames:
                if wanted is not None and stem(filename) not in wanted:
                    continue
                if (name := module_name_of(filename)) is not None:
                    found.setdefault(name, []).append(Path(dirpath, filename))
    return found


def _build_id(value: str | None, what: str) -> str | None:
    if not value:
        return None
    try:
        return normalize_build_id(value)
    except ValueError as exc:
        raise BadInputError(
            f"the dump's build ID of {what} is not hex: {value!r}", "the dump may be corrupt"
        ) from exc


def resolve_debuginfo(
    *,
    release: str | None,
    build_id: str | None,
    modules: Sequence[tuple[str, str | None]] = (),
    explicit: Path | None = None,
    want_vmlinux: bool = True,
    debug_dirs: Sequence[Path] = (),
    packages: Sequence[Path] = (),
    debuginfod: bool = True,
    urls: Sequence[str] | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    progress: bool = False,
) -> DebuginfoResolution:
    """Find the vmlinux and the modules' debug files, reading each package only once.

    See :func:`resolve_vmlinux` and :func:`resolve_modules`; *urls* overrides
    ``DEBUGINFOD_URLS``.
    """
    build_id = _build_id(build_id, "the kernel")
    wanted = {name: _build_id(bid, f"module {name}") for name, bid in modules}
    if explicit is not None and want_vmlinux:
        chosen: VmlinuxChoice | None = _explicit(explicit, release, build_id)
    else:
        chosen = None
    search = _Search("vmlinux", build_id, release)
    hit = None
    if chosen is None and want_vmlinux:
        hit = _local_vmlinux(search, release, debug_dirs)
        if hit is not None:
            chosen = _choice(*hit, "local", build_id, search.tried)

    found, sources, module_tried = _local_modules(wanted, release, debug_dirs)

    need_vmlinux = want_vmlinux and chosen is None
    missing = {n: b for n, b in wanted.items() if n not in found}
    if packages and (need_vmlinux or missing):
        from ktriage.symbols.packages import extract_debuginfo

        extraction = extract_debuginfo(
            packages,
            release=release,
            cache_dir=cache_dir,
            vmlinux=need_vmlinux,
            vmlinux_build_id=build_id,
            modules=missing,
            progress=progress,
        )
        for line in extraction.tried:
            search.note(line)
        if need_vmlinux and extraction.vmlinux is not None:
            hit = search.check(extraction.vmlinux)
            if hit is not None:
                chosen = _choice(*hit, "package", build_id, search.tried)
        for name, path in extraction.modules.items():
            key = next((n for n in missing if n.replace("-", "_") == name), name)
            found[key], sources[key] = path, "package"

    server_urls = debuginfod_urls(urls) if debuginfod else ()
    # Imported when needed: the HTTP client costs start-up time.
    from ktriage.symbols.debuginfod import fetch_debuginfo

    need_vmlinux = want_vmlinux and chosen is None
    server_failed = False
    if debuginfod and need_vmlinux:
        if not server_urls:
            search.note("debuginfod: DEBUGINFOD_URLS is not set")
        elif build_id is None:
            search.note("debuginfod: the dump has no build ID to ask for")
        else:
            try:
                fetched = fetch_debuginfo(
                    build_id,
                    urls=server_urls,
                    cache_dir=cache_dir,
                    what="vmlinux",
                    progress=progress,
                )
            except DebuginfoError as exc:
                search.note(exc.message)
                server_failed = True
            else:
                if fetched is None:
                    search.note(f"debuginfod ({' '.join(server_urls)}): no file for {build_id}")
                elif (hit := search.check(fetched)) is not None:
                    chosen = _choice(*hit, "debuginfod", build_id, search.tried)
    for name, bid in wanted.items():
        if server_failed or not server_urls:
            break
        if name in found or bid is None:
            continue
        try:
            fetched = fetch_debuginfo(
                bid, urls=server_urls, cache_dir=cache_dir, what=f"{name}.ko", progress=progress
            )
        except DebuginfoError as exc:
            module_tried.append(exc.message)
            server_failed = True  # do not wait on a failing server once per module
            continue
        if fetched is not None:
            found[name], sources[name] = fetched, "debuginfod"

    # files that an earlier run fetched or extracted into the cache
    if want_vmlinux and chosen is None and build_id is not None:
        for candidate in build_id_paths(cache_dir, build_id):
            if (hit := search.check(candidate)) is not None:
                chosen = _choice(*hit, "local", build_id, search.tried)
                break
    for name, bid in wanted.items():
        if name not in found and bid is not None:
            cached = cached_build_id_path(cache_dir, bid)
            if cached is not None:
                found[name], sources[name] = cached, "local"

    if not want_vmlinux:
        chosen = VmlinuxChoice(
            path=None, source="none", build_id=None, build_id_match=None, tried=()
        )
    elif chosen is None:
        searched = [
            *(["--debug-dir"] if debug_dirs else []),
            *(["the standard places"] if release else []),
            *([".build-id", "the cache"] if build_id else []),
            *(["the packages given"] if packages else []),
            *(["debuginfod"] if server_urls and build_id else []),
        ]
        fallback = search.fallback
        advice = advise(release, build_id=build_id) if release else None
        if fallback is not None:
            chosen = replace(
                _choice(*fallback, "local", build_id, search.tried),
                advice=advice,
                searched=tuple(searched),
            )
        else:
            chosen = VmlinuxChoice(
                path=None,
                source="none",
                build_id=None,
                build_id_match=None,
                tried=tuple(search.tried),
                advice=advice,
                searched=tuple(searched),
            )
    return DebuginfoResolution(
        vmlinux=chosen, modules=found, module_sources=sources, module_tried=tuple(module_tried)
    )


def _local_modules(
    wanted: Mapping[str, str | None],
    release: str | None,
    debug_dirs: Sequence[Path],
) -> tuple[dict[str, Path], dict[str, str], list[str]]:
    found: dict[str, Path] = {}
    sources: dict[str, str] = {}
    tried: list[str] = []
    if not wanted:
        return found, sources, tried
    roots = [*debug_dirs, Path("/usr/lib/debug")]
    for name, bid in wanted.items():
        if bid is None:
            continue
        search = _Search(name, bid, release)
        for root in roots:
            for candidate in build_id_paths(root, bid):
                if (hit := search.check(candidate)) is not None:
                    found[name], sources[name] = hit[0], "local"
                    break
            if name in found:
                break
    missing = [n for n in wanted if n not in found]
    if not missing:
        return found, sources, tried
    directories: list[Path] = list(debug_dirs)
    if release:
        directories += standard_module_dirs(release)
    by_name = _module_files(directories, missing)
    for name in missing:
        search = _Search(name, wanted[name], release)
        for candidate in by_name.get(name.replace("-", "_"), []):
            if (
                release
                and wanted[name] is None
                and f"/{release}/" not in f"{candidate}"
                and not any(candidate.is_relative_to(d) for d in debug_dirs)
            ):
                continue
            if (hit := search.check(candidate)) is not None:
                found[name], sources[name] = hit[0], "local"
                break
        tried += search.tried
    return found, sources, tried


def resolve_vmlinux(
    *,
    release: str | None,
    build_id: str | None,
    explicit: Path | None = None,
    debug_dirs: Sequence[Path] = (),
    packages: Sequence[Path] = (),
    debuginfod: bool = True,
    urls: Sequence[str] | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    progress: bool = False,
) -> VmlinuxChoice:
    """Choose the vmlinux for a dump of kernel *release* with VMCOREINFO *build_id*.

    Order: *explicit*, local (*debug_dirs*, the standard places, ``.build-id``),
    *packages*, debuginfod (only when ``DEBUGINFOD_URLS`` is set or *urls* given).
    An explicit file of another build ID raises
    :class:`~ktriage.errors.DebuginfoError` naming both build IDs and the release;
    other mismatching files are skipped and listed in ``tried``. With nothing found,
    ``source`` is ``none`` and ``advice`` names the package to install.
    """
    return resolve_debuginfo(
        release=release,
        build_id=build_id,
        explicit=explicit,
        debug_dirs=debug_dirs,
        packages=packages,
        debuginfod=debuginfod,
        urls=urls,
        cache_dir=cache_dir,
        progress=progress,
    ).vmlinux


def resolve_modules(
    *,
    release: str | None,
    modules: Sequence[tuple[str, str | None]],
    debug_dirs: Sequence[Path] = (),
    packages: Sequence[Path] = (),
    debuginfod: bool = True,
    urls: Sequence[str] | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    progress: bool = False,
) -> dict[str, Path]:
    """Find the debug files (with DWARF) of the dump's modules.

    *modules* are ``(name, build ID read from the dump or None)``. A file is taken
    only when its build ID equals the module's (or, with no build ID, when it is
    named for the module under the release's directories). Returns name -> file for
    the modules found; the others are left to symbols from the dump.
    """
    resolution = resolve_debuginfo(
        release=release,
        build_id=None,
        modules=modules,
        want_vmlinux=False,
        debug_dirs=debug_dirs,
        packages=packages,
        debuginfod=debuginfod,
        urls=urls,
        cache_dir=cache_dir,
        progress=progress,
    )
    return dict(resolution.modules)


def missing_debuginfo_error(
    choice: VmlinuxChoice, release: str | None, *, build_id: str | None = None
) -> DebuginfoError:
    """The error for ``--debuginfo dwarf`` when *choice* has no DWARF, with the advice.

    The message names the kernel and what was searched (``--debug-dir``, the standard
    places, ``.build-id``, packages, debuginfod) in one line; ``choice.tried`` has
    the details.
    """
    advice = choice.advice or (advise(release, build_id=build_id) if release else None)
    kernel = f"kernel {release or '(release unknown)'}"
    if build_id:
        kernel += f" with build ID {build_id}"
    if choice.path is not None:
        message = f"vmlinux {choice.path} matches {kernel} but has no DWARF (stripped)"
    else:
        where = f" in {', '.join(choice.searched)}" if choice.searched else ""
        message = f"no vmlinux with DWARF for {kernel}{where}"
    return DebuginfoError(
        message,
        advice.hint() if advice is not None else "give the vmlinux with --vmlinux FILE",
    )
