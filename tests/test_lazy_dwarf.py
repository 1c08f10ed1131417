"""
The DWARF tier with types from the dump's BTF first: drgn's DWARF finders (whose
first use indexes the whole DWARF) answer only what BTF lacks, and names the DWARF
does not have either are remembered per build (``ktriage.symbols.absent``).

That the report is the same as with every type from DWARF is checked in
test_analyze (``test_dwarf_tier_with_btf_types_is_the_dwarf_tier``).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import drgn
import pytest
from corpus import CorpusDump

from ktriage.analyze import AnalyzeOptions, collect_dump_facts, open_session
from ktriage.errors import DebuginfoError
from ktriage.source.open import open_program
from ktriage.symbols.absent import AbsentNames
from ktriage.symbols.btf import _gcc_int_name
from ktriage.symbols.btf_tier import load_btf_types


def test_every_spelling_of_an_integer_type_finds_gcc_name() -> None:
    words = {
        "char": ("char",),
        "signed char": ("signed", "char"),
        "unsigned char": ("unsigned", "char"),
        "short int": ("short",),
        "short unsigned int": ("unsigned", "short"),
        "int": ("int",),
        "unsigned int": ("unsigned",),
        "long int": ("long",),
        "long unsigned int": ("unsigned", "long"),
        "long long int": ("long", "long"),
        "long long unsigned int": ("unsigned", "long", "long"),
    }
    for gcc, base in words.items():
        optional = [()] if "char" in base else [(), ("int",)]
        signs = [()] if "unsigned" in base or base == ("char",) else [(), ("signed",)]
        if base == ("signed", "char"):
            signs = [()]
        for extra, sign in itertools.product(optional, signs):
            spelled = (*base, *extra, *sign)
            for order in itertools.permutations(spelled):
                assert _gcc_int_name(" ".join(order)) == gcc, order
    for name in ("", "struct page", "long double", "unsigned long *", "_Bool", "u64", "float"):
        assert _gcc_int_name(name) is None, name


def test_absent_names_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.absent"
    names = AbsentNames(path)
    names.types.add(("freelist_idx_t", 1 << 5))
    names.objects.add(("timekeeper_data", 7))
    names._save()
    again = AbsentNames(path)
    assert (again.types, again.objects) == (names.types, names.objects)
    # A damaged file is ignored whole: a flipped byte could name a present type.
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    assert (AbsentNames(path).types, AbsentNames(path).objects) == (set(), set())
    path.write_text("ktriage-absent 9 00000000\n")
    assert not AbsentNames(path).types
    assert not AbsentNames(tmp_path / "missing.absent").objects
    assert AbsentNames.key(["b" * 40]) == "b" * 40
    assert AbsentNames.key(["b" * 40, "a" * 40]) == AbsentNames.key(["a" * 40, "b" * 40])


def test_absent_names_leave_primitive_types_to_drgn(tmp_path: Path) -> None:
    """A C primitive type no finder has gets drgn's default type: it is never kept as
    absent, and a kept name answers "not found" from the file in the next program."""
    path = tmp_path / "x.absent"
    first = drgn.Program(drgn.host_platform)
    AbsentNames(path).install(first)
    assert first.type("long double").name == "long double"
    with pytest.raises(LookupError):
        first.type("struct no_such_type")
    kept = AbsentNames(path)
    assert {name for name, _ in kept.types} == {"no_such_type"}
    kept.types.add(("double", 1 << drgn.TypeKind.FLOAT.value))  # as an older file might
    second = drgn.Program(drgn.host_platform)
    kept.install(second)
    assert second.type("double").name == "double"
    with pytest.raises(LookupError, match="no_such_type"):
        second.type("struct no_such_type")


class _Probe:
    """Finders just before drgn's ``dwarf`` ones: every name that reaches them."""

    def __init__(self, prog: drgn.Program) -> None:
        self.asked: list[str] = []
        types, objects = prog.enabled_type_finders(), prog.enabled_object_finders()
        prog.register_type_finder("probe", self._type, enable_index=types.index("dwarf"))
        prog.register_object_finder("probe", self._object, enable_index=objects.index("dwarf"))

    def _type(
        self, prog: drgn.Program, kinds: drgn.TypeKindSet, name: str, filename: str | None
    ) -> None:
        self.asked.append(f"type {name}")

    def _object(
        self, prog: drgn.Program, name: str, flags: drgn.FindObjectFlags, filename: str | None
    ) -> None:
        self.asked.append(f"object {name}")


def _just_before_dwarf(prog: drgn.Program) -> None:
    # Move the probe finders right in front of drgn's "dwarf" ones again.
    for enabled, enable in (
        (prog.enabled_type_finders(), prog.set_enabled_type_finders),
        (prog.enabled_object_finders(), prog.set_enabled_object_finders),
    ):
        order = [name for name in enabled if name != "probe"]
        order.insert(order.index("dwarf"), "probe")
        enable(order)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_second_run_of_a_build_needs_no_dwarf_index(
    vmlinux_dump: CorpusDump, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After one analysis of a build, a whole analysis asks drgn's DWARF finders
    for no name: types and globals come from BTF, absent names from the file."""
    import ktriage.symbols.btf_tier as btf_tier

    options = AnalyzeOptions(
        vmlinux=vmlinux_dump.vmlinux, debuginfo="dwarf", debuginfod=False, cache_dir=cache / "d"
    )
    # The probe goes in as soon as the BTF finders do: the rest of loading (module
    # BTF, module debug files) must not ask the DWARF either.
    probes: list[_Probe] = []
    real = btf_tier.load_btf_types

    def probed(prog: drgn.Program, *args: Any, **kwargs: Any) -> btf_tier.BtfTypes:
        found = real(prog, *args, **kwargs)
        probes.append(_Probe(prog))
        return found

    monkeypatch.setattr(btf_tier, "load_btf_types", probed)
    for _run in range(2):
        session = open_session(vmlinux_dump.dump, options)
        _just_before_dwarf(session.prog)  # after the absent names' finders, if any
        facts = collect_dump_facts(session, vmlinux_dump.dmesg, options)
        assert facts.debuginfo.tier == "dwarf"
        assert facts.backtrace is not None and facts.backtrace.frames
    assert len(probes) == 2
    assert probes[-1].asked == []
    assert list((cache / "symindex").glob("*.absent"))


def test_names_kept_as_absent_are_absent_from_dwarf(vmlinux_dump: CorpusDump, cache: Path) -> None:
    """Every name the file keeps is one the DWARF itself does not have, and a
    program with the file answers it without asking the DWARF."""
    assert vmlinux_dump.vmlinux is not None
    build_id = _build_id(vmlinux_dump)
    path = cache / "symindex" / f"{build_id}.absent"
    if not path.exists():
        pytest.skip("no analysis of this build ran in this module")
    names = AbsentNames(path)
    full = open_program(vmlinux_dump.dump)
    full.load_debug_info([str(vmlinux_dump.vmlinux)])
    _assert_not_found(full, names)

    prog = open_program(vmlinux_dump.dump)
    prog.set_enabled_debug_info_finders([])
    prog.main_module(name="kernel", create=True).try_file(str(vmlinux_dump.vmlinux))
    load_btf_types(prog, build_id)
    AbsentNames(path).install(prog)
    probe = _Probe(prog)
    _assert_not_found(prog, names)
    assert probe.asked == []


# How a kinds bitmask of a type lookup is spelled in C (1 << TypeKind value).
_KEYWORDS = {
    1 << drgn.TypeKind.STRUCT.value: "struct ",
    1 << drgn.TypeKind.UNION.value: "union ",
    1 << drgn.TypeKind.ENUM.value: "enum ",
}


def _assert_not_found(prog: drgn.Program, names: AbsentNames) -> None:
    for name, kinds in names.types:
        with pytest.raises(LookupError):
            prog.type(_KEYWORDS.get(kinds, "") + name)
    for name, _ in names.objects:
        with pytest.raises(LookupError):
            prog.object(name)


def _build_id(dump: CorpusDump) -> str:
    from ktriage.source.ident import identify_details

    ident, _ = identify_details(dump.dump)
    assert ident.build_id is not None
    return ident.build_id


def test_a_dump_without_usable_btf_takes_every_type_from_dwarf(
    vmlinux_dump: CorpusDump, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the dump's BTF cannot be used (a kernel built without it, or a damaged
    one), the DWARF tier answers every name from DWARF and says so."""
    from ktriage.analyze import analyze_path
    from ktriage.symbols import btf_tier

    def no_btf(prog: drgn.Program, build_id: str | None, **kwargs: object) -> None:
        raise DebuginfoError("the kernel has no BTF (no __start_BTF in kallsyms)", "")

    monkeypatch.setattr(btf_tier, "load_btf_types", no_btf)
    options = AnalyzeOptions(vmlinux=vmlinux_dump.vmlinux, debuginfo="dwarf", debuginfod=False)
    analysis = analyze_path(vmlinux_dump.dump, options)
    notes = analysis.facts.debuginfo.notes
    assert any(n.startswith("types from DWARF: the dump's BTF is not usable") for n in notes)
    assert not any(n.startswith("types from the kernel's BTF") for n in notes)
    reference = analyze_path(
        vmlinux_dump.dump,
        AnalyzeOptions(
            vmlinux=vmlinux_dump.vmlinux, debuginfo="dwarf", debuginfod=False, dwarf_types=True
        ),
    )
    assert analysis.verdict == reference.verdict
    assert analysis.facts.backtrace == reference.facts.backtrace
    assert analysis.facts.tasks == reference.facts.tasks


def test_the_vmlinux_btf_is_the_dumps(vmlinux_dump: CorpusDump) -> None:
    """The DWARF tier reads the BTF from the vmlinux's ``.BTF`` section when it is not
    cached: the same bytes as the dump's ``__start_BTF`` .. ``__stop_BTF``."""
    from ktriage.symbols.btf_tier import _file_btf, _read_vmlinux_btf

    assert vmlinux_dump.vmlinux is not None
    prog = open_program(vmlinux_dump.dump)
    prog.set_enabled_debug_info_finders([])
    prog.main_module(name="kernel", create=True).try_file(str(vmlinux_dump.vmlinux))
    try:
        in_dump = _read_vmlinux_btf(prog)
    except (drgn.FaultError, DebuginfoError) as e:
        pytest.skip(f"the BTF is not in this dump: {e}")
    assert _file_btf(vmlinux_dump.vmlinux) == in_dump
