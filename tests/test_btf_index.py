"""
The sorted string index saved with the BTF cache: lookups by name through it
answer as the string section searched and indexed in memory does.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
from corpus import CorpusDump, all_dumps

from ktriage.source.open import open_program
from ktriage.symbols.btf import NAMED_KINDS, Btf, BtfError, BtfKind, BtfTypeRecord, parse_btf
from ktriage.symbols.btf_tier import load_btf_tier

# Structures whose every member name is looked up.
STRUCTS = ("task_struct", "mm_struct", "module", "timekeeper", "rq", "page", "sk_buff")


def first_dump(crash_dump: CorpusDump) -> CorpusDump:
    if crash_dump.name != all_dumps()[0].name:
        pytest.skip("checked on the first dump only")
    return crash_dump


@lru_cache(maxsize=1)
def cached_btf(dump: Path, directory: Path) -> tuple[bytes, bytes]:
    """The vmlinux BTF and its index as the BTF tier keeps them in *directory*."""
    load_btf_tier(open_program(dump), cache_dir=directory)
    (raw,) = directory.glob("*.btf")
    (index,) = directory.glob("*.idx")
    assert raw.stem == index.stem
    return raw.read_bytes(), index.read_bytes()


@pytest.fixture(scope="module")
def btf_files(
    crash_dump: CorpusDump, tmp_path_factory: pytest.TempPathFactory
) -> tuple[bytes, bytes]:
    first_dump(crash_dump)
    return cached_btf(crash_dump.dump, tmp_path_factory.mktemp("btf-cache"))


@lru_cache(maxsize=1)
def records(data: bytes) -> tuple[BtfTypeRecord, ...]:
    return tuple(parse_btf(data))


def sample_names(btf: Btf, recs: tuple[BtfTypeRecord, ...]) -> tuple[list[str], list[str]]:
    """Every type name, and a sample of names to look up every way."""
    type_names = sorted({r.name for r in recs if r.name})
    enumerators: set[str] = set()
    members: set[str] = set()
    for rec in recs:
        if rec.kind in (BtfKind.ENUM, BtfKind.ENUM64):
            enumerators.update(btf.string(item[0]) for item in rec.items)
        elif rec.kind in (BtfKind.STRUCT, BtfKind.UNION) and rec.name in STRUCTS:
            members.update(btf.string(item[0]) for item in rec.items)
    members.discard("")
    present = sorted({*type_names[::8], *sorted(enumerators)[::8], *members})
    absent = [
        "no_such_type",
        "task_struct_",
        "_task_struct",
        "task_struc",
        "TASK_STRUCT",
        "\u00e9t\u00e9",
        "\U0001f600",
        "zzzzzzzzzzzz",
        "0",
        " ",
    ]
    absent += [name + "_x" for name in present[::10]]
    absent += [name[:-1] for name in present[::10] if len(name) > 1]
    absent += ["x" + name for name in present[::10]]
    return type_names, present + absent


def test_index_holds_the_sorted_strings(btf_files: tuple[bytes, bytes]) -> None:
    data, index = btf_files
    indexed = parse_btf(data, index=index)
    plain = parse_btf(data)
    assert indexed._sorted_strings is not None
    assert plain._sorted_strings is None
    # The saved order is the one computed afresh, and is the strings' byte order.
    assert indexed._sorted_strings == plain._sort_strings()
    order = indexed._sorted_strings
    strings = [indexed._string_at(offset) for offset in order]
    assert strings == sorted(strings)
    assert len(order) == indexed.strings.count(b"\0")
    assert len(set(order)) == len(order)


def test_lookups_agree(btf_files: tuple[bytes, bytes]) -> None:
    data, index = btf_files
    indexed = parse_btf(data, index=index)
    plain = parse_btf(data)
    type_names, sample = sample_names(plain, records(data))
    assert len(type_names) > 10_000 and len(sample) > 5_000
    # The plain BTF searches its string section for the first lookups and indexes
    # it whole after: both ways are compared.
    wrong = []
    for name in sample:
        got = (indexed._name_offsets(name), indexed.find(name), indexed.find_enumerator(name))
        expected = (plain._name_offsets(name), plain.find(name), plain.find_enumerator(name))
        if got != expected:
            wrong.append((name, got, expected))
    assert wrong == []
    wrong = [n for n in type_names if indexed.find(n) != plain.find(n)]
    assert wrong == []
    assert plain._string_offsets is not None
    # The indexed BTF never searched or indexed its string section.
    assert indexed._string_offsets is None and indexed._lookups == 0
    # Every name of a kind looked up by name is found.
    named = sorted({r.name for r in records(data) if r.name and r.kind in NAMED_KINDS})
    assert all(indexed.find(name) for name in named[::37])
    assert indexed.find("task_struct") and indexed.find_enumerator("TASK_COMM_LEN")
    assert indexed.find("no_such_type") == [] and indexed.find("") == []
    assert indexed.find_enumerator("no_such_enumerator") == []


def test_empty_string(btf_files: tuple[bytes, bytes]) -> None:
    # Offset 0 is "": what anonymous types are named with.
    data, index = btf_files
    indexed = parse_btf(data, index=index)
    assert indexed._name_offsets("")[:1] == [0]
    assert indexed.find("") == [] and indexed.find_enumerator("") == []


def test_find_anonymous_agrees(btf_files: tuple[bytes, bytes]) -> None:
    data, index = btf_files
    indexed = parse_btf(data, index=index)
    plain = parse_btf(data)
    members = ["seq", "timekeeper"]  # tk_core
    found = indexed.find_anonymous(BtfKind.STRUCT, members)
    assert found
    assert found == plain.find_anonymous(BtfKind.STRUCT, members)
    for type_id in found:
        rec = indexed.record(type_id)
        assert rec.name == "" and rec.kind == BtfKind.STRUCT
        assert [indexed.string(item[0]) for item in rec.items] == members
    assert indexed.find_anonymous(BtfKind.UNION, members) == plain.find_anonymous(
        BtfKind.UNION, members
    )
    assert indexed.find_anonymous(BtfKind.STRUCT, ["seq", "no_such_member"]) == []


def test_index_of_other_bytes_is_refused(btf_files: tuple[bytes, bytes]) -> None:
    data, index = btf_files
    plain = parse_btf(data)
    # Change one letter of a type name: still valid BTF, but not the indexed bytes.
    offset = plain._name_offsets("task_struct")[0]
    at = len(data) - len(plain.strings) + offset
    assert data[at : at + 11] == b"task_struct"
    changed = data[:at] + b"T" + data[at + 1 :]
    with pytest.raises(BtfError, match="not for these bytes"):
        parse_btf(changed, index=index)
    assert parse_btf(changed).find("Task_struct")
    with pytest.raises(BtfError):
        parse_btf(data, index=index[: len(index) // 2])


def test_damaged_index_is_refused(btf_files: tuple[bytes, bytes]) -> None:
    # One flipped byte anywhere in the index (here: in the sorted strings at its
    # end, which bounds checks alone would let through) makes it unusable.
    data, index = btf_files
    for at in (len(index) // 3, len(index) - 5):
        damaged = bytearray(index)
        damaged[at] ^= 0x01
        with pytest.raises(BtfError, match="not for these bytes"):
            parse_btf(data, index=bytes(damaged))
