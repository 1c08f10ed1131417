"""Debuginfo out of real packages: Debian's 858 MB .deb, and a .ddeb and RHEL-layout .rpm
files built here (with dpkg-deb and rpmbuild) from the real vmlinux and lkdtm.ko, since
Ubuntu's and RHEL's packages are not reachable from this machine."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from corpus import CACHE, SHARED_CORPUS, shared_dumps

from ktriage.errors import BadInputError
from ktriage.source.ident import identify
from ktriage.symbols import packages as packages_module
from ktriage.symbols.buildid import file_build_id
from ktriage.symbols.debuginfo import resolve_debuginfo, resolve_vmlinux
from ktriage.symbols.packages import (
    extract_debuginfo,
    package_file_list,
    package_kind,
)

RELEASE = "6.1.0-56-amd64"
DEB = CACHE / "debs" / f"linux-image-{RELEASE}-dbg_6.1.192-2_amd64.deb"
LKDTM = SHARED_CORPUS / RELEASE / "lkdtm.ko"
_DUMPS = [d for d in shared_dumps() if d.release == RELEASE and d.vmlinux is not None]

pytestmark = pytest.mark.skipif(
    not _DUMPS or not LKDTM.is_file(), reason=f"no {RELEASE} dump with its vmlinux here"
)


@pytest.fixture(scope="module")
def dump():
    """The real dump: release, VMCOREINFO build ID, vmlinux, modules' build IDs in memory."""
    d = _DUMPS[0]
    ident = identify(d.dump)
    drgn = pytest.importorskip("drgn")
    prog = drgn.Program()
    prog.set_core_dump(str(d.dump))
    modules = {}
    for module, _new in prog.loaded_modules():
        if isinstance(module, drgn.MainModule):
            module.try_file(str(d.vmlinux))
        elif module.build_id:
            modules[module.name] = module.build_id.hex()
    assert ident.release == RELEASE and ident.build_id and "lkdtm" in modules
    return ident.build_id, d.vmlinux, modules


@pytest.fixture(scope="module")
def deb():
    if not DEB.is_file():
        pytest.skip(f"{DEB} is not on this machine")
    return DEB


def _build_once(name: str, build) -> Path:
    """Build a test package into the cache once per vmlinux (atomic directory rename)."""
    vmlinux = _DUMPS[0].vmlinux
    key = f"{file_build_id(vmlinux)}-{file_build_id(LKDTM)}"
    final = CACHE / "test-packages" / key
    if (final / name).is_file():
        return final / name
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=final.parent, prefix=".build-"))
    try:
        build(work, vmlinux)
        staged = work / "staged"
        staged.mkdir()
        os.replace(work / name, staged / name)
        if final.is_dir():  # another package of this key was built before
            os.replace(staged / name, final / name)
        else:
            os.replace(staged, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final / name


def _rpmbuild(work: Path, spec: str) -> Path:
    if shutil.which("rpmbuild") is None:
        pytest.skip("rpmbuild is not installed (apt-get install rpm)")
    (work / "p.spec").write_text(spec)
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {work / 'top'}", str(work / "p.spec")],
        check=True,
        capture_output=True,
    )
    (rpm,) = (work / "top" / "RPMS").glob("*/*.rpm")
    return rpm


_SPEC_HEAD = """\
%define debug_package %{nil}
%define __os_install_post %{nil}
%define _build_id_links none
%define _binary_payload PAYLOAD
Name: NAME
Version: 6.1.0
Release: 56
Summary: ktriage test package
License: GPL-2.0
BuildArch: x86_64
%description
Real files in the layout of RHEL's NAME.
"""


@pytest.fixture(scope="module")
def rpm_debuginfo() -> Path:
    """kernel-debuginfo in RHEL's layout: lib/modules/R/vmlinux and .ko.debug (zstd)."""

    def build(work: Path, vmlinux: Path) -> None:
        d = f"/usr/lib/debug/lib/modules/{RELEASE}"
        spec = _SPEC_HEAD.replace("PAYLOAD", "w1.zstdio").replace("NAME", "kernel-debuginfo")
        spec += f"""%install
mkdir -p %{{buildroot}}{d}/extra
cp {vmlinux} %{{buildroot}}{d}/vmlinux
cp {LKDTM} %{{buildroot}}{d}/extra/lkdtm.ko.debug
%files
{d}/vmlinux
{d}/extra/lkdtm.ko.debug
"""
        os.replace(_rpmbuild(work, spec), work / "kernel-debuginfo.rpm")

    return _build_once("kernel-debuginfo.rpm", build)


@pytest.fixture(scope="module")
def rpm_common() -> Path:
    """kernel-debuginfo-common: sources only (xz), as RHEL ships it."""

    def build(work: Path, vmlinux: Path) -> None:
        d = f"/usr/src/debug/kernel-{RELEASE}/linux-{RELEASE}"
        spec = _SPEC_HEAD.replace("PAYLOAD", "w2.xzdio")
        spec = spec.replace("NAME", "kernel-debuginfo-common-x86_64")
        readme = SHARED_CORPUS / "README.md"
        spec += f"""%install
mkdir -p %{{buildroot}}{d}
cp {readme} %{{buildroot}}{d}/README
%files
{d}/README
"""
        os.replace(_rpmbuild(work, spec), work / "kernel-debuginfo-common.rpm")

    return _build_once("kernel-debuginfo-common.rpm", build)


@pytest.fixture(scope="module")
def ddeb() -> Path:
    """An Ubuntu-style .ddeb (zstd data.tar) of the real vmlinux and lkdtm.ko."""

    def build(work: Path, vmlinux: Path) -> None:
        if shutil.which("dpkg-deb") is None:
            pytest.skip("dpkg-deb is not installed")
        root = work / "root"
        (root / "DEBIAN").mkdir(parents=True)
        (root / "DEBIAN" / "control").write_text(
            f"Package: linux-image-unsigned-{RELEASE}-dbgsym\nVersion: 6.1.192-2\n"
            "Architecture: amd64\nMaintainer: ktriage tests <tests@localhost>\n"
            "Description: test package\n"
        )
        boot = root / "usr/lib/debug/boot"
        mods = root / f"usr/lib/debug/lib/modules/{RELEASE}/kernel/drivers/misc/lkdtm"
        boot.mkdir(parents=True)
        mods.mkdir(parents=True)
        shutil.copyfile(vmlinux, boot / f"vmlinux-{RELEASE}")
        shutil.copyfile(LKDTM, mods / "lkdtm.ko")
        _write_md5sums(root)
        subprocess.run(
            [
                "dpkg-deb",
                "-Zzstd",
                "-z1",
                "--root-owner-group",
                "--build",
                str(root),
                str(work / "linux-dbgsym.ddeb"),
            ],
            check=True,
            capture_output=True,
        )

    return _build_once("linux-dbgsym.ddeb", build)


def _write_md5sums(root: Path) -> None:
    """DEBIAN/md5sums as dh_md5sums writes it."""
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "DEBIAN" not in p.parts):
        digest = hashlib.md5()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {path.relative_to(root)}\n")
    (root / "DEBIAN" / "md5sums").write_text("".join(lines))


@pytest.fixture(scope="module")
def deb_without_md5sums(tmp_path_factory) -> Path:
    """A small .deb (xz) holding lkdtm.ko and no md5sums: no file list up front."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    work = tmp_path_factory.mktemp("deb-no-md5sums")
    root = work / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: lkdtm-dbg\nVersion: 6.1.192-2\nArchitecture: amd64\n"
        "Maintainer: ktriage tests <tests@localhost>\nDescription: test package\n"
    )
    mods = root / f"usr/lib/debug/lib/modules/{RELEASE}/updates"
    mods.mkdir(parents=True)
    shutil.copyfile(LKDTM, mods / "lkdtm.ko")
    out = work / "lkdtm-dbg.deb"
    subprocess.run(
        ["dpkg-deb", "-Zxz", "--root-owner-group", "--build", str(root), str(out)],
        check=True,
        capture_output=True,
    )
    return out


def _debug_files(cache: Path) -> list[Path]:
    return sorted((cache / ".build-id").glob("*/*.debug"))


# --- the real Debian package --------------------------------------------------------------


def test_real_deb_vmlinux_only_stops_after_it(deb, dump, tmp_path):
    build_id, _vmlinux, _modules = dump
    before = deb.stat()
    started = time.perf_counter()
    choice = resolve_vmlinux(
        release=RELEASE, build_id=build_id, packages=[deb], debuginfod=False, cache_dir=tmp_path
    )
    elapsed = time.perf_counter() - started
    print(f"\nvmlinux out of the {before.st_size / 1e6:.0f} MB .deb in {elapsed:.1f} s")
    assert (choice.source, choice.build_id, choice.build_id_match) == ("package", build_id, True)
    assert choice.path is not None and file_build_id(choice.path) == build_id
    assert _debug_files(tmp_path) == [choice.path]
    assert not list((tmp_path / ".tmp").iterdir())
    after = deb.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_real_deb_vmlinux_and_the_dumps_modules(deb, dump, tmp_path):
    build_id, _vmlinux, modules = dump
    wanted = sorted(modules.items())
    listing = package_file_list(deb)
    assert listing is not None and f"usr/lib/debug/boot/vmlinux-{RELEASE}" in listing
    started = time.perf_counter()
    resolution = resolve_debuginfo(
        release=RELEASE,
        build_id=build_id,
        modules=wanted,
        packages=[deb],
        debuginfod=False,
        cache_dir=tmp_path,
    )
    elapsed = time.perf_counter() - started
    print(f"\nvmlinux and {len(resolution.modules)} modules out of the .deb in {elapsed:.1f} s")
    assert resolution.vmlinux.source == "package" and resolution.vmlinux.build_id_match
    in_package = {m for m in modules if any(f"/{m}.ko" in p.replace("-", "_") for p in listing)}
    assert "ext4" in in_package and "lkdtm" not in in_package  # Debian does not build lkdtm
    assert set(resolution.modules) == in_package
    for name, path in resolution.modules.items():
        assert file_build_id(path) == modules[name], name
        assert resolution.module_sources[name] == "package"
    assert len(_debug_files(tmp_path)) == 1 + len(in_package)  # nothing else was written

    # a second run takes everything from the cache without reading the package
    started = time.perf_counter()
    again = resolve_debuginfo(
        release=RELEASE,
        build_id=build_id,
        modules=wanted,
        packages=[deb],
        debuginfod=False,
        cache_dir=tmp_path,
    )
    assert time.perf_counter() - started < 5
    assert again.modules == resolution.modules
    assert (again.vmlinux.path, again.vmlinux.source) == (resolution.vmlinux.path, "package")


@pytest.mark.parametrize("decompressor", ["program", "python"])
def test_truncated_deb_is_bad_input(deb, tmp_path, monkeypatch, decompressor):
    if decompressor == "python":
        monkeypatch.setattr(packages_module, "_EXTERNAL_DECOMPRESSORS", {})
    truncated = tmp_path / "truncated.deb"
    with deb.open("rb") as src, truncated.open("wb") as dst:
        dst.write(src.read(12 << 20))  # cut inside the vmlinux
    assert package_kind(truncated) == "deb"
    with pytest.raises(BadInputError, match=r"truncated package \(\d+ bytes missing\)"):
        extract_debuginfo([truncated], release=RELEASE, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache" / ".tmp").iterdir())  # the partial file is gone


def test_not_a_package(tmp_path):
    text = tmp_path / "kernel.rpm"
    text.write_text("not a package\n")
    with pytest.raises(BadInputError, match=r"is not a \.deb, \.ddeb or \.rpm"):
        extract_debuginfo([text], release=RELEASE, cache_dir=tmp_path / "cache")


# --- rpm and ddeb built here from the real files --------------------------------------------


def test_rpm_debuginfo_with_common(rpm_debuginfo, rpm_common, dump, tmp_path, capsys):
    build_id, _vmlinux, modules = dump
    assert package_kind(rpm_debuginfo) == "rpm"
    resolution = resolve_debuginfo(
        release=RELEASE,
        build_id=build_id,
        modules=[("lkdtm", modules["lkdtm"]), ("ext4", modules["ext4"])],
        packages=[rpm_common, rpm_debuginfo],
        debuginfod=False,
        cache_dir=tmp_path,
        progress=True,
    )
    err = capsys.readouterr().err
    size = rpm_debuginfo.stat().st_size / 1e6
    assert f"extracting vmlinux, lkdtm from {rpm_debuginfo.name} ({size:.1f} MB)" in err
    assert rpm_common.name not in err  # sources only: skipped without reading its payload
    assert resolution.vmlinux.source == "package" and resolution.vmlinux.build_id == build_id
    assert set(resolution.modules) == {"lkdtm"}
    assert file_build_id(resolution.modules["lkdtm"]) == modules["lkdtm"]
    assert any("holds no vmlinux or modules" in t for t in resolution.vmlinux.tried)


def test_rpm_other_release_is_not_read(rpm_debuginfo, tmp_path):
    result = extract_debuginfo(
        [rpm_debuginfo], release="6.12.0-99-amd64", cache_dir=tmp_path, modules={"lkdtm": None}
    )
    assert result.vmlinux is None and not result.modules
    assert any("no vmlinux of 6.12.0-99-amd64" in t for t in result.tried)
    assert not (tmp_path / ".tmp").exists()  # nothing was extracted


def test_rpm_vmlinux_of_another_build_is_not_kept(rpm_debuginfo, dump, tmp_path):
    build_id, _vmlinux, modules = dump
    other = modules["lkdtm"]  # the build ID of another file: the package does not match
    result = extract_debuginfo(
        [rpm_debuginfo], release=RELEASE, cache_dir=tmp_path, vmlinux_build_id=other
    )
    assert result.vmlinux is None
    assert any(build_id in t and other in t and RELEASE in t for t in result.tried)
    assert _debug_files(tmp_path) == []
    assert not list((tmp_path / ".tmp").iterdir())


@pytest.mark.parametrize("decompressor", ["program", "python"])
def test_ddeb_and_rpm_both_decompressors(
    ddeb, rpm_debuginfo, dump, tmp_path, monkeypatch, decompressor
):
    build_id, _vmlinux, modules = dump
    if decompressor == "python":
        monkeypatch.setattr(packages_module, "_EXTERNAL_DECOMPRESSORS", {})
    for package in (ddeb, rpm_debuginfo):
        cache = tmp_path / package.suffix.lstrip(".")
        result = extract_debuginfo(
            [package],
            release=RELEASE,
            cache_dir=cache,
            vmlinux_build_id=build_id,
            modules={"lkdtm": modules["lkdtm"]},
        )
        assert result.vmlinux is not None and file_build_id(result.vmlinux) == build_id
        assert file_build_id(result.modules["lkdtm"]) == modules["lkdtm"]


@pytest.mark.parametrize("decompressor", ["program", "python"])
def test_truncated_rpm_is_bad_input(rpm_debuginfo, tmp_path, monkeypatch, decompressor):
    if decompressor == "python":
        monkeypatch.setattr(packages_module, "_EXTERNAL_DECOMPRESSORS", {})
    truncated = tmp_path / "truncated.rpm"
    with rpm_debuginfo.open("rb") as src, truncated.open("wb") as dst:
        dst.write(src.read(1 << 20))
    with pytest.raises(BadInputError, match="truncated"):
        extract_debuginfo([truncated], release=RELEASE, cache_dir=tmp_path / "cache")


def test_package_of_another_kernel_is_not_decompressed(dump, tmp_path):
    build_id, _vmlinux, modules = dump
    others = sorted(
        p for p in (CACHE / "debs").glob("linux-image-*-dbg_*.deb") if RELEASE not in p.name
    )
    if not others:
        pytest.skip("no debug package of another kernel on this machine")
    started = time.perf_counter()
    choice = resolve_debuginfo(
        release=RELEASE,
        build_id=build_id,
        modules=[("ext4", modules["ext4"])],
        packages=others[:1],
        debuginfod=False,
        cache_dir=tmp_path,
    )
    assert time.perf_counter() - started < 10  # only its control.tar was read
    assert choice.vmlinux.source == "none" and not choice.modules
    assert any(f"no vmlinux of {RELEASE}" in t for t in choice.vmlinux.tried)
    assert choice.vmlinux.advice is not None
    assert not (tmp_path / ".tmp").exists()


def test_deb_without_file_list_is_scanned(deb_without_md5sums, dump, tmp_path):
    _build_id, _vmlinux, modules = dump
    assert package_file_list(deb_without_md5sums) is None
    result = extract_debuginfo(
        [deb_without_md5sums],
        release=RELEASE,
        cache_dir=tmp_path,
        vmlinux=False,
        modules={"lkdtm": modules["lkdtm"], "ext4": modules["ext4"]},
    )
    assert set(result.modules) == {"lkdtm"}
    assert file_build_id(result.modules["lkdtm"]) == modules["lkdtm"]
    # module of another release is not taken
    other = extract_debuginfo(
        [deb_without_md5sums],
        release="6.1.0-99-amd64",
        cache_dir=tmp_path,
        vmlinux=False,
        modules={"lkdtm": None},
    )
    assert not other.modules
