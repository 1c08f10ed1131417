"""The declaration table against the DWARF of every corpus kernel."""

from __future__ import annotations

import drgn
import pytest
from corpus import CorpusDump
from test_btf_tier import btf_program, dwarf_program

from ktriage.symbols.declarations import DECLARATIONS, LENGTH_RULES, declaration


def test_table_sorted_and_unique() -> None:
    names = [d.name for d in DECLARATIONS]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for decl in DECLARATIONS:
        assert decl.type
        if isinstance(decl.length, str) and decl.length.startswith("@"):
            assert decl.length in LENGTH_RULES
        assert declaration(decl.name) is decl


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
        if got_type.type_name() != expected_type.type_name():
            wrong.append((decl.name, got_type.type_name(), expected_type.type_name()))
        elif got_type.is_complete() and drgn.sizeof(got_type) != drgn.sizeof(expected_type):
            wrong.append((decl.name, drgn.sizeof(got_type), drgn.sizeof(expected_type)))
    assert not wrong
    assert checked > 80


def test_per_cpu_variables_from_btf(vmlinux_dump: CorpusDump) -> None:
    # Not declared: BTF has VAR records for per-CPU variables.
    assert vmlinux_dump.vmlinux is not None
    btf, _ = btf_program(vmlinux_dump.dump)
    dwarf = dwarf_program(vmlinux_dump.dump, vmlinux_dump.vmlinux)
    for name in ("runqueues", "hrtimer_bases", "vm_event_states", "cpu_number"):
        try:
            expected = dwarf.variable(name)
        except LookupError:
            continue
        got = btf.variable(name)
        assert declaration(name) is None
        assert got.type_.type_name() == expected.type_.type_name()
        assert got.address_ == expected.address_
