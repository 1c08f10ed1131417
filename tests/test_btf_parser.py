"""The standalone BTF parser: this machine's kernel BTF against bpftool, and bad input."""

from __future__ import annotations

import random
import shutil
import subprocess
from functools import cache
from pathlib import Path

import drgn
import pytest
from corpus import CACHE

from ktriage.symbols.btf import (
    BTF_KIND_NAMES,
    Btf,
    BtfError,
    BtfKind,
    BtfTypeConverter,
    BtfTypeRecord,
    parse_btf,
)
from ktriage.symbols.btf_tier import read_btf_file

SYS_BTF = Path("/sys/kernel/btf")
SHARED_BTF = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"

needs_sys_btf = pytest.mark.skipif(
    not (SYS_BTF / "vmlinux").is_file(), reason="no /sys/kernel/btf/vmlinux on this machine"
)
needs_bpftool = pytest.mark.skipif(
    shutil.which("bpftool") is None, reason="no bpftool (apt-get install bpftool)"
)


@cache
def sys_btf() -> Btf:
    return parse_btf((SYS_BTF / "vmlinux").read_bytes())


def _name(name: str) -> str:
    return f"'{name or '(anon)'}'"


def bpftool_lines(btf: Btf, record: BtfTypeRecord) -> list[str]:
    """*record* as ``bpftool btf dump`` (raw format) prints it."""
    kind = record.kind
    head = f"[{record.id}] {BTF_KIND_NAMES[kind]} {_name(record.name)}"
    if kind == BtfKind.INT:
        value = record.extra[0]
        encoding = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}.get((value >> 24) & 0xF, "UNKN")
        return [
            f"{head} size={record.size_or_type} bits_offset={(value >> 16) & 0xFF} "
            f"nr_bits={value & 0xFF} encoding={encoding}"
        ]
    if kind in (
        BtfKind.PTR,
        BtfKind.CONST,
        BtfKind.VOLATILE,
        BtfKind.RESTRICT,
        BtfKind.TYPEDEF,
        BtfKind.TYPE_TAG,
    ):
        return [f"{head} type_id={record.size_or_type}"]
    if kind == BtfKind.ARRAY:
        elem, index, nelems = record.extra
        return [f"{head} type_id={elem} index_type_id={index} nr_elems={nelems}"]
    if kind in (BtfKind.STRUCT, BtfKind.UNION):
        lines = [f"{head} size={record.size_or_type} vlen={record.vlen}"]
        for name_off, type_id, offset in record.items:
            bits = offset >> 24 if record.kind_flag else 0
            bit_offset = offset & 0xFFFFFF if record.kind_flag else offset
            line = f"\t{_name(btf.string(name_off))} type_id={type_id} bits_offset={bit_offset}"
            lines.append(line + (f" bitfield_size={bits}" if bits else ""))
        return lines
    if kind in (BtfKind.ENUM, BtfKind.ENUM64):
        signed = record.kind_flag
        lines = [
            f"{head} encoding={'SIGNED' if signed else 'UNSIGNED'} "
            f"size={record.size_or_type} vlen={record.vlen}"
        ]
        for item in record.items:
            if kind == BtfKind.ENUM:
                value = item[1] - (1 << 32) if signed and item[1] >> 31 else item[1]
                suffix = ""
            else:
                value = item[1] | item[2] << 32
                if signed and value >> 63:
                    value -= 1 << 64
                suffix = "LL" if signed else "ULL"
            lines.append(f"\t{_name(btf.string(item[0]))} val={value}{suffix}")
        return lines
    if kind == BtfKind.FWD:
        return [f"{head} fwd_kind={'union' if record.kind_flag else 'struct'}"]
    if kind == BtfKind.FUNC:
        linkage = ("static", "global", "extern")[record.vlen]
        return [f"{head} type_id={record.size_or_type} linkage={linkage}"]
    if kind == BtfKind.FUNC_PROTO:
        lines = [f"{head} ret_type_id={record.size_or_type} vlen={record.vlen}"]
        lines += [f"\t{_name(btf.string(n))} type_id={t}" for n, t in record.items]
        return lines
    if kind == BtfKind.VAR:
        linkage = ("static", "global", "extern")[record.extra[0]]
        return [f"{head} type_id={record.size_or_type}, linkage={linkage}"]
    if kind == BtfKind.DATASEC:
        lines = [f"{head} size={record.size_or_type} vlen={record.vlen}"]
        for type_id, offset, size in record.items:
            var = btf.record(type_id)
            lines.append(
                f"\ttype_id={type_id} offset={offset} size={size} "
                f"({BTF_KIND_NAMES[var.kind]} {_name(var.name)})"
            )
        return lines
    if kind == BtfKind.FLOAT:
        return [f"{head} size={record.size_or_type}"]
    if kind == BtfKind.DECL_TAG:
        component = record.extra[0] - (1 << 32) if record.extra[0] >> 31 else record.extra[0]
        return [f"{head} type_id={record.size_or_type} component_idx={component}"]
    raise AssertionError(f"kind {kind}")


def assert_same_as_bpftool(btf: Btf, command: list[str]) -> None:
    expected = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    got = [line for record in btf for line in bpftool_lines(btf, record)]
    expected_lines = expected.splitlines()
    assert len(got) == len(expected_lines)
    for got_line, expected_line in zip(got, expected_lines, strict=True):
        assert got_line == expected_line


@needs_sys_btf
@needs_bpftool
def test_sys_vmlinux_same_as_bpftool() -> None:
    btf = sys_btf()
    assert len(btf) > 10_000
    kinds = {record.kind for record in btf}
    # Every kind of current kernels is in there, the newest ones included.
    assert {BtfKind.DECL_TAG, BtfKind.TYPE_TAG, BtfKind.ENUM64, BtfKind.FLOAT} <= kinds
    assert_same_as_bpftool(btf, ["bpftool", "btf", "dump", "file", str(SYS_BTF / "vmlinux")])


@needs_sys_btf
@needs_bpftool
def test_sys_module_split_btf_same_as_bpftool() -> None:
    modules = sorted(p for p in SYS_BTF.iterdir() if p.name != "vmlinux")
    if not modules:
        pytest.skip("no module BTF in /sys/kernel/btf")
    module = max(
        modules, key=lambda p: p.stat().st_size if p.stat().st_size else len(p.read_bytes())
    )
    split = parse_btf(module.read_bytes(), base=sys_btf())
    assert split.first_id == sys_btf().count
    assert_same_as_bpftool(
        split,
        ["bpftool", "btf", "dump", "file", str(module), "base", str(SYS_BTF / "vmlinux")],
    )


@needs_sys_btf
def test_sys_vmlinux_every_type_converts() -> None:
    btf = sys_btf()
    btf.check_references()
    prog = drgn.Program(
        drgn.Platform(
            drgn.Architecture.X86_64,
            drgn.PlatformFlags.IS_64_BIT | drgn.PlatformFlags.IS_LITTLE_ENDIAN,
        )
    )
    converter = BtfTypeConverter(prog, btf)
    for record in btf:
        if record.kind in (BtfKind.DATASEC, BtfKind.DECL_TAG):
            continue
        type_ = converter.type(record.id)
        if record.kind in (BtfKind.STRUCT, BtfKind.UNION):
            assert drgn.sizeof(type_) == record.size_or_type
            for member in type_.members or ():
                member.type  # noqa: B018 - builds the lazy member
    prog.register_type_finder("btf", converter.type_finder, enable_index=0)
    task = prog.type("struct task_struct")
    assert task.member("pid").type.type_name() == "pid_t"
    assert prog.type("unsigned long").type_name() == "unsigned long"
    assert drgn.sizeof(prog.type("struct list_head")) == 16


def shared_btf_bytes() -> bytes:
    """The 6.1 vmlinux BTF, read from a corpus dump (or this machine's)."""
    dumps = sorted(SHARED_BTF.glob("*/*/vmcore.mkdf-c-d31"))
    if dumps:
        from drgn.helpers.linux.kallsyms import load_vmlinux_kallsyms

        prog = drgn.Program()
        prog.set_core_dump(str(dumps[0]))
        index = load_vmlinux_kallsyms(prog)
        start = index(prog, "__start_BTF", None, True)[0].address
        stop = index(prog, "__stop_BTF", None, True)[0].address
        return bytes(prog.read(start, stop - start))
    if (SYS_BTF / "vmlinux").is_file():
        return (SYS_BTF / "vmlinux").read_bytes()
    pytest.skip("no corpus dump and no /sys/kernel/btf/vmlinux")


@pytest.fixture(scope="module")
def real_btf() -> bytes:
    return shared_btf_bytes()


def _exercise(data: bytes, sample: int) -> None:
    # Parse, look up and build types: only BtfError may come out.
    btf = parse_btf(data)
    prog = drgn.Program(drgn.host_platform)
    converter = BtfTypeConverter(prog, btf)
    ids = range(btf.first_id, btf.count)
    for type_id in random.Random(sample).sample(ids, min(sample, len(ids))):
        type_ = converter.type(type_id)
        if type_.kind in (drgn.TypeKind.STRUCT, drgn.TypeKind.UNION) and type_.members:
            for member in type_.members:
                member.type  # noqa: B018
    for name in ("task_struct", "list_head", "module"):
        converter.find(name, frozenset((drgn.TypeKind.STRUCT,)))
    btf.find_enumerator("PIDTYPE_PID")


def test_truncated(real_btf: bytes) -> None:
    cuts = [0, 1, 3, 23, 24, 25, 100, len(real_btf) // 2, len(real_btf) - 1]
    for cut in cuts:
        with pytest.raises(BtfError):
            parse_btf(real_btf[:cut])


def test_bad_header(real_btf: bytes) -> None:
    for offset, value in (
        (0, b"\x00\x00"),  # magic
        (2, b"\x02"),  # version
        (4, b"\x00\x00\x00\x00"),  # hdr_len
        (4, b"\xff\xff\xff\x7f"),
        (12, b"\xff\xff\xff\x7f"),  # type_len
        (20, b"\xff\xff\xff\x7f"),  # str_len
        (8, b"\x01\x00\x00\x00"),  # misaligned type section
    ):
        data = bytearray(real_btf)
        data[offset : offset + len(value)] = value
        with pytest.raises(BtfError) as raised:
            parse_btf(bytes(data))
        assert raised.value.message.startswith("corrupt BTF")


def test_garbled(real_btf: bytes) -> None:
    # Random bytes over the type section: each variant either parses, and then
    # every lookup and conversion fails cleanly or works, or is refused up front.
    header = int.from_bytes(real_btf[4:8], "little")
    type_len = int.from_bytes(real_btf[12:16], "little")
    rng = random.Random(1)
    refused = 0
    for _ in range(40):
        data = bytearray(real_btf)
        for _ in range(rng.choice((1, 8, 64))):
            at = header + rng.randrange(type_len)
            data[at] = rng.randrange(256)
        try:
            _exercise(bytes(data), 300)
        except BtfError:
            refused += 1
    assert refused  # some garbling is caught


def test_garbled_references() -> None:
    # A record pointing past the last type, and a typedef cycle, in minimal BTF.
    def btf_of(types: list[int], strings: bytes) -> bytes:
        body = b"".join(w.to_bytes(4, "little") for w in types)
        header = (
            (0xEB9F).to_bytes(2, "little")
            + bytes((1, 0))
            + (24).to_bytes(4, "little")
            + (0).to_bytes(4, "little")
            + len(body).to_bytes(4, "little")
            + len(body).to_bytes(4, "little")
            + len(strings).to_bytes(4, "little")
        )
        return header + body + strings

    strings = b"\0a\0b\0"
    typedef = BtfKind.TYPEDEF << 24
    past_end = btf_of([1, typedef, 99], strings)
    btf = parse_btf(past_end)
    with pytest.raises(BtfError):
        btf.check_references()
    prog = drgn.Program(drgn.host_platform)
    with pytest.raises(BtfError):
        BtfTypeConverter(prog, btf).type(1)
    cycle = btf_of([1, typedef, 2, 3, typedef, 1], strings)
    with pytest.raises(BtfError, match="refers to itself"):
        BtfTypeConverter(prog, parse_btf(cycle)).type(1)
    with pytest.raises(BtfError, match="unknown kind"):
        parse_btf(btf_of([1, 31 << 24, 0], strings))
    with pytest.raises(BtfError, match="name offset"):
        parse_btf(btf_of([1000, typedef, 0], strings))


@pytest.mark.parametrize(
    "vmlinuz",
    sorted(CACHE.glob("kernels/*/vmlinuz")) or [pytest.param(None, marks=pytest.mark.skip)],
    ids=lambda p: p.parent.name if p else "none",
)
def test_vmlinuz_of_every_cached_kernel(vmlinuz: Path) -> None:
    # xz (6.1) and zstd (6.12) payloads; the BTF is whole and its build ID right.
    data, build_id = read_btf_file(vmlinuz)
    btf = parse_btf(data)
    assert len(btf) > 10_000
    assert btf.find("task_struct", (BtfKind.STRUCT,))
    recorded = vmlinuz.parent / "build-id"
    if recorded.is_file():
        assert build_id == recorded.read_text().strip()
