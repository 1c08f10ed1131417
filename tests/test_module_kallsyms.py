"""Module kallsyms: the lazy per-module finder answers as the index of them all."""

from __future__ import annotations

import shutil
import struct
from collections import Counter
from pathlib import Path

import drgn
import pytest
from corpus import CorpusDump, shared_dumps

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


def _drop_pages(source: Path, target: Path, pfns: set[int]) -> int:
    # A copy of a compressed kdump file without some pages, as makedumpfile writes
    # pages it filtered out: their bits cleared in the second bitmap (the pages in
    # the file) and their descriptors gone (diskdump_mod.h). Returns pages dropped.
    shutil.copyfile(source, target)
    with target.open("r+b") as file:
        header = file.read(464)
        block_size, sub_header_blocks, bitmap_blocks = struct.unpack_from("<iiI", header, 428)
        half = bitmap_blocks * block_size // 2
        bitmap_at = (1 + sub_header_blocks) * block_size + half
        file.seek(bitmap_at)
        bitmap = bytearray(file.read(half))
        descriptors = file.read(int.from_bytes(bitmap, "little").bit_count() * 24)
        kept = bytearray()
        index = dropped = 0
        for pfn in range(half * 8):
            if bitmap[pfn >> 3] & (1 << (pfn & 7)):
                if pfn in pfns:
                    bitmap[pfn >> 3] &= ~(1 << (pfn & 7)) & 0xFF
                    dropped += 1
                else:
                    kept += descriptors[index * 24 : index * 24 + 24]
                index += 1
        file.seek(bitmap_at)
        file.write(bitmap + kept)
    return dropped


def test_a_module_table_missing_from_the_dump_is_reported(tmp_path: Path) -> None:
    # The shared EXEC_KMALLOC dump crashed in the lkdtm module: without the pages
    # of lkdtm's kallsyms table, the analysis still runs and says what it lacks.
    from drgn.helpers.linux.mm import follow_phys
    from drgn.helpers.linux.module import find_module

    from ktriage.analyze import AnalyzeOptions, analyze_path
    from ktriage.symbols.btf_tier import load_btf_tier

    dumps = [d for d in shared_dumps() if d.scenario == "EXEC_KMALLOC" and d.format == "mkdf-c-d31"]
    if not dumps:
        pytest.skip("no shared EXEC_KMALLOC compressed dump")
    dump = dumps[0].dump
    prog = open_program(dump)
    load_btf_tier(prog)
    lkdtm = find_module(prog, "lkdtm")
    if not lkdtm:
        pytest.skip("lkdtm is built in")
    symtab = lkdtm.kallsyms.symtab.value_()
    pfns = {follow_phys(prog["init_mm"].address_of_(), symtab).value_() >> 12}
    damaged = tmp_path / "vmcore.damaged"
    assert _drop_pages(dump, damaged, pfns) == 1
    analysis = analyze_path(damaged, AnalyzeOptions(debuginfo="btf"))
    unreadable = analysis.facts.unreadable
    assert any(
        line.startswith("kallsyms of module lkdtm not in the dump") for line in unreadable
    ), unreadable
    intact = analyze_path(dump, AnalyzeOptions(debuginfo="btf"))
    assert not any("kallsyms of module" in line for line in intact.facts.unreadable)
    frames = [f.function for f in intact.facts.backtrace.frames]
    assert any(name and name.startswith("lkdtm_") for name in frames), frames
    frames = [f.function for f in analysis.facts.backtrace.frames]
    assert not any(name and name.startswith("lkdtm_") for name in frames), frames
