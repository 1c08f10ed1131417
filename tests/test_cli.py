"""
The ``ktriage`` command as a user runs it: real inputs in, one report out; bad
inputs get one line saying what is wrong and what to try, a non-zero exit, and
never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import CorpusDump, shared_dumps
from expectations import SCENARIO_CLASS

_SHARED = shared_dumps()


def ktriage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ktriage", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_clean_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ktriage: error: ")
    return lines[0]


@pytest.fixture(params=_SHARED, ids=[d.name for d in _SHARED])
def shared(request: pytest.FixtureRequest) -> CorpusDump:
    return request.param  # type: ignore[no-any-return]


def test_analyze_text_log_gives_the_scenarios_class(shared: CorpusDump) -> None:
    if shared.dmesg is None:
        pytest.skip("no vmcore-dmesg.txt")
    result = ktriage("analyze", shared.dmesg, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["debuginfo"]["tier"] == "none"
    assert doc["verdict"]["class"] == SCENARIO_CLASS[shared.scenario]


def test_analyze_without_symbols_still_triages_the_log(shared: CorpusDump) -> None:
    target = shared.dump.parent if shared.dump.name == "vmcore" else shared.dump
    result = ktriage("analyze", target, "--debuginfo", "none", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["debuginfo"]["tier"] == "none"
    assert doc["kernel"]["release"] == shared.release
    assert doc["verdict"]["class"] == SCENARIO_CLASS[shared.scenario]


def test_input_is_never_modified(shared: CorpusDump) -> None:
    before = hashlib.sha256(shared.dump.read_bytes()).hexdigest()
    mtime = shared.dump.stat().st_mtime_ns
    assert ktriage("analyze", shared.dump, "--debuginfo", "btf", "-f", "json").returncode == 0
    assert hashlib.sha256(shared.dump.read_bytes()).hexdigest() == before
    assert shared.dump.stat().st_mtime_ns == mtime


def test_missing_file() -> None:
    line = _one_clean_error_line(ktriage("analyze", "/nonexistent/vmcore"))
    assert "/nonexistent/vmcore" in line


def test_garbage_binary(tmp_path: Path) -> None:
    garbage = tmp_path / "vmcore"
    garbage.write_bytes(bytes(range(256)) * 4096)
    _one_clean_error_line(ktriage("analyze", garbage))


@pytest.mark.parametrize("fraction", [0.001, 0.3, 0.9])
def test_truncated_dump(tmp_path: Path, fraction: float) -> None:
    if not _SHARED:
        pytest.skip("no shared corpus")
    source = _SHARED[0].dump
    data = source.read_bytes()
    cut = tmp_path / source.name
    cut.write_bytes(data[: int(len(data) * fraction)])
    result = ktriage("analyze", cut, "--debuginfo", "btf", "--format", "json")
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        # A partial dump gives a partial report that says what could not be read.
        doc = json.loads(result.stdout)
        assert doc["dump"]["incomplete"] is True
    else:
        _one_clean_error_line(result)


def test_wrong_vmlinux_is_refused(tmp_path: Path) -> None:
    if not _SHARED:
        pytest.skip("no shared corpus")
    # A real ELF with DWARF but of another build: the out-of-tree module.
    wrong = _SHARED[0].dump.parent.parent / "lkdtm.ko"
    if not wrong.is_file():
        pytest.skip("no lkdtm.ko")
    line = _one_clean_error_line(
        ktriage("analyze", _SHARED[0].dump, "--vmlinux", wrong, "--debuginfo", "dwarf")
    )
    assert "build ID" in line or "build id" in line.lower()


def test_dwarf_types_option_takes_every_type_from_dwarf() -> None:
    """``--dwarf-types``: the report says nothing of BTF types; without it, it does."""
    dumps = [d for d in _SHARED if d.vmlinux is not None]
    if not dumps:
        pytest.skip("no shared corpus dump with its vmlinux here")
    notes = []
    for extra in ((), ("--dwarf-types",)):
        result = ktriage(
            "analyze", dumps[0].dump, "--vmlinux", dumps[0].vmlinux, "-f", "json", *extra
        )
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["debuginfo"]["tier"] == "dwarf"
        notes.append(any("BTF" in n for n in doc["debuginfo"]["notes"]))
    assert notes == [True, False]


def test_dwarf_required_but_absent_gives_advice(tmp_path: Path) -> None:
    if not _SHARED:
        pytest.skip("no shared corpus")
    result = ktriage(
        "analyze",
        _SHARED[0].dump,
        "--debuginfo",
        "dwarf",
        "--no-debuginfod",
        "--cache-dir",
        tmp_path,
    )
    if result.returncode == 0:
        pytest.skip("a matching vmlinux is installed in a standard place on this machine")
    line = _one_clean_error_line(result)
    assert f"linux-image-{_SHARED[0].release}-dbg" in line


def test_oops_json_over_many_files() -> None:
    oops_dev = Path(__file__).resolve().parent.parent.parent / "shared" / "oops-dev"
    files = sorted(oops_dev.glob("*.txt"))[:50]
    if not files:
        pytest.skip("no oops-dev corpus")
    result = ktriage("oops", "--format", "json", *files)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [entry["file"] for entry in doc] == [str(f) for f in files]
    crashes = [c for entry in doc for c in entry["crashes"]]
    assert crashes, "oops-dev files hold crashes"
    for crash in crashes:
        assert {"title", "class", "frame", "corrupted"} <= crash.keys()


def test_ident_json(shared: CorpusDump) -> None:
    result = ktriage("ident", shared.dump, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert shared.release in json.dumps(doc)


def test_oops_batch_goes_on_past_a_bad_file(tmp_path: Path) -> None:
    if not _SHARED or _SHARED[0].dmesg is None:
        pytest.skip("no shared corpus")
    result = ktriage("oops", "--format", "json", _SHARED[0].dump, _SHARED[0].dmesg)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
    doc = json.loads(result.stdout)
    assert [entry["file"] for entry in doc] == [str(_SHARED[0].dmesg)]
    assert doc[0]["crashes"]


def test_ident_and_log_take_the_crash_directory(shared: CorpusDump) -> None:
    # What kdump leaves is a directory; ident and log open the dump in it, as analyze does.
    directory = shared.dump.parent
    if shared.dump.name != "vmcore":
        pytest.skip("not the kdump directory layout")
    result = ktriage("ident", directory, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(shared.dump)
    log = ktriage("log", directory)
    assert log.returncode == 0, log.stderr
    assert log.stdout == ktriage("log", shared.dump).stdout


def test_ident_of_a_directory_without_a_dump(tmp_path: Path) -> None:
    if not _SHARED or _SHARED[0].dmesg is None:
        pytest.skip("no shared corpus")
    (tmp_path / "vmcore-dmesg.txt").write_bytes(_SHARED[0].dmesg.read_bytes())
    line = _one_clean_error_line(ktriage("ident", tmp_path))
    assert "no dump" in line


def test_analyze_in_process_leaves_the_collector_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # analyze turns the cyclic GC off for its run; a caller's process gets it back.
    import gc

    from ktriage.cli import main

    log = next((d.dmesg for d in shared_dumps() if d.dmesg is not None), None)
    if log is None:
        pytest.skip("no shared corpus dump with its vmcore-dmesg.txt")
    assert gc.isenabled()
    assert main(["analyze", str(log), "--format", "json", "-o", str(tmp_path / "r.json")]) == 0
    assert gc.isenabled()
    assert json.loads((tmp_path / "r.json").read_text())["schema"]
    capsys.readouterr()
