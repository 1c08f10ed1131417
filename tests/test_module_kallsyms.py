"""Module kallsyms: the lazy per-module finder answers as the index of them all."""

from __future__ import annotations

from collections import Counter

import drgn
import pytest
from corpus import CorpusDump

from ktriage.source.open import open_program
from ktriage.symbols.kallsyms import module_symbol_index


def _key(symbols: list[drgn.Symbol]) -> list[tuple[str, int, int]]:
    return [(s.name, s.address, s.size) for s in symbols]


def test_lazy_module_lookups_match_the_full_index(crash_dump: CorpusDump) -> None:
    from ktriage.symbols.btf_tier import load_btf_tier

    prog = open_program(crash_dump.dump)
    load_btf_tier(prog)
    lazy = module_symbol_index(prog)
    full = module_symbol_index(prog).index()
    every = list(full(prog, None, None, False))
    if not every:
        pytest.skip("no module symbols in this dump")
    assert len(lazy) == len(every)
    addresses = set()
    for symbol in every:
        addresses.update((symbol.address, symbol.address + 1, symbol.address + symbol.size))
        addresses.add(symbol.address + max(symbol.size, 1) - 1)
    addresses.update((0, 1, min(addresses) - 1, max(addresses) + 1, 0xFFFFFFFFFFFFFFFF))
    for address in sorted(addresses):
        for one in (True, False):
            assert _key(lazy(prog, None, address, one)) == _key(full(prog, None, address, one)), (
                hex(address),
                one,
            )
    # Only the modules that were asked about were decoded, until a name lookup.
    some = every[len(every) // 2]
    fresh = module_symbol_index(prog)
    assert _key(fresh(prog, None, some.address, False)) == _key(
        full(prog, None, some.address, False)
    )
    assert fresh._all is None
    # By name: the same symbols (drgn's index leaves the order of namesakes open;
    # the finder gives them in address order).
    counts = Counter(s.name for s in every)
    names = [name for name, n in sorted(counts.items()) if n > 1] + sorted(counts)[::20]
    for name in [*names, "__start_orc_header", "no_such_symbol"]:
        mine = fresh(prog, name, None, False)
        assert sorted(_key(mine)) == sorted(_key(full(prog, name, None, False))), name
        assert [s.address for s in mine] == sorted(s.address for s in mine)
        assert _key(fresh(prog, name, None, True)) == _key(mine[:1])
    assert _key(fresh(prog, None, None, False)) == _key(every)
