"""The vmlinux symbol index finds the sized symbol drgn finds for an address."""

from __future__ import annotations

import random

from corpus import CorpusDump
from test_btf_tier import dwarf_program

from ktriage.source.symindex import ElfSymbolIndex


def test_index_agrees_with_drgn(vmlinux_dump: CorpusDump) -> None:
    assert vmlinux_dump.vmlinux is not None
    prog = dwarf_program(vmlinux_dump.dump, vmlinux_dump.vmlinux)
    start, end = prog.symbol("_text").address, prog.symbol("_end").address
    symbols = prog.symbols()
    index = ElfSymbolIndex(symbols, start, end)
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
