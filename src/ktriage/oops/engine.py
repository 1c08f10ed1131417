"""
Oops matching engine
--------------------

Finds crash reports in kernel log text and turns each into an
:class:`~ktriage.facts.OopsReport`, driven by the tables in
``ktriage.oops.formats`` and ``ktriage.oops.skip``. Nothing here knows about a
particular kind of report.

The steps, for each report:

1. every line loses its log prefix (syslog/journal ``host kernel:``, the
   ``[  12.345678]`` timestamp, the ``[  T123]``/``[  C1]`` caller); the caller
   (or ``console`` for a bare timestamp) is the line's *context*;
2. a line holding a header starts a report; the report is the following lines
   of the same context (other CPUs and tasks are left out), ending where the
   next report starts;
3. the earliest matching format of the header's family gives the title, with
   the guilty frame chosen from the stack by the format's stack rule, skipping
   the never-blame list;
4. registers, the call trace and the ``CPU: ... Comm:`` line are parsed as
   found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from ktriage.facts.base import Hex, Record
from ktriage.facts.classes import CrashClass
from ktriage.facts.oops import OopsReport
from ktriage.facts.stack import Frame
from ktriage.oops import formats as F
from ktriage.oops import skip as S
from ktriage.oops.demangle import demangle

__all__ = (
    "Line",
    "NameMatcher",
    "compile_pattern",
    "parse_lines",
    "parse_log",
    "sanitize_title",
    "split_prefix",
)

# ---------------------------------------------------------------------------
# Regex macros

_PC = r"\[\<?(?:0x)?[0-9a-f]+\>?\]"
_FUNC_BODY = r"[a-zA-Z0-9_]+"
_RIP = (
    r"(?:N?IP:? (?:(?:[0-9]+:)?(?:{{PC}} +){0,2}{{FUNC}}|[0-9]+:0x[0-9a-f]+"
    r"|(?:[0-9]+:)?{{PC}} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))"
    r"|^e?pc : (?:{{PC}} +)?{{FUNC}}|PC is at {{FUNC}})"
)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a table regex, expanding the ``{{...}}`` macros (multi-line mode)."""
    pattern = pattern.replace("{{RIP}}", _RIP)
    pattern = pattern.replace("{{ADDR}}", "0x[0-9a-f]+")
    pattern = pattern.replace("{{PC}}", _PC)
    pattern = re.sub(
        r"\{\{FUNC:(\w+)\}\}", lambda m: rf"(?P<{m.group(1)}>{_FUNC_BODY})(?:\.|\+)", pattern
    )
    pattern = pattern.replace("{{FUNC}}", rf"({_FUNC_BODY})(?:\.|\+)")
    pattern = re.sub(
        r"\{\{SRC:(\w+)\}\}",
        lambda m: rf"(?P<{m.group(1)}>[a-zA-Z0-9-_/.]+\.[a-z]+:[0-9]+)",
        pattern,
    )
    pattern = pattern.replace("{{SRC}}", r"([a-zA-Z0-9-_/.]+\.[a-z]+:[0-9]+)")
    return re.compile(pattern, re.MULTILINE)


def _any(patterns: Iterable[str]) -> re.Pattern[str] | None:
    patterns = list(patterns)
    if not patterns:
        return None
    return compile_pattern("|".join(f"(?:{p})" for p in patterns))


_REGEX_META = frozenset(".^$*+?{}[]\\|()")
"""What the tables' regexes (no VERBOSE flag) match as anything but itself."""


def _branches(pattern: str) -> list[str] | None:
    # The pattern split at its top-level "|"; None when brackets do not balance.
    branches, depth, start, i = [], 0, 0, 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    if depth or in_class:
        return None
    branches.append(pattern[start:])
    return branches


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """
    Texts one of which any match of *pattern* contains (the leading plain text of
    each top-level alternative, anchors aside), or ``None`` when some alternative
    starts with no plain text. A text holding none of them cannot match, so the
    pattern need not even be compiled for it.
    """
    if "(?" in pattern and not all(
        pattern[i + 2 : i + 3] in (":", "P")
        for i in range(len(pattern))
        if pattern.startswith("(?", i)
    ):
        return None  # inline flags (case-insensitive...) or lookarounds
    branches = _branches(pattern)
    if branches is None:
        return None
    literals = []
    for branch in branches:
        text = branch.lstrip("^")
        n = 0
        while n < len(text) and text[n] not in _REGEX_META:
            n += 1
        if n < len(text) and text[n] in "?*+{":
            n -= 1  # the last character is optional or repeated
        if n <= 0:
            return None
        literals.append(text[:n])
    return tuple(literals)


class _Prefiltered:
    """A table regex compiled on the first text that holds one of its literals."""

    def __init__(self, pattern: str, compile: Callable[[str], re.Pattern[str]]) -> None:
        self.pattern = pattern
        self.literals = required_literals(pattern)
        self._compile = compile

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return self._compile(self.pattern)

    def search(self, text: str) -> re.Match[str] | None:
        if self.literals is not None and not any(lit in text for lit in self.literals):
            return None
        return self.regex.search(text)


class NameMatcher:
    """
    Whether a function name matches any of a list of table regexes, searched (not
    anchored) as their alternation would be, with the plain ones answered by string
    operations: literal text (a substring), ``^name$`` (equality) and ``^name`` (a
    prefix). Most of the never-blame list is plain; compiling it as one alternation
    took 7 ms, paid at every start by the findings and again by each stack rule.
    Only the real regexes are compiled, on the first name they are asked about.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        substrings: list[str] = []
        exact: set[str] = set()
        prefixes: list[str] = []
        regexes: list[str] = []
        for pattern in dict.fromkeys(patterns):
            if pattern and not _REGEX_META.intersection(pattern):
                substrings.append(pattern)
                continue
            body = pattern[1:].removesuffix("$") if pattern.startswith("^") else ""
            if body and not _REGEX_META.intersection(body):
                (exact.add if pattern.endswith("$") else prefixes.append)(body)
            else:
                regexes.append(pattern)
        self._substrings = tuple(substrings)
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)
        self._regexes = tuple(regexes)

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        return _any(self._regexes)

    def search(self, name: str) -> bool:
        """Whether any of the patterns matches somewhere in *name*."""
        if name in self._exact or name.startswith(self._prefixes):
            return True
        if any(s in name for s in self._substrings):
            return True
        regex = self._regex
        return regex is not None and regex.search(name) is not None


# ---------------------------------------------------------------------------
# Compiled tables


# The tables hold a few hundred regexes; most logs need a handful of them. Each
# format compiles its patterns the first time a report of its kind is seen, so
# importing the parser (and every ktriage command) stays cheap.


class _Stack:
    def __init__(self, rule: F.StackRule) -> None:
        self._rule = rule
        self.extractor = rule.extractor

    @cached_property
    def parts(self) -> tuple[re.Pattern[str] | None, ...]:
        return _compile_parts(self._rule.parts)

    @cached_property
    def parts2(self) -> tuple[re.Pattern[str] | None, ...]:
        return _compile_parts(self._rule.parts2)

    @cached_property
    def skip(self) -> NameMatcher:
        return NameMatcher((*S.NEVER_BLAME, *self._rule.skip))


class _Format:
    def __init__(self, spec: F.OopsFormat) -> None:
        self.spec = spec
        self.stack = _Stack(spec.stack) if spec.stack is not None else None

    @cached_property
    def title(self) -> _Prefiltered:
        return _Prefiltered(self.spec.title, compile_pattern)

    @cached_property
    def report(self) -> re.Pattern[str] | None:
        return compile_pattern(self.spec.report) if self.spec.report else None


class _Oops:
    def __init__(self, spec: F.Oops) -> None:
        self.spec = spec
        self.formats = tuple(_Format(f) for f in spec.formats)

    @cached_property
    def suppressions(self) -> re.Pattern[str] | None:
        return _any(self.spec.suppressions)

    @cached_property
    def start(self) -> re.Pattern[str] | None:
        return compile_pattern(self.spec.start) if self.spec.start else None


def _compile_parts(parts: Sequence[str]) -> tuple[re.Pattern[str] | None, ...]:
    return tuple(None if p == F.STACK else compile_pattern(p) for p in parts)


_OOPSES = tuple(_Oops(o) for o in F.OOPSES)
_START_IGNORES = _any(F.REPORT_START_IGNORES)
_STACK_START = _any(F.STACK_START)
_STACK_START_LIST = tuple(compile_pattern(p) for p in F.STACK_START)
_FRAME_RES = tuple(compile_pattern(p) for p in F.FRAME_PATTERNS)
_CORRUPTED_TITLES = _any(F.CORRUPTED_TITLES)
_REPLACEMENTS = tuple((re.compile(p), r) for p, r in F.TITLE_REPLACEMENTS)
_CLASS_RULES = tuple(
    (
        r.crash_class,
        _Prefiltered(r.title, re.compile) if r.title else None,
        _Prefiltered(r.report, lambda p: re.compile(p, re.MULTILINE)) if r.report else None,
    )
    for r in F.CLASS_RULES
)


@lru_cache(maxsize=1)
def _stall_anchors() -> re.Pattern[str] | None:
    # Only stall reports need it: compiled then (2 ms).
    return _any(S.STALL_ANCHORS)


# A line matching this is a fault-injection stack intermixed with the report.
_CORRUPTED_LINE = compile_pattern(
    r"^( \[\<?(?:0x)?[0-9a-f]+\>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x"
)

# ---------------------------------------------------------------------------
# Log prefixes

_SYSLOG = re.compile(
    r"^(?:<\d+>)?(?:[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d"
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r" \S+ kernel: "
)
_CONSOLE = re.compile(
    r"^(?:\*\* [0-9]+ printk messages dropped \*\* )?(?:.* login: )?(?:<[0-9]+>)?"
    r"(?:kernel: )?"
    r"(?:\[ *[0-9]+\.[0-9]+\]|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\])"
    r"(?: ?(\[ *(?:C|T)[0-9]+\]))? ?"
)
_LOGIN = re.compile(r"^\S+ login: ")
_QUESTIONABLE = re.compile(r"^\s*(?:\[\<[0-9a-f]+\>\])? \? ")
_CPU_CONTEXT = re.compile(r"\[ *C[0-9]+\]")


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class Line(Record):
    """One log line with its prefix taken off."""

    text: str
    context: str
    """``[ T123]``/``[ C1]`` caller, ``console`` for a bare timestamp, ``""`` for none."""
    questionable: bool
    """An unreliable ``?`` stack frame (the ``?`` removed from ``text``)."""


def split_prefix(raw: str) -> Line:
    """Take the log prefix off one line."""
    line = raw.rstrip("\r")
    if line.startswith("kernel: "):
        line = line[8:]
    elif " kernel: " in line:
        m = _SYSLOG.match(line)
        if m:
            line = line[m.end() :]
    m = _CONSOLE.match(line) if "[" in line[:80] else None
    if m is None:
        context = ""
        if " login: " in line:
            # Console output glued to a login prompt: "host login: BUG: ...".
            line = _LOGIN.sub("", line, count=1)
    else:
        context = m.group(1).replace(" ", "") if m.group(1) else "console"
        line = line[m.end() :]
    questionable = False
    if "<EOI>" not in line:
        q = _QUESTIONABLE.match(line)
        if q:
            line = " " + line[q.end() :]
            questionable = True
        elif line.endswith(" (unreliable)"):
            line = line[:-13]
            questionable = True
    return Line(text=line, context=context, questionable=questionable)


# ---------------------------------------------------------------------------
# Finding reports


# One search tells whether a line can hold any header at all (most do not).
_ANY_HEADER = re.compile("|".join(re.escape(o.spec.header) for o in _OOPSES))
_ANY_INFO = re.compile("|".join(re.escape(p) for p in F.INFO_WITH_STACK))


def _header(text: str) -> _Oops | None:
    if _ANY_HEADER.search(text) is None:
        return None
    for oops in _OOPSES:
        spec = oops.spec
        pos = text.find(spec.header)
        if pos < 0:
            continue
        if pos > 0 and (text[pos - 1].isalnum() or text[pos - 1] == "_"):
            # Not a header, the end of a longer word ("BTF_INFO:", "DEBUG:").
            pos = _word_start(text, spec.header, pos)
            if pos < 0:
                continue
        if spec.line_start and text[:pos].strip():
            continue
        if oops.start is not None and not oops.start.match(text, pos):
            continue
        if oops.suppressions is not None and oops.suppressions.search(text):
            continue
        return oops
    return None


def _word_start(text: str, header: str, pos: int) -> int:
    while pos >= 0:
        if pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] == "_"):
            return pos
        pos = text.find(header, pos + 1)
    return -1


@dataclass(kw_only=True)
class _Gathered:
    analysis: list[str]
    shown: list[int]
    end_line: int
    next_start: int | None


# The end of a crash (the kernel panicked and stopped, or reboots), and the
# start of a new boot: past these, even a panic line is another crash.
_DEAD = re.compile(r"---\[ end Kernel panic|Kernel panic - not syncing|Rebooting in \d+ seconds")
_NEW_BOOT = re.compile(r"^Linux version \d")

# With caller IDs, a report's lines may be spread among other tasks' output
# after the next report started; look that far at most.
_MAX_REPORT_SCAN = 20_000


def _gather(lines: Sequence[Line], start: int) -> _Gathered:
    context = lines[start].context
    analysis: list[str] = []
    shown: list[int] = []
    second: int | None = None
    report_end = 0
    text_lines = 0
    skip_text = False
    cpu_traceback = False
    per_context = context not in ("", "console")
    last = start
    dead = False
    for i in range(start, len(lines)):
        line = lines[i]
        text = line.text
        is_start = i == start
        if not is_start and second is None:
            if _header(text) is not None:
                if dead or _START_IGNORES is None or not _START_IGNORES.search(text):
                    second = i
            elif _ANY_INFO.search(text) or _NEW_BOOT.search(text):
                second = i
            elif _DEAD.search(text):
                # The kernel is gone: what follows, panic lines included,
                # belongs to another crash.
                dead = True
        elif second is not None:
            if not per_context or i - start > _MAX_REPORT_SCAN:
                # Lines past the next report are not this report's.
                break
            if (
                line.context == context
                and _header(text) is not None
                and (_START_IGNORES is None or not _START_IGNORES.search(text))
            ):
                # This task (or CPU) started another report: ours ended.
                break
        if not is_start and (
            line.context != context and not (cpu_traceback and _CPU_CONTEXT.fullmatch(line.context))
        ):
            continue
        if line.questionable and not is_start:
            if second is None or per_context:
                shown.append(i)
            continue
        text_lines += 1
        skip_line = skip_text
        if "Disabling lock debugging due to kernel taint" in text:
            skip_line = True
        elif "Sending NMI from CPU" in text:
            # All CPUs' backtraces follow: keep them whatever their context.
            cpu_traceback = True
        elif text_lines > 22 and (
            "Kernel panic - not syncing" in text
            or "WARNING: possible circular locking dependency detected" in text
        ):
            # The panic after panic_on_warn repeats the stack, and an oops often
            # triggers a lockdep report: with enough of the report, stop here.
            skip_text = True
            skip_line = True
        if not is_start and skip_line:
            continue
        analysis.append(text)
        if second is None or per_context:
            report_end = len(analysis)
            shown.append(i)
            last = i
    del analysis[report_end:]
    end_line = second if second is not None else last + 1
    return _Gathered(analysis=analysis, shown=shown, end_line=end_line, next_start=second)


# ---------------------------------------------------------------------------
# Frames


# arm register lines printed between the frames of a backtrace.
_ARM_REGS = re.compile(r"^\s*(?:r[0-9]+|sl|fp|ip|sp|lr|pc)\s*:")


def _strip_frame(name: str, prefixes: Sequence[str] = S.FRAME_PREFIXES) -> str:
    # One prefix at most: "__x64_sys_read" becomes "sys_read".
    for prefix in prefixes:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


_STALL_STRIP = (*S.FRAME_PREFIXES, *S.STALL_PREFIXES)


_SKIP_CACHE: dict[tuple[int, str], bool] = {}


def _skipped(skip: NameMatcher, name: str) -> bool:
    key = (id(skip), name)
    hit = _SKIP_CACHE.get(key)
    if hit is None:
        if len(_SKIP_CACHE) > 100_000:
            _SKIP_CACHE.clear()
        hit = _SKIP_CACHE[key] = skip.search(name)
    return hit


def _frames_from(match: re.Match[str] | None, skip: NameMatcher) -> str | None:
    if match is None:
        return None
    for group in match.groups():
        if group is not None:
            name = demangle(group)
            if not _skipped(skip, name):
                return name
    return None


def _extract_first(frames: list[str]) -> str:
    return _strip_frame(frames[0]) if frames else ""


def _extract_stall(frames: list[str]) -> str:
    if not frames:
        return ""
    prev = frames[0]
    for frame in frames:
        anchors = _stall_anchors()
        if anchors is not None and anchors.search(frame):
            if "smp_call_function" in frame:
                prev = "smp_call_function"
            return _strip_frame(prev, _STALL_STRIP)
        prev = frame
    return ""


def _extract_hung(frames: list[str]) -> str:
    for frame in frames:
        for anchor, bucket in S.HUNG_TASK_ANCHORS.items():
            if anchor in frame:
                return bucket
    for frame in frames:
        if not any(s in frame for s in S.HUNG_TASK_SKIP):
            return _strip_frame(frame)
    return ""


_EXTRACTORS: dict[str, Callable[[list[str]], str]] = {
    "first": _extract_first,
    "stall": _extract_stall,
    "hung": _extract_hung,
}


def _extract_impl(
    lines: Sequence[str],
    parts: Sequence[re.Pattern[str] | None],
    skip: NameMatcher,
    extractor: Callable[[list[str]], str],
) -> tuple[list[str], bool]:
    frames: list[str] = []
    results: list[str] = []
    ok = True
    traces = 0
    pos = 0
    n = len(lines)
    idx = 0
    while True:
        if idx == len(parts) or (parts[idx] is None and traces > 0):
            key = extractor(frames)
            if not key:
                key, ok = "corrupted", False
            results.append(key)
            frames = []
        if idx == len(parts):
            break
        part = parts[idx]
        if part is None:
            traces += 1
            pending: str | None = None
            gap = False
            while pos < n:
                ln = lines[pos]
                pos += 1
                if "should_fail" in ln and _CORRUPTED_LINE.search(ln):
                    ok = False
                    break
                if _STACK_START is not None and _STACK_START.search(ln):
                    break
                if idx != len(parts) - 1:
                    nxt = parts[idx + 1]
                    m = nxt.search(ln) if nxt is not None else None
                    if m is not None:
                        if pending is not None:
                            frames.append(pending)
                            pending = None
                        f = _frames_from(m, skip)
                        if f:
                            frames.append(f)
                        idx += 1
                        break
                for fre in _FRAME_RES:
                    m = fre.search(ln)
                    if m is not None:
                        name = demangle(m.group(1))
                        if pending is not None and gap and name != pending:
                            # Other output came between, and the previous
                            # line's caller is not this line's function: a new
                            # trace started, keep the caller.
                            frames.append(pending)
                        pending = None
                        gap = False
                        if name and not _skipped(skip, name):
                            frames.append(name)
                        caller = m.groupdict().get("caller")
                        if caller:
                            caller = demangle(caller)
                        if caller and not _skipped(skip, caller):
                            pending = caller
                        break
                else:
                    if pending is not None and not _ARM_REGS.match(ln):
                        gap = True
            if pending is not None:
                frames.append(pending)
        else:
            while pos < n:
                ln = lines[pos]
                pos += 1
                if "should_fail" in ln and _CORRUPTED_LINE.search(ln):
                    ok = False
                    break
                m = part.search(ln)
                if m is None:
                    continue
                f = _frames_from(m, skip)
                if f:
                    frames.append(f)
                break
        idx += 1
    return results, ok


def _extract_stack(stack: _Stack, lines: Sequence[str]) -> tuple[list[str], bool]:
    extractor = _EXTRACTORS[stack.extractor]
    frames, ok = _extract_impl(lines, stack.parts, stack.skip, extractor)
    if ok or not stack.parts2:
        return frames, ok
    return _extract_impl(lines, stack.parts2, stack.skip, extractor)


# ---------------------------------------------------------------------------
# Description


class _Args(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(kw_only=True)
class _Description:
    title: str
    alt: tuple[str, ...]
    corrupted: str | None
    fmt: _Format | None
    frames: list[str]
    func: str | None


def _describe(text: str, oops: _Oops) -> _Description | None:
    start_pos = len(text) + 1
    desc: _Description | None = None
    matched_title = False
    for f in oops.formats:
        m = f.title.search(text)
        if m is None or m.start() > start_pos:
            continue
        if m.start() == start_pos and desc is not None:
            continue
        if m.start() < start_pos:
            desc = None
            start_pos = m.start()
        matched_title = True
        if f.report is not None:
            m = f.report.search(text)
            if m is None:
                continue
        args = _Args({k: v for k, v in m.groupdict().items() if v is not None})
        corrupted: str | None = None
        frames: list[str] = []
        if f.stack is not None:
            lines = text[m.start() :].split("\n")
            frames, ok = _extract_stack(f.stack, lines)
            if not ok:
                corrupted = "extracted no frames"
            for i, frame in enumerate(frames):
                args["frame" if i == 0 else f"frame{i + 1}"] = frame
        desc = _Description(
            title=f.spec.fmt.format_map(args),
            alt=tuple(a.format_map(args) for a in f.spec.alt),
            corrupted=corrupted,
            fmt=f,
            frames=frames,
            func=args.get("func"),
        )
    if desc is None:
        pos = text.find(oops.spec.header)
        if pos < 0:
            return None
        end = text.find("\n", pos)
        desc = _Description(
            title=text[pos : end if end >= 0 else len(text)],
            alt=(),
            corrupted="matched title but not report regexp" if matched_title else None,
            fmt=None,
            frames=[],
            func=None,
        )
    elif desc.corrupted is None and desc.fmt is not None and desc.fmt.spec.corrupted:
        desc.corrupted = "report format is marked as corrupted"
    return desc


def _is_corrupted(title: str, text: str, fmt: _Format | None) -> str | None:
    if _CORRUPTED_TITLES is not None and _CORRUPTED_TITLES.search(title):
        return "title matches corrupted regexp"
    if fmt is None:
        return None
    if fmt.spec.no_stack_trace:
        return None
    if not any(k in text for k in ("Call Trace", "Call trace", "backtrace", "Backtrace")):
        return "no stack trace in report"
    for key in _STACK_START_LIST:
        m = key.search(text)
        if m is None:
            continue
        after = text[m.start() :].split("\n")
        if len(after) < 4:
            return "call trace is missed"
        found = False
        for ln in after[1:16]:
            if any(k.search(ln) for k in _STACK_START_LIST):
                break
            if "(stack is not available)" in ln or any(r.search(ln) for r in _FRAME_RES):
                found = True
                break
        if not found:
            return "no frames in a stack trace"
    return None


@lru_cache(maxsize=4096)
def sanitize_title(title: str) -> str:
    """Make a title stable: addresses, numbers, line numbers and offsets replaced."""
    for regex, repl in _REPLACEMENTS:
        while True:
            new = regex.sub(repl, title)
            if new == title:
                break
            title = new
    out: list[str] = []
    prev = " "
    for ch in title[:120]:
        if ch == "\t":
            ch = " "
        elif ch < " " or ch >= "\x7f":
            continue
        if ch == " " and prev == " ":
            continue
        out.append(ch)
        prev = ch
    return "".join(out).strip()


# ---------------------------------------------------------------------------
# Details: registers, stack, task


_REG = re.compile(
    r"\b([A-Z][A-Z0-9]{1,5}|x[0-9]{1,2}|pc|lr|sp|pstate)"
    r"\s*:\s*(?:[0-9a-f]{4}:)?(?:0x)?([0-9a-f]{8,16})\b"
)
_REG_LINE = re.compile(
    r"^\s*(?:RIP|RSP|RAX|RDX|RBP|R1[0-5]|R0[89]|FS|CS|CR2|DR[0-7]|EIP|EAX|"
    r"ESI|DS|x[0-9]{1,2}\s*:|pc :|lr :|sp :)"
)
_CPU_LINE = re.compile(
    r"CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: (?P<comm>\S+)"
    r"(?: .*?)? (?:Not tainted|Tainted: (?P<taint>[A-Z ]+?)) +(?P<release>\S+) #"
)
_TAINT_LINE = re.compile(
    r"^\s+(?:Not tainted|Tainted: (?P<taint>[A-Z ]+?)) +(?P<release>\S+) #", re.MULTILINE
)
_HUNG_TASK = re.compile(r"INFO: task (?P<comm>.+):(?P<pid>\d+) blocked for more than")
_FRAME_LINE = re.compile(
    r"^\s*(?:(?P<pc>\[\<?(?:0x)?[0-9a-f]+\>?\])\s+)?(?:(?P<pc2>\[\<?(?:0x)?[0-9a-f]+\>?\])\s+)?"
    r"(?:[0-9]+:)?(?P<func>[a-zA-Z0-9_.$]+)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)"
    r"(?: \[(?P<mod>[a-zA-Z0-9_]+)\])?"
)
_ARM_FRAME_LINE = re.compile(r"^(?P<pc>\[<[0-9a-f]+>\]) \((?P<func>[a-zA-Z0-9_.$]+)\) from ")
_TRACE_ENDS = ("Modules linked in", "---[ end trace", "Kernel panic", "Exception stack")
_CR2 = re.compile(r"CR2: ([0-9a-f]+)")
_FAULT_ADDR = re.compile(
    r"(?:unable to handle page fault for address|NULL pointer dereference, address|"
    r"kernel paging request at|at virtual address|Unable to handle kernel \S+ at virtual address)"
    r":? ?(?:0x)?([0-9a-f]+)",
    re.IGNORECASE,
)
_KASAN_ADDR = re.compile(r"(?:Read|Write) of size \d+ at addr ([0-9a-f]+)")


def _registers(lines: Sequence[str]) -> dict[str, Hex]:
    regs: dict[str, Hex] = {}
    for ln in lines:
        if not _REG_LINE.match(ln):
            continue
        for name, value in _REG.findall(ln):
            regs.setdefault(name, Hex(int(value, 16)))
    return regs


def _stack_frames(lines: Sequence[str], questionable: set[int]) -> tuple[Frame, ...]:
    # The first call trace of the report, as printed (unreliable frames noted).
    frames: list[Frame] = []
    in_trace = False
    for i, ln in enumerate(lines):
        if "Call Trace" in ln or "Call trace" in ln or "Backtrace:" in ln:
            if frames:
                break
            in_trace = True
            continue
        if not in_trace:
            continue
        note = "unreliable (printed with '?')" if i in questionable else None
        m = _FRAME_LINE.match(ln)
        if m is not None:
            pc = m.group("pc2") or m.group("pc")
            frames.append(
                Frame(
                    index=len(frames),
                    function=m.group("func"),
                    offset=int(m.group("off"), 16),
                    size=int(m.group("size"), 16),
                    address=_pc(pc),
                    module=m.group("mod"),
                    note=note,
                )
            )
            continue
        a = _ARM_FRAME_LINE.match(ln)
        if a is not None:
            frames.append(
                Frame(index=len(frames), function=a.group("func"), address=_pc(a.group("pc")))
            )
            continue
        if frames and (not ln.strip() or ln.startswith(_TRACE_ENDS)):
            break
    return tuple(frames)


def _pc(text: str | None) -> Hex:
    # 0 when the log does not print the address (modern x86 traces).
    return Hex(int(text.strip("[<>]").removeprefix("0x"), 16)) if text else Hex(0)


def _classify(title: str, text: str, default: CrashClass) -> CrashClass:
    for crash_class, title_re, report_re in _CLASS_RULES:
        if title_re is not None and not title_re.search(title):
            continue
        if report_re is not None and not report_re.search(text):
            continue
        return crash_class
    return default


# ---------------------------------------------------------------------------
# Public entry points


def _guilty(desc: _Description) -> str | None:
    for frame in (*desc.frames, desc.func):
        if frame and frame != "corrupted":
            return frame
    return None


_RIP_IN_DATA = re.compile(r"^(?:RIP: [0-9a-f]{4}:|pc : |PC is at )(?:0x)?[0-9a-f]{8,16}\s*$", re.M)


def _retry_with_questionable(
    desc: _Description, fmt: _Format, lines: Sequence[Line], idx: Sequence[int]
) -> _Description:
    # When the faulting PC is not in any function (a jump into data), the
    # unwinder cannot vouch for any frame and prints them all with '?'. The
    # caller that jumped is then the topmost of those frames.
    if fmt.stack is None:
        return desc
    texts = [lines[i].text for i in idx]
    frames, ok = _extract_stack(fmt.stack, texts)
    if not ok:
        return desc
    args = _Args()
    for i, frame in enumerate(frames):
        args["frame" if i == 0 else f"frame{i + 1}"] = frame
    return _Description(
        title=fmt.spec.fmt.format_map(args),
        alt=tuple(a.format_map(args) for a in fmt.spec.alt),
        corrupted=None,
        fmt=fmt,
        frames=frames,
        func=None,
    )


def parse_lines(lines: Sequence[Line]) -> list[OopsReport]:
    """Every crash report in already split lines, in order."""
    reports: list[OopsReport] = []
    pos = 0
    n = len(lines)
    while pos < n:
        start = None
        oops = None
        for i in range(pos, n):
            oops = _header(lines[i].text)
            if oops is not None:
                start = i
                break
        if start is None or oops is None:
            break
        gathered = _gather(lines, start)
        text = "\n".join(gathered.analysis) + "\n"
        desc = _describe(text, oops)
        if desc is None:
            # The header is in the line but the report lost it (it cannot
            # happen with the start line kept): describe the raw lines.
            raw = "\n".join(ln.text for ln in lines[start : gathered.end_line]) + "\n"
            desc = _describe(raw, oops)
        if desc is None or (desc.fmt is None and oops.start is not None):
            # For headers that drivers print too, only known reports count.
            pos = start + 1
            continue
        retried = False
        if (
            desc.fmt is not None
            and desc.corrupted == "extracted no frames"
            and _RIP_IN_DATA.search(text)
        ):
            desc = _retry_with_questionable(desc, desc.fmt, lines, gathered.shown)
            retried = desc.corrupted is None
        if retried:
            # Unreliable frames were all there was, and they were used.
            corrupted = _is_corrupted(desc.title, text, None)
        else:
            corrupted = desc.corrupted or _is_corrupted(desc.title, text, desc.fmt)
        title = sanitize_title(desc.title)
        default_class = desc.fmt.spec.crash_class if desc.fmt is not None else CrashClass.UNKNOWN
        shown_lines = tuple(lines[i].text for i in gathered.shown)
        questionable = {k for k, i in enumerate(gathered.shown) if lines[i].questionable}
        reports.append(
            _make_report(
                title=title,
                alt=tuple(sanitize_title(a) for a in desc.alt),
                crash_class=_classify(title, text, default_class),
                frame=_guilty(desc),
                kind=oops.spec.kind,
                corrupted=corrupted,
                start=start,
                end=gathered.end_line,
                shown=shown_lines,
                questionable=questionable,
                text=text,
            )
        )
        if gathered.next_start is None:
            break
        pos = gathered.next_start
    return reports


_PAGE_FAULT_CLASSES = frozenset(
    {
        CrashClass.BAD_POINTER_DEREFERENCE,
        CrashClass.NULL_POINTER_DEREFERENCE,
        CrashClass.NX_EXECUTE,
        CrashClass.WRITE_TO_READONLY,
        CrashClass.GENERAL_PROTECTION_FAULT,
        CrashClass.USE_AFTER_FREE,
        CrashClass.MEMORY_CORRUPTION,
    }
)


def _make_report(
    *,
    title: str,
    alt: tuple[str, ...],
    crash_class: CrashClass,
    frame: str | None,
    kind: str,
    corrupted: str | None,
    start: int,
    end: int,
    shown: tuple[str, ...],
    questionable: set[int],
    text: str,
) -> OopsReport:
    cpu = pid = None
    comm = taint = release = None
    m = _CPU_LINE.search(text)
    if m:
        cpu, pid, comm = int(m.group("cpu")), int(m.group("pid")), m.group("comm").strip()
        taint = (m.group("taint") or "").strip() or None
        release = m.group("release")
    h = _HUNG_TASK.search(text)
    if h:
        pid, comm = int(h.group("pid")), h.group("comm")
    if release is None:
        t = _TAINT_LINE.search(text)
        if t:
            taint = (t.group("taint") or "").strip() or None
            release = t.group("release")
    fault: Hex | None = None
    page_fault = crash_class in _PAGE_FAULT_CLASSES
    for regex in (_FAULT_ADDR, _KASAN_ADDR, _CR2) if page_fault else (_KASAN_ADDR,):
        fm = regex.search(text)
        if fm:
            fault = Hex(int(fm.group(1), 16))
            break
    return OopsReport(
        title=title,
        crash_class=crash_class,
        frame=frame,
        kind=kind,
        alt_titles=alt,
        corrupted=corrupted is not None,
        corrupted_reason=corrupted,
        start_line=start,
        end_line=end,
        lines=shown,
        registers=_registers(shown),
        stack=_stack_frames(shown, questionable),
        cpu=cpu,
        pid=pid,
        comm=comm,
        tainted=taint,
        release=release,
        fault_address=fault,
    )


def parse_log(text: str) -> list[OopsReport]:
    """Every crash report in kernel log text, in order; the first is the main one."""
    return parse_lines([split_prefix(raw) for raw in text.split("\n")])
