"""The declaration table against the DWARF of every corpus kernel."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

import drgn
import pytest
from corpus import CACHE, CorpusDump
from test_btf_tier import btf_program, dwarf_program

from ktriage.symbols.btf import BtfKind, BtfTypeConverter, parse_btf
from ktriage.symbols.btf_tier import GlobalFinder, _read_vmlinux_btf
from ktriage.symbols.declarations import DECLARATIONS, LENGTH_RULES, declaration

X86_64 = drgn.Platform(
    drgn.Architecture.X86_64, drgn.PlatformFlags.IS_64_BIT | drgn.PlatformFlags.IS_LITTLE_ENDIAN
)


def test_table_sorted_and_unique() -> None:
    names = [d.name for d in DECLARATIONS]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for decl in DECLARATIONS:
        assert decl.type
        if isinstance(decl.length, str) and decl.length.startswith("@"):
            assert decl.length in LENGTH_RULES
        assert declaration(decl.name) is decl


def _same(got: drgn.Type, expected: drgn.Type) -> bool:
    # Same name, or the same once typedefs are seen through (6.12 declares
    # node_data with struct pglist_data * where 6.1 said pg_data_t *).
    if got.type_name() == expected.type_name():
        return True
    return _canonical(got) == _canonical(expected)


def _canonical(type_: drgn.Type) -> str:
    while type_.kind == drgn.TypeKind.TYPEDEF:
        type_ = type_.type
    if type_.kind == drgn.TypeKind.POINTER:
        return _canonical(type_.type) + " *"
    if type_.kind == drgn.TypeKind.ARRAY:
        return f"{_canonical(type_.type)} [{type_.length}]"
    return str(type_.unqualified().type_name())


def _strip_array(type_: drgn.Type) -> drgn.Type:
    return type_.type if type_.kind == drgn.TypeKind.ARRAY else type_


def test_declarations_match_dwarf(vmlinux_dump: CorpusDump) -> None:
    assert vmlinux_dump.vmlinux is not None
    btf, _ = btf_program(vmlinux_dump.dump)
    dwarf = dwarf_program(vmlinux_dump.dump, vmlinux_dump.vmlinux)
    checked = 0
    wrong = []
    for decl in DECLARATIONS:
        try:
            expected = dwarf.variable(decl.name)
        except LookupError:
            # Not in this kernel (renamed, other config): absent on the BTF tier too.
            try:
                btf.symbol(decl.name)
            except LookupError:
                continue
            pytest.fail(f"{decl.name} is in kallsyms but not in DWARF")
        got = btf.variable(decl.name)
        checked += 1
        if got.address_ != expected.address_:
            wrong.append((decl.name, "address", hex(got.address_ or 0)))
        if decl.array and decl.length is None:
            # Declared incomplete on purpose: the element type must still match.
            assert got.type_.kind == drgn.TypeKind.ARRAY and got.type_.length is None
            got_type, expected_type = _strip_array(got.type_), _strip_array(expected.type_)
        else:
            got_type, expected_type = got.type_, expected.type_
        # Top-level const is not declared (it varies by version, reads the same).
        got_type, expected_type = got_type.unqualified(), expected_type.unqualified()
        if not _same(got_type, expected_type):
            wrong.append((decl.name, got_type.type_name(), expected_type.type_name()))
        elif got_type.is_complete() and drgn.sizeof(got_type) != drgn.sizeof(expected_type):
            wrong.append((decl.name, drgn.sizeof(got_type), drgn.sizeof(expected_type)))
    assert not wrong
    assert checked > 80


def test_per_cpu_variables_from_btf(vmlinux_dump: CorpusDump) -> None:
    # BTF has VAR records for per-CPU variables, except from older pahole (Debian's
    # 5.10 has none): then only the declared ones (runqueues, which drgn's task
    # helpers need) are found.
    assert vmlinux_dump.vmlinux is not None
    btf, _ = btf_program(vmlinux_dump.dump)
    dwarf = dwarf_program(vmlinux_dump.dump, vmlinux_dump.vmlinux)
    undeclared = ("hrtimer_bases", "vm_event_states", "cpu_number")
    found = 0
    for name in ("runqueues", *undeclared):
        try:
            expected = dwarf.variable(name)
        except LookupError:
            continue
        try:
            got = btf.variable(name)
        except LookupError:
            assert name in undeclared
            continue
        found += name in undeclared
        assert got.type_.type_name() == expected.type_.type_name()
        assert got.address_ == expected.address_
    assert declaration("runqueues") is not None
    btf_data = parse_btf(_read_vmlinux_btf(btf))
    assert found or not any(btf_data.kind(i) == BtfKind.VAR for i in range(1, len(btf_data)))


def _kernels() -> list[Path]:
    return sorted(CACHE.glob("kernels/*/vmlinux"))


@cache
def _dwarf_only(vmlinux: Path) -> drgn.Program:
    # No dump: a kernel program with just enough VMCOREINFO to load DWARF.
    prog = drgn.Program(X86_64)
    vmcoreinfo = (
        f"OSRELEASE={vmlinux.parent.name}\nPAGESIZE=4096\nKERNELOFFSET=0\n"
        "SYMBOL(swapper_pg_dir)=ffffffff82a0a000\n"
    )
    prog.set_linux_kernel_custom(vmcoreinfo.encode(), False)
    prog.load_debug_info([str(vmlinux)])
    return prog


@cache
def _btf_only(vmlinux: Path, tmp: Path) -> tuple[drgn.Program, GlobalFinder]:
    section = tmp / f"{vmlinux.parent.name}.btf"
    subprocess.run(
        ["objcopy", "-O", "binary", "--only-section=.BTF", str(vmlinux), str(section)],
        check=True,
    )
    prog = drgn.Program(X86_64)
    converter = BtfTypeConverter(prog, parse_btf(section.read_bytes()))
    finder = GlobalFinder(converter)
    prog.register_type_finder("btf", converter.type_finder, enable_index=0)
    prog.register_object_finder("btf", finder, enable_index=0)
    return prog, finder


@pytest.mark.skipif(shutil.which("objcopy") is None, reason="no objcopy (binutils)")
@pytest.mark.parametrize("vmlinux", _kernels(), ids=lambda p: p.parent.name)
def test_declarations_match_dwarf_of_every_kernel(
    vmlinux: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each kernel in the cache, dump or not: BTF from its .BTF section."""
    dwarf = _dwarf_only(vmlinux)
    btf, finder = _btf_only(vmlinux, tmp_path_factory.mktemp("btf"))
    checked = 0
    wrong = []
    for decl in DECLARATIONS:
        try:
            expected = dwarf.variable(decl.name).type_.unqualified()
        except LookupError:
            continue
        got = finder.declared_type(btf, decl, None)
        checked += 1
        if got is None:
            wrong.append((decl.name, None, expected.type_name()))
            continue
        got = got.unqualified()
        if decl.array and (decl.length is None or str(decl.length).startswith("@")):
            # Incomplete, or a length read from memory: element types must match.
            got, expected = _strip_array(got), _strip_array(expected)
        if not _same(got, expected):
            wrong.append((decl.name, got.type_name(), expected.type_name()))
        elif got.is_complete() and drgn.sizeof(got) != drgn.sizeof(expected):
            wrong.append((decl.name, drgn.sizeof(got), drgn.sizeof(expected)))
    assert not wrong
    assert checked > 80
