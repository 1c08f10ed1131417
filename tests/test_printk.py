"""The kernel log read with VMCOREINFO alone (source.printk), against vmcore-dmesg.txt."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from corpus import CorpusDump

from ktriage.facts import LogRecord
from ktriage.source.ident import dump_magic, identify
from ktriage.source.open import open_program
from ktriage.source.printk import (
    PrintkLog,
    format_log,
    format_record,
    parse_log_text,
    read_log,
)


def _dmesg_of(dump: CorpusDump) -> Path | None:
    if dump.dmesg is not None:
        return dump.dmesg
    beside = dump.dump.parent / "vmcore-dmesg.txt"
    return beside if beside.is_file() else None


def _style_of(dump: CorpusDump, dmesg: Path) -> str:
    # Which tool wrote the file: makedumpfile 1.7.6 prints a caller ID column; in
    # the kdump service layout (/var/crash/<ip>-<date>/vmcore) the capture kernel
    # ran kexec-tools' vmcore-dmesg; otherwise an older makedumpfile (1.7.2).
    with dmesg.open("rb") as file:
        first = file.readline()
    if re.match(rb"\[ *\d+\.\d{6}\] \[ *[TC]\d+\] ", first):
        return "makedumpfile"
    if dump.dump.name == "vmcore" and re.match(r".+-\d{4}-\d\d-\d\d-", dump.dump.parent.name):
        return "vmcore-dmesg"
    return "makedumpfile-old"


def test_log_equals_vmcore_dmesg(corpus_dump: CorpusDump) -> None:
    dmesg = _dmesg_of(corpus_dump)
    if dmesg is None:
        pytest.skip(f"no vmcore-dmesg.txt for {corpus_dump.name}")
    prog = open_program(corpus_dump.dump)
    log = read_log(prog)
    assert isinstance(log, PrintkLog)
    assert log.unreadable == ()
    expected = dmesg.read_bytes().decode("utf-8", "surrogateescape")
    assert format_log(log, _style_of(corpus_dump, dmesg)) == expected


def test_records_are_well_formed(corpus_dump: CorpusDump) -> None:
    log = read_log(open_program(corpus_dump.dump))
    assert len(log) > 50
    seqs = [r.seq for r in log]
    assert all(s is not None for s in seqs)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(r.level is not None and 0 <= r.level <= 7 for r in log)
    assert all(r.caller is None or re.fullmatch(r"[TC]\d+", r.caller) for r in log)
    assert log[0].text.startswith("Linux version ") or log[0].seq != 0
    release = identify(corpus_dump.dump).release
    assert any(release is not None and release in r.text for r in log)
    # The records print as the facts contract's own one-line form.
    single = [r for r in log if "\n" not in r.text and r.text.isprintable()]
    assert all(format_record(r, "makedumpfile-old") == r.format() for r in single)


def test_format_multiline_and_escapes() -> None:
    record = LogRecord(text="first\n  second\x07\tend", timestamp_ns=1_756_796_000, level=4)
    assert format_record(record) == ("[    1.756796] first\n                 second\\x07\tend")
    assert format_record(record, "vmcore-dmesg") == "[    1.756796] first\n  second\\x07\tend"
    utf8 = LogRecord(text="caf\u00e9", timestamp_ns=0)
    assert format_record(utf8) == "[    0.000000] caf\\xffffffc3\\xffffffa9"
    assert format_record(utf8, "vmcore-dmesg") == "[    0.000000] caf\\xc3\\xa9"
    empty = LogRecord(text="", timestamp_ns=12_345_678_901_000)
    assert format_log([empty, record]) == format_record(record) + "\n"
    assert format_log([empty], "vmcore-dmesg") == "[12345.678901] \n"
    assert format_log([LogRecord(text="plain text line")]) == "plain text line\n"
    with pytest.raises(ValueError, match="unknown log style"):
        format_log([record], "dmesg")


def test_parse_log_text_round_trips(corpus_dump: CorpusDump) -> None:
    dmesg = _dmesg_of(corpus_dump)
    if dmesg is None:
        pytest.skip(f"no vmcore-dmesg.txt for {corpus_dump.name}")
    text = dmesg.read_bytes().decode("utf-8", "surrogateescape")
    parsed = parse_log_text(text)
    assert format_log(parsed, _style_of(corpus_dump, dmesg)) == text
    # The text log and the ring buffer give the same records, but for escapes.
    from_dump = read_log(open_program(corpus_dump.dump))
    printable = [r for r in from_dump if r.text and r.text.isprintable()]
    stamped = {(r.timestamp_ns, r.text) for r in parsed if r.timestamp_ns is not None}
    assert all((r.timestamp_ns // 1000 * 1000, r.text) in stamped for r in printable)


def test_parse_log_text_forms() -> None:
    text = "boot banner\n<4>[   12.000001] WARNING: x\n[   12.000002] a\n  b\n"
    records = parse_log_text(text)
    assert records[0] == LogRecord(text="boot banner")
    assert records[1] == LogRecord(text="WARNING: x", timestamp_ns=12_000_001_000, level=4)
    assert records[2] == LogRecord(text="a\n  b", timestamp_ns=12_000_002_000)
    caller = parse_log_text("[    0.000000] [    T121] a\n" + " " * 26 + "b\n")
    assert caller == (LogRecord(text="a\nb", timestamp_ns=0, caller="T121"),)


def test_log_equals_local_makedumpfile(corpus_dump: CorpusDump, tmp_path: Path) -> None:
    """A second oracle: this machine's ``makedumpfile --dump-dmesg`` on the same dump."""
    if shutil.which("makedumpfile") is None:
        pytest.skip("makedumpfile is not installed")
    with corpus_dump.dump.open("rb") as file:
        if dump_magic(file.read(16)) not in {"elf", "kdump-compressed"}:
            pytest.skip("makedumpfile --dump-dmesg reads ELF and compressed kdump files only")
    out = tmp_path / "dmesg.txt"
    proc = subprocess.run(
        ["makedumpfile", "--dump-dmesg", str(corpus_dump.dump), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0 or not out.is_file():
        pytest.skip(f"makedumpfile --dump-dmesg failed: {proc.stdout[-200:]} {proc.stderr[-200:]}")
    expected = out.read_bytes().decode("utf-8", "surrogateescape")
    first = expected.split("\n", 1)[0]
    style = (
        "makedumpfile"
        if re.match(r"\[ *\d+\.\d{6}\] \[ *[TC]\d+\] ", first)
        else ("makedumpfile-old")
    )
    assert format_log(read_log(open_program(corpus_dump.dump)), style) == expected
