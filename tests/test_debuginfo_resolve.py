"""Build IDs, local lookup, verification and advice, on the real vmlinux and dumps."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from corpus import SHARED_CORPUS, shared_dumps

from ktriage.errors import BadInputError, DebuginfoError
from ktriage.source.ident import identify
from ktriage.source.open import open_program
from ktriage.symbols.advice import advise
from ktriage.symbols.buildid import (
    dump_build_id,
    elf_identity,
    file_build_id,
    normalize_build_id,
    valid_build_id,
)
from ktriage.symbols.debuginfo import (
    missing_debuginfo_error,
    resolve_debuginfo,
    resolve_modules,
    resolve_vmlinux,
    standard_vmlinux_paths,
)

_DUMPS = [d for d in shared_dumps() if d.vmlinux is not None]
LKDTM = SHARED_CORPUS / "6.1.0-56-amd64" / "lkdtm.ko"

needs_vmlinux = pytest.mark.skipif(not _DUMPS, reason="no corpus dump with its vmlinux here")


@pytest.fixture(scope="module")
def dump():
    """A real dump, its VMCOREINFO build ID and release, and its vmlinux."""
    d = _DUMPS[0]
    ident = identify(d.dump)
    assert ident.build_id and ident.release == d.release
    return d, ident.release, normalize_build_id(ident.build_id)


def _readelf_build_id(path: Path) -> str:
    if shutil.which("readelf") is None:
        pytest.skip("binutils readelf is not installed")
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if "Build ID:" in line:
            return line.split("Build ID:")[1].strip()
    raise AssertionError(f"readelf found no build ID in {path}")


# --- build IDs ---------------------------------------------------------------------------


@needs_vmlinux
def test_vmlinux_build_id_equals_dump_vmcoreinfo_and_readelf(dump):
    d, _release, build_id = dump
    started = time.perf_counter()
    got = file_build_id(d.vmlinux)
    elapsed = time.perf_counter() - started
    assert got == build_id
    assert got == _readelf_build_id(d.vmlinux)
    assert elapsed < 0.5, f"reading the build ID took {elapsed:.3f} s: it must read headers only"
    ident = elf_identity(d.vmlinux)
    assert ident.has_debug_info and ident.has_symtab


@pytest.mark.skipif(not LKDTM.is_file(), reason="no lkdtm.ko in the corpus")
def test_module_build_id_equals_readelf():
    assert file_build_id(LKDTM) == _readelf_build_id(LKDTM)
    assert elf_identity(LKDTM).has_debug_info


def test_stripped_binary_has_build_id_but_no_debug_info():
    ls = Path(shutil.which("ls") or "/bin/ls").resolve()
    ident = elf_identity(ls)
    assert ident.build_id == _readelf_build_id(ls)
    assert not ident.has_debug_info


def test_not_elf_and_truncated_are_bad_input(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an ELF file\n")
    with pytest.raises(BadInputError, match="is not an ELF file"):
        file_build_id(text)
    with pytest.raises(BadInputError, match="cannot read"):
        file_build_id(tmp_path / "missing")
    if not LKDTM.is_file():
        pytest.skip("no lkdtm.ko in the corpus")
    truncated = tmp_path / "lkdtm-truncated.ko"
    truncated.write_bytes(LKDTM.read_bytes()[:4096])
    with pytest.raises(BadInputError, match="truncated or corrupt"):
        file_build_id(truncated)


def test_compressed_vmlinuz_is_named():
    images = sorted(Path("/boot").glob("vmlinuz-*"))
    if not images:
        pytest.skip("no /boot/vmlinuz-* on this machine")
    with pytest.raises(BadInputError, match=r"compressed kernel image \(vmlinuz\)"):
        file_build_id(images[0])


def test_normalize_build_id():
    assert normalize_build_id("EB:4F:BC:D0") == "eb4fbcd0"
    with pytest.raises(ValueError):
        normalize_build_id("xyz")
    # What the caches name files with: normalized, or None for anything else.
    assert valid_build_id("EB:4F:BC:D0") == "eb4fbcd0"
    for bad in (None, "", "xyz", "../x", "abc"):
        assert valid_build_id(bad) is None


@needs_vmlinux
def test_dump_build_id_is_the_vmlinuxs(dump):
    d, _release, build_id = dump
    assert dump_build_id(open_program(d.dump)) == build_id == file_build_id(d.vmlinux)


# --- explicit ----------------------------------------------------------------------------


@needs_vmlinux
def test_explicit_matching_vmlinux(dump):
    d, release, build_id = dump
    choice = resolve_vmlinux(release=release, build_id=build_id, explicit=d.vmlinux)
    assert (choice.path, choice.source, choice.build_id_match) == (d.vmlinux, "explicit", True)
    facts = choice.facts()
    assert (facts.tier, facts.source, facts.build_id) == ("dwarf", "explicit", build_id)


@needs_vmlinux
def test_explicit_other_build_is_refused_naming_both_build_ids_and_release(dump):
    _d, release, build_id = dump
    other = LKDTM  # a real ELF file of another build: the wrong file given to --vmlinux
    for path in sorted(Path("/var/cache/ktriage/kernels").glob("*/vmlinux")):
        if path.parent.name != release:
            other = path  # a real vmlinux of another kernel, when this machine has one
    other_id = file_build_id(other)
    with pytest.raises(DebuginfoError) as info:
        resolve_vmlinux(release=release, build_id=build_id, explicit=other)
    message = info.value.message
    assert build_id in message and str(other_id) in message and release in message
    assert "\n" not in str(info.value)
    assert f"linux-image-{release}-dbg" in info.value.hint
    assert info.value.exit_code != 0


# --- local -------------------------------------------------------------------------------


@needs_vmlinux
@pytest.mark.parametrize(
    "layout",
    [
        "usr/lib/debug/boot/vmlinux-{r}",  # Debian, Ubuntu
        "usr/lib/debug/lib/modules/{r}/vmlinux",  # Fedora, RHEL, CentOS, Oracle Linux
        "usr/lib/debug/boot/vmlinux-{r}.debug",  # SUSE
        "boot/vmlinux-{r}",
        "lib/modules/{r}/vmlinux",
    ],
)
def test_standard_places_under_a_debug_dir(dump, tmp_path, layout):
    d, release, build_id = dump
    target = tmp_path / layout.format(r=release)
    assert target in standard_vmlinux_paths(release, tmp_path)
    target.parent.mkdir(parents=True)
    target.symlink_to(d.vmlinux)
    choice = resolve_vmlinux(
        release=release,
        build_id=build_id,
        debug_dirs=[tmp_path],
        debuginfod=False,
        cache_dir=tmp_path / "cache",
    )
    assert (choice.path, choice.source, choice.build_id_match) == (target, "local", True)


@needs_vmlinux
def test_build_id_lookup_skips_mismatching_file(dump, tmp_path):
    d, release, build_id = dump
    wrong = tmp_path / f"vmlinux-{release}"
    wrong.symlink_to(LKDTM)  # named for the release but another build
    link = tmp_path / ".build-id" / build_id[:2] / f"{build_id[2:]}.debug"
    link.parent.mkdir(parents=True)
    link.symlink_to(d.vmlinux)
    choice = resolve_vmlinux(
        release=release,
        build_id=build_id,
        debug_dirs=[tmp_path],
        debuginfod=False,
        cache_dir=tmp_path / "cache",
    )
    assert (choice.path, choice.source, choice.build_id) == (link, "local", build_id)

    # with only the wrong file, nothing is taken: it is listed and the advice is given
    link.unlink()
    choice = resolve_vmlinux(
        release=release,
        build_id=build_id,
        debug_dirs=[tmp_path],
        debuginfod=False,
        cache_dir=tmp_path / "cache",
    )
    if choice.path is not None:  # this machine has the vmlinux installed in a standard place
        assert choice.path.resolve() != LKDTM.resolve()
        assert choice.build_id == build_id
        return
    assert choice.source == "none" and choice.build_id_match is None
    assert any(str(wrong) in t and file_build_id(LKDTM) in t for t in choice.tried)
    assert choice.advice is not None
    assert choice.advice.package == f"linux-image-{release}-dbg"
    error = missing_debuginfo_error(choice, release, build_id=build_id)
    assert release in error.message and build_id in error.message
    assert "--debug-dir, the standard places, .build-id" in error.message
    assert choice.advice.command in error.hint and "\n" not in str(error)
    assert any(t.startswith("standard places (/usr/lib/debug/boot/") for t in choice.tried)
    assert choice.facts().tier == "none"


def test_nothing_found_for_unknown_kernel_gives_advice(tmp_path):
    release = "5.14.0-362.8.1.el9_3.x86_64"
    choice = resolve_vmlinux(
        release=release,
        build_id="0123456789abcdef0123456789abcdef01234567",
        debug_dirs=[tmp_path],
        debuginfod=False,
        cache_dir=tmp_path / "cache",
    )
    assert (choice.path, choice.source) == (None, "none")
    assert choice.advice == advise(release, build_id="0123456789abcdef0123456789abcdef01234567")
    assert choice.advice.package == f"kernel-debuginfo-{release}"


# --- modules -----------------------------------------------------------------------------


@needs_vmlinux
@pytest.mark.skipif(not LKDTM.is_file(), reason="no lkdtm.ko in the corpus")
def test_module_found_by_name_and_checked_against_memory_build_id(dump, tmp_path):
    d, release, _build_id = dump
    memory = _module_build_ids_from_dump(d)
    assert "lkdtm" in memory
    found = resolve_modules(
        release=release,
        modules=[("lkdtm", memory["lkdtm"])],
        debug_dirs=[LKDTM.parent],
        debuginfod=False,
        cache_dir=tmp_path,
    )
    assert found == {"lkdtm": LKDTM}
    resolution = resolve_debuginfo(
        release=release,
        build_id=None,
        want_vmlinux=False,
        modules=[("lkdtm", "00" * 20)],  # another build of lkdtm: refused
        debug_dirs=[LKDTM.parent],
        debuginfod=False,
        cache_dir=tmp_path,
    )
    assert resolution.modules == {}
    assert any(str(LKDTM) in t for t in resolution.module_tried)


@needs_vmlinux
@pytest.mark.skipif(not LKDTM.is_file(), reason="no lkdtm.ko in the corpus")
def test_module_tree_read_through_modules_dep(dump, tmp_path):
    # A depmod-indexed tree (/lib/modules/RELEASE) is not walked: modules.dep
    # names its files, so a file it does not list is not seen.
    import shutil

    d, release, _build_id = dump
    memory = _module_build_ids_from_dump(d)
    tree = tmp_path / "modules"
    listed = tree / "kernel/drivers/misc/lkdtm/lkdtm.ko"
    listed.parent.mkdir(parents=True)
    shutil.copy(LKDTM, listed)
    for dep, expected in (
        ("kernel/drivers/misc/lkdtm/lkdtm.ko:\n", {"lkdtm": listed}),
        ("kernel/other.ko:\n", {}),
    ):
        (tree / "modules.dep").write_text(dep)
        found = resolve_modules(
            release=release,
            modules=[("lkdtm", memory["lkdtm"])],
            debug_dirs=[tree],
            debuginfod=False,
            cache_dir=tmp_path / "cache",
        )
        assert found == expected


def _module_build_ids_from_dump(d) -> dict[str, str]:
    """The modules' build IDs as the dump's memory has them (read with drgn)."""
    drgn = pytest.importorskip("drgn")
    prog = drgn.Program()
    prog.set_core_dump(str(d.dump))
    result = {}
    for module, _new in prog.loaded_modules():
        if isinstance(module, drgn.MainModule):
            module.try_file(str(d.vmlinux))
        elif module.build_id:
            result[module.name] = module.build_id.hex()
    return result


# --- advice ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "distribution", "package", "command"),
    [
        (
            "6.1.0-56-amd64",
            "Debian",
            "linux-image-6.1.0-56-amd64-dbg",
            "apt install linux-image-6.1.0-56-amd64-dbg",
        ),
        (
            "6.12.48+deb12-amd64",
            "Debian 12",
            "linux-image-6.12.48+deb12-amd64-dbg",
            "apt install linux-image-6.12.48+deb12-amd64-dbg",
        ),
        (
            "5.15.0-91-generic",
            "Ubuntu",
            "linux-image-unsigned-5.15.0-91-generic-dbgsym",
            "apt install linux-image-unsigned-5.15.0-91-generic-dbgsym",
        ),
        (
            "3.10.0-1160.42.2.el7.x86_64",
            "RHEL/CentOS 7",
            "kernel-debuginfo-3.10.0-1160.42.2.el7.x86_64",
            "debuginfo-install kernel-3.10.0-1160.42.2.el7",
        ),
        (
            "5.14.0-362.8.1.el9_3.x86_64",
            "RHEL 9 (or a rebuild)",
            "kernel-debuginfo-5.14.0-362.8.1.el9_3.x86_64",
            "dnf debuginfo-install kernel-5.14.0-362.8.1.el9_3",
        ),
        (
            "6.5.6-300.fc39.x86_64",
            "Fedora 39",
            "kernel-debuginfo-6.5.6-300.fc39.x86_64",
            "dnf debuginfo-install kernel-6.5.6-300.fc39",
        ),
        (
            "5.4.17-2136.300.7.el8uek.x86_64",
            "Oracle Linux 8 (UEK)",
            "kernel-uek-debuginfo-5.4.17-2136.300.7.el8uek.x86_64",
            "dnf debuginfo-install kernel-uek-5.4.17-2136.300.7.el8uek",
        ),
        (
            "5.14.21-150500.55.39-default",
            "SUSE",
            "kernel-default-debuginfo",
            "zypper --plus-content debug install kernel-default-debuginfo",
        ),
    ],
)
def test_advice_per_distribution(release, distribution, package, command):
    advice = advise(release)
    assert (advice.distribution, advice.package, advice.command) == (
        distribution,
        package,
        command,
    )
    assert "\n" not in advice.hint() and command in advice.hint()


def test_advice_notes():
    assert (
        "kernel-debuginfo-common-x86_64-3.10.0-1160.42.2.el7"
        in advise("3.10.0-1160.42.2.el7.x86_64").note
    )
    assert "150500.55.39" in advise("5.14.21-150500.55.39-default").note
    assert "ddebs" in advise("5.15.0-91-generic").note
    debug = advise("4.18.0-513.5.1.el8_9.x86_64+debug")
    assert debug.package == "kernel-debug-debuginfo-4.18.0-513.5.1.el8_9.x86_64"


def test_advice_unknown_kernel_points_to_debuginfod():
    advice = advise("6.6.1-arch1-1", build_id="ab" * 20)
    assert advice.distribution == "unknown"
    assert "6.6.1-arch1-1" in advice.package
    assert "DEBUGINFOD_URLS" in advice.hint()
    assert "ab" * 20 in advice.note


def test_malformed_build_id_from_dump_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="not hex"):
        resolve_vmlinux(release="6.1.0-56-amd64", build_id="zz-not-hex", cache_dir=tmp_path)
