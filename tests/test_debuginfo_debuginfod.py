"""Fetching by build ID from a real debuginfod (elfutils) over the corpus's vmlinux and
lkdtm.ko, and resuming broken transfers against a small 127.0.0.1 server.

debuginfod 0.188 has no option to choose its listen address, so it runs in a network
namespace of its own (``unshare --net``: only a loopback device) and is reached through
a Unix socket, forwarded here by a listener bound to 127.0.0.1: nothing listens on any
other address.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from corpus import SHARED_CORPUS, shared_dumps

from ktriage.errors import DebuginfoError
from ktriage.source.ident import identify
from ktriage.symbols.buildid import file_build_id
from ktriage.symbols.debuginfo import resolve_debuginfo, resolve_vmlinux
from ktriage.symbols.debuginfod import build_id_cache_path, debuginfod_urls, fetch_debuginfo

LKDTM = SHARED_CORPUS / "6.1.0-56-amd64" / "lkdtm.ko"
_DUMPS = [d for d in shared_dumps() if d.vmlinux is not None]

# Runs inside the network namespace: loopback up, debuginfod on it, and a Unix socket
# (a file, reachable from outside the namespace) forwarded to debuginfod's port.
_INSIDE = r"""
import socket, subprocess, sys, threading, time
sock_path, port, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
server = subprocess.Popen(argv)

def pipe(a, b):
    try:
        while data := a.recv(1 << 16):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def handle(client):
    for _ in range(200):
        try:
            upstream = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            time.sleep(0.05)
    else:
        client.close()
        return
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    pipe(upstream, client)

listener = socket.socket(socket.AF_UNIX)
listener.bind(sock_path)
listener.listen(16)
while server.poll() is None:
    client, _ = listener.accept()
    threading.Thread(target=handle, args=(client,), daemon=True).start()
"""


class _UnixForwarder(socketserver.ThreadingTCPServer):
    """127.0.0.1:<free port> -> a Unix socket."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, unix_path: Path) -> None:
        self.unix_path = unix_path
        super().__init__(("127.0.0.1", 0), _ForwardHandler)


class _ForwardHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        upstream = socket.socket(socket.AF_UNIX)
        try:
            upstream.connect(str(self.server.unix_path))  # type: ignore[attr-defined]
        except OSError:  # the namespace side is not up yet: the client sees a reset
            upstream.close()
            return

        def pipe(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(1 << 16):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        other = threading.Thread(target=pipe, args=(self.request, upstream), daemon=True)
        other.start()
        pipe(upstream, self.request)
        other.join(5)
        upstream.close()


@pytest.fixture(scope="module")
def debuginfod_server(tmp_path_factory):
    """A real debuginfod indexing a directory with the real vmlinux and lkdtm.ko."""
    if not _DUMPS or not LKDTM.is_file():
        pytest.skip("no corpus dump with its vmlinux here")
    if shutil.which("debuginfod") is None:
        pytest.skip("debuginfod is not installed (apt-get install debuginfod)")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare or ip is missing: cannot confine debuginfod to loopback")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace (unshare --net needs root)")
    work = tmp_path_factory.mktemp("debuginfod")
    served = work / "served"
    served.mkdir()
    vmlinux = _DUMPS[0].vmlinux
    for source, name in ((vmlinux, "vmlinux"), (LKDTM, "lkdtm.ko")):
        try:
            os.link(source, served / name)  # same file, no copy
        except OSError:
            (served / name).symlink_to(source)
    sock = work / "debuginfod.sock"
    argv = ["debuginfod", "-p", "8002", "-L", "-F", str(served), "-d", str(work / "db.sqlite")]
    proc = subprocess.Popen(
        ["unshare", "--net", "--", sys.executable, "-c", _INSIDE, str(sock), "8002", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    forwarder = _UnixForwarder(sock)
    thread = threading.Thread(target=forwarder.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{forwarder.server_address[1]}"
    try:
        _wait_indexed(url, file_build_id(vmlinux), proc)
        yield url, vmlinux
    finally:
        forwarder.shutdown()
        forwarder.server_close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_indexed(url: str, build_id: str | None, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"debuginfod exited with {proc.returncode}")
        try:
            request = urllib.request.Request(f"{url}/buildid/{build_id}/debuginfo")
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    pytest.fail("debuginfod did not index the vmlinux within 60 s")


def test_fetch_vmlinux_by_build_id_with_size_and_progress(debuginfod_server, tmp_path, capsys):
    url, vmlinux = debuginfod_server
    build_id = file_build_id(vmlinux)
    started = time.perf_counter()
    path = fetch_debuginfo(build_id, urls=[url], cache_dir=tmp_path, what="vmlinux", progress=True)
    elapsed = time.perf_counter() - started
    size = vmlinux.stat().st_size
    print(f"\nfetched {size / 1e6:.0f} MB from debuginfod in {elapsed:.1f} s")
    assert path == build_id_cache_path(tmp_path, build_id)
    assert file_build_id(path) == build_id and path.stat().st_size == size
    err = capsys.readouterr().err
    assert f"fetching vmlinux ({size / 1e6:.1f} MB)" in err and "127.0.0.1" in err
    assert not list(path.parent.glob("*.part"))

    # already cached: no transfer, no output
    assert fetch_debuginfo(build_id, urls=[url], cache_dir=tmp_path, progress=True) == path
    assert capsys.readouterr().err == ""


def test_resolve_uses_debuginfod_urls_for_kernel_and_module(
    debuginfod_server, tmp_path, monkeypatch
):
    url, _vmlinux = debuginfod_server
    d = _DUMPS[0]
    ident = identify(d.dump)
    monkeypatch.setenv("DEBUGINFOD_URLS", f"http://127.0.0.1:1/nothing-here {url}")
    assert debuginfod_urls() == ("http://127.0.0.1:1/nothing-here", url)
    resolution = resolve_debuginfo(
        release=ident.release,
        build_id=ident.build_id,
        modules=[("lkdtm", file_build_id(LKDTM)), ("ext4", "ab" * 20)],
        cache_dir=tmp_path,
    )
    choice = resolution.vmlinux
    assert (choice.source, choice.build_id, choice.build_id_match) == (
        "debuginfod",
        ident.build_id,
        True,
    )
    assert choice.facts().source == "debuginfod" and choice.facts().tier == "dwarf"
    assert resolution.modules == {"lkdtm": build_id_cache_path(tmp_path, file_build_id(LKDTM))}
    assert resolution.module_sources == {"lkdtm": "debuginfod"}

    # later, without a server, the cached files are used (as local files)
    monkeypatch.delenv("DEBUGINFOD_URLS")
    again = resolve_debuginfo(
        release=ident.release,
        build_id=ident.build_id,
        modules=[("lkdtm", file_build_id(LKDTM))],
        cache_dir=tmp_path,
    )
    assert (again.vmlinux.path, again.vmlinux.source) == (choice.path, "local")
    assert again.module_sources == {"lkdtm": "local"}


def test_unknown_build_id_is_not_found(debuginfod_server, tmp_path):
    url, _vmlinux = debuginfod_server
    assert fetch_debuginfo("cd" * 20, urls=[url], cache_dir=tmp_path) is None
    choice = resolve_vmlinux(
        release="6.1.0-56-amd64", build_id="cd" * 20, urls=[url], cache_dir=tmp_path
    )
    assert choice.source == "none" and choice.advice is not None
    assert any("no file for " + "cd" * 20 in t for t in choice.tried)


def test_no_debuginfod_urls_means_no_fetch(tmp_path, monkeypatch):
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    choice = resolve_vmlinux(release="6.1.0-56-amd64", build_id="cd" * 20, cache_dir=tmp_path)
    assert choice.source == "none"
    assert "debuginfod: DEBUGINFOD_URLS is not set" in choice.tried


# --- broken transfers --------------------------------------------------------------------


class _CuttingHandler(http.server.BaseHTTPRequestHandler):
    """Serves one file; the first answer stops after ``cut`` bytes, later ones honour Range."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        data: bytes = state["data"]
        state["requests"].append(self.headers.get("Range"))
        if not self.path.endswith(f"/buildid/{state['build_id']}/debuginfo"):
            self.send_error(404)
            return
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.removeprefix("bytes=").split("-")[0])
        if state["honour_range"] and start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            start = 0
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        cut = state["cuts"].pop(0) if state["cuts"] else None
        body = data[start:] if cut is None else data[start : start + cut]
        self.wfile.write(body)
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def cutting_server():
    if not LKDTM.is_file():
        pytest.skip("no lkdtm.ko in the corpus")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CuttingHandler)
    server.state = {  # type: ignore[attr-defined]
        "data": LKDTM.read_bytes(),
        "build_id": file_build_id(LKDTM),
        "cuts": [],
        "requests": [],
        "honour_range": True,
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_broken_transfer_is_resumed_with_range(cutting_server, tmp_path, capsys):
    server, url = cutting_server
    state = server.state
    state["cuts"] = [300_000, 200_000]  # two broken transfers, then the rest
    path = fetch_debuginfo(state["build_id"], urls=[url], cache_dir=tmp_path, progress=True)
    assert path is not None and path.read_bytes() == state["data"]
    assert state["requests"] == [None, "bytes=300000-", "bytes=500000-"]
    assert "resuming at 300.0 kB" in capsys.readouterr().err


def test_server_ignoring_range_restarts_cleanly(cutting_server, tmp_path):
    server, url = cutting_server
    state = server.state
    state["cuts"] = [300_000]
    state["honour_range"] = False
    path = fetch_debuginfo(state["build_id"], urls=[url], cache_dir=tmp_path)
    assert path is not None and path.read_bytes() == state["data"]


def test_transfer_that_keeps_failing_is_an_error_and_caches_nothing(cutting_server, tmp_path):
    server, url = cutting_server
    state = server.state
    state["cuts"] = [0] * 10  # never any progress
    with pytest.raises(DebuginfoError, match="transfer broken") as info:
        fetch_debuginfo(state["build_id"], urls=[url], cache_dir=tmp_path, attempts=3)
    assert state["build_id"] in info.value.message and "\n" not in str(info.value)
    assert not build_id_cache_path(tmp_path, state["build_id"]).exists()


def test_wrong_file_from_server_is_refused(cutting_server, tmp_path):
    server, url = cutting_server
    state = server.state
    state["build_id"] = "ef" * 20  # the server answers for a build ID its file does not have
    with pytest.raises(DebuginfoError, match=r"served .* with build ID"):
        fetch_debuginfo("ef" * 20, urls=[url], cache_dir=tmp_path)
    assert not build_id_cache_path(tmp_path, "ef" * 20).exists()
