"""
debuginfod client
-----------------

Fetch a debug file by build ID from the servers in ``DEBUGINFOD_URLS`` (the
``/buildid/<id>/debuginfo`` endpoint), for the kernel too: drgn's own fetching covers
Fedora kernels only. Downloads go to ``<cache>/.build-id/xx/<rest>.debug``:

* the size is shown before the transfer, and a progress bar during it;
* a broken transfer is resumed with an HTTP ``Range`` request from the bytes already
  received (kept in a ``.part`` file, so even a later run resumes), a few times;
* the result is checked to carry the build ID that was asked for, then renamed into
  place (atomic), so the cache never holds a partial or foreign file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ktriage.errors import BadInputError, DebuginfoError
from ktriage.symbols.buildid import file_build_id, normalize_build_id

if TYPE_CHECKING:
    import http.client

    from rich.progress import Progress, TaskID

__all__ = (
    "build_id_cache_path",
    "cached_build_id_path",
    "debuginfod_urls",
    "fetch_debuginfo",
)

_CHUNK = 1 << 20
_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def debuginfod_urls(urls: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """Return the server URLs to try: *urls* if given, else ``$DEBUGINFOD_URLS``.

    Both take whitespace-separated URLs; trailing slashes are dropped.
    """
    if urls is None:
        urls = os.environ.get("DEBUGINFOD_URLS", "")
    items = urls.split() if isinstance(urls, str) else [u for s in urls for u in s.split()]
    return tuple(dict.fromkeys(u.rstrip("/") for u in items if u.strip("/")))


def build_id_cache_path(cache_dir: Path, build_id: str) -> Path:
    """Where the debug file of *build_id* lives in *cache_dir* (``.build-id`` layout)."""
    build_id = normalize_build_id(build_id)
    return cache_dir / ".build-id" / build_id[:2] / f"{build_id[2:]}.debug"


def cached_build_id_path(cache_dir: Path, build_id: str) -> Path | None:
    """The cached debug file of *build_id*, if present and really of that build ID."""
    path = build_id_cache_path(cache_dir, build_id)
    try:
        if path.is_file() and file_build_id(path) == normalize_build_id(build_id):
            return path
    except BadInputError:
        return None
    return None


def fetch_debuginfo(
    build_id: str,
    *,
    urls: Sequence[str] | None = None,
    cache_dir: Path,
    what: str = "debuginfo",
    progress: bool = False,
    timeout: float | None = None,
    attempts: int = 5,
) -> Path | None:
    """Fetch the debug file of *build_id* into *cache_dir* and return its path.

    Tries each server of *urls* (default ``$DEBUGINFOD_URLS``) in turn. Returns
    ``None`` when no server has it (HTTP 404 everywhere, or no servers). Raises
    :class:`~ktriage.errors.DebuginfoError` when a server has it but the transfer keeps
    failing after *attempts* tries, or serves a file of another build ID. *what*
    names the file in messages (e.g. ``vmlinux``, ``lkdtm.ko``). *timeout* (seconds
    without data) defaults to ``$DEBUGINFOD_TIMEOUT``, else 30.
    """
    if timeout is None:
        try:
            timeout = float(os.environ.get("DEBUGINFOD_TIMEOUT", "30")) or 30.0
        except ValueError:
            timeout = 30.0
    build_id = normalize_build_id(build_id)
    servers = debuginfod_urls(urls)
    cached = cached_build_id_path(cache_dir, build_id)
    if cached is not None or not servers:
        return cached
    final = build_id_cache_path(cache_dir, build_id)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DebuginfoError(
            f"cannot create the debuginfo cache {final.parent}: {exc.strerror or exc}",
            "run as a user who can write there, or choose another cache directory",
        ) from exc
    errors: list[str] = []
    with _locked(final.with_name(final.name + ".lock")):
        cached = cached_build_id_path(cache_dir, build_id)
        if cached is not None:  # another process fetched it while we waited
            return cached
        for server in servers:
            url = f"{server}/buildid/{build_id}/debuginfo"
            try:
                if _download(
                    url, final, what=what, progress=progress, timeout=timeout, attempts=attempts
                ):
                    break
            except DebuginfoError as exc:
                errors.append(exc.message)
        else:
            if errors:
                raise DebuginfoError(
                    f"debuginfod: could not fetch {what} {build_id}: {'; '.join(errors)}",
                    "check DEBUGINFOD_URLS and the network, then rerun (the transfer resumes)",
                )
            return None
    got = file_build_id(final)
    if got != build_id:
        final.unlink(missing_ok=True)
        raise DebuginfoError(
            f"debuginfod served {what} with build ID {got or 'none'} for build ID {build_id}",
            "the server's index is wrong; try another server in DEBUGINFOD_URLS",
        )
    return final


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _download(
    url: str, final: Path, *, what: str, progress: bool, timeout: float, attempts: int
) -> bool:
    """Download *url* to *final* via a ``.part`` file; False on 404."""
    # The HTTP client is imported here, when a download happens: importing it
    # costs every other run start-up time.
    import http.client
    import urllib.error
    import urllib.parse
    import urllib.request

    part = final.with_name(final.name + ".part")
    host = urllib.parse.urlsplit(url).netloc
    bar = _Progress(what, host) if progress else None
    last_error = ""
    failures = 0
    try:
        while failures < attempts:
            failures += 1
            have = part.stat().st_size if part.exists() else 0
            request = urllib.request.Request(
                url, headers={"Range": f"bytes={have}-"} if have else {}
            )
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return False
                if exc.code == 416 and have:  # the .part is stale: start again
                    part.unlink(missing_ok=True)
                    last_error = "server refused to resume"
                    continue
                last_error = f"HTTP {exc.code} {exc.reason}"
                if 400 <= exc.code < 500:
                    break
                continue
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                last_error = _reason(exc)
                continue
            with response:
                start, total = _span(response, have)
                if start == 0 and have:
                    part.unlink(missing_ok=True)  # server ignored Range: restart
                if bar is not None:
                    bar.start(total, start)
                try:
                    with part.open("ab") as out:
                        done = start + _copy(response, out, bar)
                except (OSError, http.client.HTTPException) as exc:
                    last_error = f"transfer broken: {_reason(exc)}"
                    continue
            if total is not None and done < total:
                last_error = f"transfer broken after {done} of {total} bytes"
                if done > have:
                    failures = 0  # it moved on: only consecutive failures count
                continue
            os.replace(part, final)
            return True
    finally:
        if bar is not None:
            bar.stop()
    raise DebuginfoError(f"{url}: {last_error} ({attempts} tries without progress)", "")


def _reason(exc: BaseException) -> str:
    import urllib.error

    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        exc = exc.reason
    return str(exc) or type(exc).__name__


def _span(response: http.client.HTTPResponse, have: int) -> tuple[int, int | None]:
    """Return (offset of the first byte served, total size of the file)."""
    length = response.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else None
    if response.status == 206:
        m = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range", ""))
        if m and int(m[1]) == have:
            return have, int(m[3]) if m[3] != "*" else None
        import http.client

        raise http.client.HTTPException("bad Content-Range in a resumed transfer")
    x_size = response.headers.get("X-Debuginfod-Size")
    if size is None and x_size and x_size.isdigit():
        size = int(x_size)
    return 0, size


def _copy(response: http.client.HTTPResponse, out: IO[bytes], bar: _Progress | None) -> int:
    copied = 0
    while chunk := response.read(_CHUNK):
        out.write(chunk)
        copied += len(chunk)
        if bar is not None:
            bar.advance(len(chunk))
    return copied


class _Progress:
    """The size line and a progress bar on stderr."""

    def __init__(self, what: str, host: str) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)
        self._what = what
        self._host = host
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total: int | None, start: int) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        size = _human(total) if total is not None else "unknown size"
        resumed = f", resuming at {_human(start)}" if start else ""
        self._console.print(
            f"debuginfod: fetching {self._what} ({size}{resumed}) from {self._host}",
            highlight=False,
        )
        self.stop()
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=not self._console.is_terminal,
        )
        progress.start()
        self._task = progress.add_task(self._what, total=total, completed=start)
        self._progress = progress

    def advance(self, n: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{n} B"
        value /= 1000
    return f"{n} B"
