"""The vmlinux symbol index finds the sized symbol drgn finds for an address."""

from __future__ import annotations

import random

import drgn
from corpus import CorpusDump
from test_btf_tier import dwarf_program

from ktriage.source.symindex import ElfSymbolIndex


def _index(dump: CorpusDump) -> tuple[drgn.Program, list[drgn.Symbol], ElfSymbolIndex]:
    assert dump.vmlinux is not None
    prog = dwarf_program(dump.dump, dump.vmlinux)
    symbols = prog.symbols()
    start, end = prog.symbol("_text").address, prog.symbol("_end").address
    return prog, symbols, ElfSymbolIndex.from_symbols(symbols, start, end)


def test_index_agrees_with_drgn(vmlinux_dump: CorpusDump) -> None:
    prog, symbols, index = _index(vmlinux_dump)
    start, end = index.start, index.end
    rng = random.Random(vmlinux_dump.name)
    inside = [s for s in symbols if start <= s.address < end]
    addresses = [rng.randrange(start, end) for _ in range(200)]
    for symbol in rng.sample(inside, 200):
        addresses += [symbol.address, symbol.address + 1, symbol.address + max(symbol.size, 1) - 1]
    mismatches = []
    for address in addresses:
        try:
            expected = prog.symbol(address)
        except LookupError:
            expected = None
        got = index.containing(address)
        if got is None and (expected is None or not expected.size):
            continue  # no sized symbol: the session asks drgn
        if got != expected:
            mismatches.append((hex(address), expected, got))
    assert not mismatches, mismatches[:5]
    assert not index.covers(start - 1) and index.covers(start) and not index.covers(end)


def test_labels_inside_assembler_symbols(vmlinux_dump: CorpusDump) -> None:
    # crash names a PC in entry code after the label before it
    # (entry_SYSCALL_64_after_hwframe inside entry_SYSCALL_64).
    prog, symbols, index = _index(vmlinux_dump)
    start, end = index.start, index.end
    ignored = (drgn.SymbolKind.SECTION, drgn.SymbolKind.FILE, drgn.SymbolKind.TLS)
    labels = [
        (s.address, i, s)
        for i, s in enumerate(symbols)
        if not s.size and start <= s.address < end and s.kind not in ignored
    ]
    assembler = [s for s in symbols if s.size and s.kind == drgn.SymbolKind.UNKNOWN]
    entry = prog.symbol("entry_SYSCALL_64")
    assert entry in assembler
    checked = 0
    for symbol in [entry, *random.Random(1).sample(assembler, 10)]:
        for address in (symbol.address + 1, symbol.address + symbol.size - 1):
            inside = [(a, i, s) for a, i, s in labels if symbol.address < a <= address]
            expected = max(inside, key=lambda t: (t[0], t[1]))[2] if inside else None
            assert index.label_in(symbol.address, address) == expected
            checked += expected is not None
    assert checked  # entry_SYSCALL_64 has labels inside


def test_saved_index_answers_the_same(vmlinux_dump: CorpusDump) -> None:
    # What a later dump of the same build loads instead of listing the symbols.
    _prog, symbols, index = _index(vmlinux_dump)
    data = index.dumps()
    loaded = ElfSymbolIndex.loads(data, index.start)
    assert loaded is not None
    assert (loaded.start, loaded.end) == (index.start, index.end)
    rng = random.Random(vmlinux_dump.name)
    for symbol in rng.sample(symbols, 300):
        for address in (symbol.address, symbol.address + 1, symbol.address + symbol.size):
            assert loaded.containing(address) == index.containing(address)
            assert loaded.label_in(symbol.address, address) == index.label_in(
                symbol.address, address
            )
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0x01
    assert ElfSymbolIndex.loads(bytes(damaged), index.start) is None
    assert ElfSymbolIndex.loads(data[:100], index.start) is None
    # Another KASLR slide: the same symbols, moved.
    slide = 0x2000000
    moved = ElfSymbolIndex.loads(data, index.start + slide)
    assert moved is not None
    for symbol in rng.sample(symbols, 100):
        if index.covers(symbol.address):
            found = index.containing(symbol.address)
            shifted = moved.containing(symbol.address + slide)
            if found is None:
                assert shifted is None
            else:
                assert shifted is not None
                assert (shifted.name, shifted.address) == (found.name, found.address + slide)
