"""kallsyms from the dump against the vmlinux ELF symbol table."""

from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path

import drgn
import pytest
from corpus import CorpusDump, all_dumps
from test_btf_tier import dwarf_program

from ktriage.errors import DebuginfoError
from ktriage.packed import PackedStrings
from ktriage.source.open import open_program
from ktriage.source.printk import vmcoreinfo
from ktriage.symbols.kallsyms import (
    _load_cache,
    _name_order,
    _packed_names,
    _places_stext,
    _RelativeAddresses,
    _save_cache,
    _tokens,
    _vmcoreinfo_symbols,
    decode_names,
    load_kallsyms,
    load_module_symbols,
)
from ktriage.symbols.kallsyms_locate import locate_kallsyms


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
    from _drgn import _linux_helper_load_builtin_kallsyms
    from drgn.helpers.linux.kallsyms import load_vmlinux_kallsyms

    # Opened as ktriage opens it (QEMU's kdump format names no architecture).
    reference = open_program(crash_dump.dump)
    where = _vmcoreinfo_symbols(reference)
    if "kallsyms_names" in where:
        expected = load_vmlinux_kallsyms(reference)(reference, None, None, False)
    elif crash_dump.vmlinux is not None:
        # Before Linux 6.0: drgn's loader told where the tables are by the vmlinux.
        dwarf = dwarf_program(crash_dump.dump, crash_dump.vmlinux)
        names = ("names", "token_table", "token_index", "num_syms", "offsets", "relative_base")
        args = [dwarf.symbol(f"kallsyms_{name}").address for name in names]
        index = _linux_helper_load_builtin_kallsyms(reference, *args, 0, where["_stext"])
        expected = index(reference, None, None, False)
    else:
        pytest.skip("neither VMCOREINFO nor a vmlinux locates the tables")
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


# The names cache ---------------------------------------------------------------


def first_dump_only(dump: CorpusDump) -> None:
    if dump.name != all_dumps()[0].name:
        pytest.skip("checked on the first dump only")


def cache_file(directory: Path) -> Path:
    (path,) = directory.glob("*.kallsyms")
    return path


def offsets_crcs(prog: drgn.Program, count: int) -> set[int]:
    # What the cache's checked_offsets may be: the CRC-32 of the dump's offsets
    # table and whether its per-CPU entries are absolute.
    where = _vmcoreinfo_symbols(prog)
    raw = bytes(prog.read(where["kallsyms_offsets"], 4 * count))
    return {zlib.crc32(raw + bytes([absolute])) for absolute in (0, 1)}


class OrderChecks:
    """Counts the checks of the offsets' order (the real check runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = _RelativeAddresses.in_order

        def counted(addresses: _RelativeAddresses) -> bool:
            self.calls += 1
            return original(addresses)

        monkeypatch.setattr(_RelativeAddresses, "in_order", counted)


def test_cache_is_used_and_kept(
    crash_dump: CorpusDump, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_dump_only(crash_dump)
    checks = OrderChecks(monkeypatch)
    first = open_program(crash_dump.dump)
    info = load_kallsyms(first, tmp_path)
    path = cache_file(tmp_path)
    relative = "kallsyms_offsets" in _vmcoreinfo_symbols(first)
    assert checks.calls == int(relative)
    if relative:
        cached = _load_cache(path, info.count)
        assert cached is not None
        assert cached.checked_offsets in offsets_crcs(first, info.count)
    before = path.stat()
    content = path.read_bytes()
    second = open_program(crash_dump.dump)
    assert load_kallsyms(second, tmp_path) == info
    # Names from the cache, the order of the offsets not checked again, the file
    # left as it was.
    assert checks.calls == int(relative)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    expected = [(s.name, s.address) for s in first.symbols()]
    assert [(s.name, s.address) for s in second.symbols()] == expected
    assert len(expected) == info.count


def test_cache_with_other_offsets_checks_them(
    crash_dump: CorpusDump, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache that says another offsets table was checked: this dump's is checked
    # again and the cache says so afterwards.
    first_dump_only(crash_dump)
    prog = open_program(crash_dump.dump)
    info = load_kallsyms(prog, tmp_path)
    if "kallsyms_offsets" not in _vmcoreinfo_symbols(prog):
        pytest.skip("absolute kallsyms addresses: no offsets table")
    path = cache_file(tmp_path)
    cached = _load_cache(path, info.count)
    assert cached is not None
    real = cached.checked_offsets
    assert real in offsets_crcs(prog, info.count)
    _save_cache(path, dataclasses.replace(cached, checked_offsets=12345))
    stale = _load_cache(path, info.count)
    assert stale is not None and stale.checked_offsets == 12345
    assert list(stale.names) == list(cached.names)
    checks = OrderChecks(monkeypatch)
    again = open_program(crash_dump.dump)
    assert load_kallsyms(again, tmp_path) == info
    assert checks.calls == 1
    repaired = _load_cache(path, info.count)
    assert repaired is not None
    assert repaired.checked_offsets == real
    assert repaired.types == cached.types and repaired.order == cached.order
    assert list(repaired.names) == list(cached.names)
    for name in ("schedule", "panic", "_stext", "init_task"):
        assert again.symbol(name) == prog.symbol(name)
    # And a third load trusts the repaired cache.
    third = open_program(crash_dump.dump)
    load_kallsyms(third, tmp_path)
    assert checks.calls == 1


def test_cache_of_another_count_is_not_used(crash_dump: CorpusDump, tmp_path: Path) -> None:
    first_dump_only(crash_dump)
    prog = open_program(crash_dump.dump)
    info = load_kallsyms(prog, tmp_path)
    path = cache_file(tmp_path)
    assert _load_cache(path, info.count) is not None
    assert _load_cache(path, info.count + 1) is None
    assert _load_cache(path, info.count - 1) is None
    assert _load_cache(tmp_path / "missing.kallsyms", info.count) is None


def test_cached_names_behave_as_a_list(crash_dump: CorpusDump, tmp_path: Path) -> None:
    first_dump_only(crash_dump)
    prog = open_program(crash_dump.dump)
    info = load_kallsyms(prog, tmp_path)
    cached = _load_cache(cache_file(tmp_path), info.count)
    assert cached is not None
    names = cached.names
    assert isinstance(names, PackedStrings)
    # The names as decoded from the dump's tables, without the cache.
    where = _vmcoreinfo_symbols(prog)
    count, tokens = _tokens(prog, where)
    entries = decode_names(_packed_names(prog, where), count, tokens)
    fresh = [entry[1:] for entry in entries]
    assert cached.types == "".join(entry[0] for entry in entries)
    assert cached.order == _name_order(fresh)
    assert len(names) == len(fresh) == info.count
    assert list(names) == fresh
    assert names[0] == fresh[0] and names[-1] == fresh[-1]
    assert names[-len(fresh)] == fresh[0]
    for i in (1, 2, 1000, len(fresh) // 2, len(fresh) - 2):
        assert names[i] == fresh[i] and names[-i] == fresh[-i]
    for piece in (slice(3, 7), slice(-5, None), slice(None, 4), slice(10, 2), slice(0, 50, 7)):
        assert names[piece] == fresh[piece]
    assert names[len(fresh) - 3 : len(fresh) + 10] == fresh[len(fresh) - 3 :]
    assert names[::-1][:5] == fresh[::-1][:5]
    for out in (len(fresh), -len(fresh) - 1):
        with pytest.raises(IndexError):
            names[out]
    assert "schedule" in names and names.index("schedule") == fresh.index("schedule")


def _before_linux_6_0(prog: drgn.Program) -> dict[str, str]:
    # The dump's VMCOREINFO as kernels before 6.0 write it: no kallsyms lines
    # (installed where ktriage.source.printk.vmcoreinfo keeps the parsed text).
    info = {k: v for k, v in vmcoreinfo(prog).items() if not k.startswith("SYMBOL(kallsyms_")}
    prog.cache["ktriage_vmcoreinfo"] = info
    return info


def test_tables_are_found_without_vmcoreinfo(crash_dump: CorpusDump) -> None:
    # The tables found in kernel memory are those VMCOREINFO names, in both the
    # layout of 6.1 (offsets before the count; the 6.2 sequence numbers backported
    # between markers and tokens) and that of 6.12 (offsets after the token index);
    # on kernels before 6.0, whose VMCOREINFO does not name them, those of the
    # vmlinux's symbol table.
    prog = open_program(crash_dump.dump)
    where = _vmcoreinfo_symbols(prog)
    tables = {name: address for name, address in where.items() if name.startswith("kallsyms_")}
    if not tables:
        if crash_dump.vmlinux is None:
            pytest.skip("neither VMCOREINFO nor a vmlinux locates the tables")
        dwarf = dwarf_program(crash_dump.dump, crash_dump.vmlinux)
        names = ("num_syms", "names", "token_table", "token_index", "offsets", "relative_base")
        tables = {f"kallsyms_{n}": dwarf.symbol(f"kallsyms_{n}").address for n in names}
    others = {name: address for name, address in where.items() if name not in tables}
    found = locate_kallsyms(prog, others, _places_stext(prog))
    assert found is not None
    assert {name: found[name] for name in tables} == tables


def test_symbols_without_kallsyms_in_vmcoreinfo(crash_dump: CorpusDump, tmp_path: Path) -> None:
    # A whole BTF tier from tables found in memory: the same symbols, with a note.
    from ktriage.symbols.btf_tier import load_btf_tier

    reference = open_program(crash_dump.dump)
    if not any(name.startswith("kallsyms_") for name in _vmcoreinfo_symbols(reference)):
        pytest.skip("VMCOREINFO does not locate kallsyms: nothing to compare with")
    expected = load_kallsyms(reference, tmp_path / "a")
    prog = open_program(crash_dump.dump)
    _before_linux_6_0(prog)
    tier = load_btf_tier(prog, cache_dir=tmp_path / "b")
    assert any("kallsyms found by searching the kernel's memory" in n for n in tier.notes)
    info = load_kallsyms(prog)
    assert info == dataclasses.replace(expected, located=True)
    for name in ("_stext", "panic", "schedule", "init_task", "jiffies", "__per_cpu_end"):
        assert prog.symbol(name).address == reference.symbol(name).address, name
    stack = [frame.name for frame in prog.crashed_thread().stack_trace()]
    load_btf_tier(reference, cache_dir=tmp_path / "a")
    assert stack == [frame.name for frame in reference.crashed_thread().stack_trace()]
    assert len(stack) > 3


def test_no_tables_found_is_a_clear_error(crash_dump: CorpusDump) -> None:
    # VMCOREINFO without kallsyms lines and a _stext where nothing is: an error
    # saying what to do, not a wrong symbol table.
    first_dump_only(crash_dump)
    prog = open_program(crash_dump.dump)
    info = _before_linux_6_0(prog)
    info["SYMBOL(_stext)"] = f"{int(info['SYMBOL(_stext)'], 16) + 4096:x}"
    with pytest.raises(DebuginfoError, match="not found in the kernel's memory"):
        load_kallsyms(prog)


def test_where_tables_were_found_is_kept(
    crash_dump: CorpusDump, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The next dump of the build reads the tables where they were found; when they
    # are not there (a damaged memo, another build under the same key), it searches.
    import ktriage.symbols.kallsyms_locate as locate

    first_dump_only(crash_dump)
    first = open_program(crash_dump.dump)
    _before_linux_6_0(first)
    expected = load_kallsyms(first, tmp_path)
    (memo,) = tmp_path.glob("*.where")
    searches = []
    real = locate.locate_kallsyms
    monkeypatch.setattr(locate, "locate_kallsyms", lambda *a: searches.append(1) or real(*a))
    again = open_program(crash_dump.dump)
    _before_linux_6_0(again)
    assert load_kallsyms(again, tmp_path) == expected and searches == []
    memo.write_text('{"kallsyms_names": 4096, "kallsyms_token_table": 0}')
    damaged = open_program(crash_dump.dump)
    _before_linux_6_0(damaged)
    assert load_kallsyms(damaged, tmp_path) == expected and searches == [1]
    assert damaged.symbol("schedule").address == first.symbol("schedule").address


def test_build_fingerprint_is_one_per_build() -> None:
    # The key of where the tables were found: the same for every dump of a build
    # (KASLR and phys_base change with each boot), another for another build.
    from ktriage.symbols.kallsyms_locate import build_fingerprint

    keys: dict[str, set[str]] = {}
    for dump in all_dumps():
        info = vmcoreinfo(open_program(dump.dump))
        keys.setdefault(info["OSRELEASE"], set()).add(build_fingerprint(info))
    if len(keys) < 2:
        pytest.skip("needs dumps of two builds")
    assert all(len(found) == 1 for found in keys.values()), keys
    assert len(set.union(*keys.values())) == len(keys)
