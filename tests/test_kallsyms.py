"""kallsyms from the dump against the vmlinux ELF symbol table."""

from __future__ import annotations

from pathlib import Path

import drgn
import pytest
from corpus import CorpusDump
from test_btf_tier import dwarf_program

from ktriage.errors import DebuginfoError
from ktriage.source.open import open_program
from ktriage.symbols.kallsyms import load_kallsyms, load_module_symbols


def test_vmlinux_symbols_match_elf(vmlinux_dump: CorpusDump) -> None:
    assert vmlinux_dump.vmlinux is not None
    prog = open_program(vmlinux_dump.dump)
    info = load_kallsyms(prog)
    dwarf = dwarf_program(vmlinux_dump.dump, vmlinux_dump.vmlinux)
    assert info.count > 10_000
    assert info.text == (dwarf.symbol("_text").address, dwarf.symbol("_end").address)
    assert info.per_cpu_end == dwarf.symbol("__per_cpu_end").address
    for name in ("panic", "schedule", "init_task", "jiffies", "do_syscall_64", "runqueues"):
        assert prog.symbol(name).address == dwarf.symbol(name).address, name
    # Every function in a stretch of text gets the ELF symbol's name and start.
    start = dwarf.symbol("schedule").address
    for address in range(start - 0x2000, start + 0x2000, 0x40):
        expected = dwarf.symbol(address)
        if expected.size == 0 or expected.kind != drgn.SymbolKind.FUNC:
            continue
        got = prog.symbol(address)
        assert (got.name, got.address) == (expected.name, expected.address)


def test_per_cpu_offsets_do_not_name_small_numbers(crash_dump: CorpusDump) -> None:
    prog = open_program(crash_dump.dump)
    info = load_kallsyms(prog)
    if not info.per_cpu_end:
        pytest.skip("per-CPU symbols are not zero-based in this kernel")
    for address in (0, 1, 0x10, 0x1000, info.per_cpu_end - 1):
        with pytest.raises(LookupError):
            prog.symbol(address)
    assert prog.symbol("__per_cpu_start").address == 0


def test_module_symbols(crash_dump: CorpusDump) -> None:
    from ktriage.symbols.btf_tier import load_btf_tier

    prog = open_program(crash_dump.dump)
    info = load_btf_tier(prog)
    if "lkdtm" not in info.modules:
        pytest.skip("lkdtm not loaded in this dump")
    assert info.module_symbols > 100
    symbol = prog.symbol("lkdtm_BUG")
    assert prog.symbol(symbol.address + 1).name == "lkdtm_BUG"
    module = prog.module(symbol.address)
    assert module.name == "lkdtm"


def test_no_kallsyms_is_a_clear_error(crash_dump: CorpusDump) -> None:
    # A program on no dump has no VMCOREINFO: a DebuginfoError, not a traceback.
    del crash_dump
    prog = drgn.Program(drgn.host_platform)
    with pytest.raises(DebuginfoError):
        load_kallsyms(prog)
    with pytest.raises((DebuginfoError, LookupError, ValueError)):
        load_module_symbols(prog)


def test_big_objects_are_found(vmlinux_dump: CorpusDump) -> None:
    # drgn's kallsyms index leaves symbols 64 KiB or more long without a size.
    assert vmlinux_dump.vmlinux is not None
    prog = open_program(vmlinux_dump.dump)
    load_kallsyms(prog)
    dwarf = dwarf_program(vmlinux_dump.dump, vmlinux_dump.vmlinux)
    big = [
        s
        for s in dwarf.symbols()
        if s.size >= 0x10000 and s.kind == drgn.SymbolKind.OBJECT and s.address >> 63
    ]
    assert big
    checked = 0
    for symbol in big:
        try:
            found = prog.symbol(symbol.address + symbol.size - 8)
        except LookupError:
            continue  # kallsyms leaves some out (e.g. without CONFIG_KALLSYMS_ALL)
        assert found.address == symbol.address, symbol.name
        checked += 1
    assert checked > len(big) // 2


def test_every_symbol_as_drgns_own_loader(crash_dump: CorpusDump, tmp_path: Path) -> None:
    # ktriage decodes the tables itself (drgn's loader reads them a byte at a time);
    # every name, address, binding and kind must be what drgn's loader finds, from
    # the dump and again from the cache.
    from drgn.helpers.linux.kallsyms import load_vmlinux_kallsyms

    reference = drgn.Program()
    reference.set_core_dump(str(crash_dump.dump))
    expected = load_vmlinux_kallsyms(reference)(reference, None, None, False)
    for _ in range(2):  # decoded, then cached
        prog = open_program(crash_dump.dump)
        info = load_kallsyms(prog, tmp_path)
        got = prog.symbols()
        assert info.count == len(expected) == len(got)
        for mine, theirs in zip(got, expected, strict=True):
            assert (mine.name, mine.address, mine.binding, mine.kind) == (
                theirs.name,
                theirs.address,
                theirs.binding,
                theirs.kind,
            )
