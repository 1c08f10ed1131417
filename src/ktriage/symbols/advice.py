"""
Debuginfo advice
----------------

When no matching debuginfo is found, tell the user the exact package and the command
that installs it, for the distribution the kernel release string comes from:

==========================================  ====================================
release                                     distribution
==========================================  ====================================
``6.1.0-56-amd64``, ``6.12.48+deb12-amd64``  Debian (``linux-image-R-dbg``, apt)
``5.15.0-91-generic``                       Ubuntu (``linux-image-unsigned-R-dbgsym``)
``3.10.0-1160.42.2.el7.x86_64``             RHEL/CentOS 7 (``debuginfo-install``)
``5.14.0-362.8.1.el9_3.x86_64``             RHEL 8/9 and rebuilds (``dnf debuginfo-install``)
``5.4.17-2136.300.7.el8uek.x86_64``         Oracle Linux UEK (``kernel-uek-debuginfo``)
``6.5.6-300.fc39.x86_64``                   Fedora (``dnf debuginfo-install``)
``5.14.21-150500.55.39-default``            SUSE (``kernel-default-debuginfo``, zypper)
==========================================  ====================================

Anything else gets generic advice with the debuginfod hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ktriage.facts.base import Record

__all__ = ("Advice", "advise")

_DEBUGINFOD_HINT = (
    "or set DEBUGINFOD_URLS to a debuginfod server that has this build ID and ktriage fetches it"
)

_DEBIAN_ARCHES = (
    "amd64|arm64|armmp|armmp-lpae|686|686-pae|marvell|rpi|powerpc64le|s390x|"
    "loongarch64|riscv64|mips64r2el|mips32r2el|octeon|4kc-malta|5kc-malta|loongson-3"
)
_DEBIAN_RE = re.compile(
    rf"^(?P<version>\d+\.\d+(?:\.\d+)?)(?P<abi>-\d+|\+deb(?P<deb>\d+))"
    rf"-(?P<flavour>(?:rt-|cloud-)?(?:{_DEBIAN_ARCHES})(?:-rt|-cloud|-dbg)?)$"
)
_UBUNTU_RE = re.compile(
    r"^(?P<version>\d+\.\d+\.\d+)-(?P<abi>\d+)-(?P<flavour>generic(?:-64k|-lpae|-pae)?|lowlatency"
    r"(?:-64k)?|aws|azure|gcp|gke|gkeop|oracle|kvm|ibm|nvidia(?:-lowlatency|-64k)?|raspi|"
    r"raspi-nolpae|realtime|intel-iotg|oem|fips|xilinx-zynqmp|[a-z]+-fips)$"
)
_RH_RE = re.compile(
    r"^(?P<nvr>(?P<version>\d+\.\d+\.\d+)-(?P<release>[\w.]+?)\.(?P<dist>el(?P<el>\d+)"
    r"(?P<uek>uek)?(?:_\d+)?|fc(?P<fc>\d+)|amzn2(?:023)?))"
    r"(?:\.(?P<arch>x86_64|aarch64|ppc64le|s390x|i686|ppc64))?(?P<variant>\+debug|\+rt|\+64k)?$"
)
_SUSE_RE = re.compile(
    r"^(?P<version>\d+\.\d+\.\d+)-(?P<release>[\d.]+)-(?P<flavour>default|azure|rt|64kb|"
    r"preempt|kvmsmall|vanilla|pae|lpae|zfcpdump|debug)$"
)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Advice(Record):
    """Which package holds the debuginfo of a kernel release, and how to install it."""

    distribution: str
    """``Debian``, ``Ubuntu``, ``RHEL/CentOS 7``, ``Fedora``, ``SUSE``, ... or ``unknown``."""
    package: str
    """The exact package name (with version where the name carries it)."""
    command: str
    """The command that installs it."""
    note: str
    """What else to know: repository to enable, debuginfod, ``--debuginfo-package``."""

    def hint(self) -> str:
        """One line for :attr:`ktriage.errors.KtriageError.hint`."""
        return (
            f"{self.distribution}: {self.command} (package {self.package}), or pass a "
            f"downloaded package with --debuginfo-package FILE, {_DEBUGINFOD_HINT}"
        )


def advise(release: str, *, build_id: str | None = None) -> Advice:
    """Return the debuginfo package and install command for kernel *release*."""
    release = release.strip()
    tail = "then rerun"
    if build_id:
        tail = f"then rerun; the dump's build ID is {build_id}"

    if m := _DEBIAN_RE.match(release):
        package = f"linux-image-{release}-dbg"
        where = f"Debian {m['deb']}" if m["deb"] else "Debian"
        return Advice(
            distribution=where,
            package=package,
            command=f"apt install {package}",
            note=(
                "(the package is in the main archive of the release that shipped this "
                f"kernel; an older version may be only in the snapshot archive); {tail}"
            ),
        )
    if m := _UBUNTU_RE.match(release):
        package = f"linux-image-unsigned-{release}-dbgsym"
        return Advice(
            distribution="Ubuntu",
            package=package,
            command=f"apt install {package}",
            note=f"(after enabling the ddebs debug-symbol repository in apt's sources); {tail}",
        )
    if m := _SUSE_RE.match(release):
        flavour = m["flavour"]
        package = f"kernel-{flavour}-debuginfo"
        version = f"{m['version']}-{m['release']}"
        return Advice(
            distribution="SUSE",
            package=package,
            command=f"zypper --plus-content debug install {package}",
            note=(
                f"(the version must be {version}, with the build counter the package adds, "
                f"e.g. {version}.1: zypper search -s {package} lists them); {tail}"
            ),
        )
    if m := _RH_RE.match(release):
        return _advise_rpm(release, m, tail)
    return Advice(
        distribution="unknown",
        package=f"the debuginfo (dbg, dbgsym or debuginfo) package of kernel {release}",
        command="your distribution's package manager",
        note=f"(it holds vmlinux with DWARF), or give the vmlinux with --vmlinux FILE; {tail}",
    )


def _advise_rpm(release: str, m: re.Match[str], tail: str) -> Advice:
    arch = m["arch"] or "x86_64"
    nvr = m["nvr"]
    variant = (m["variant"] or "").lstrip("+")
    kernel = f"kernel-{variant}" if variant else "kernel"
    if m["uek"]:
        kernel = "kernel-uek"
    package = f"{kernel}-debuginfo-{nvr}.{arch}"
    common = f"{kernel.replace('-debug', '').replace('-64k', '')}-debuginfo-common-{arch}-{nvr}"
    if m["fc"]:
        distribution = f"Fedora {m['fc']}"
        command = f"dnf debuginfo-install {kernel}-{nvr}"
        extra = "(Fedora's debuginfod serves it too: DEBUGINFOD_URLS is set by default there)"
    elif m["dist"].startswith("amzn"):
        distribution = "Amazon Linux"
        command = f"debuginfo-install {kernel}-{nvr}"
        extra = f"(with {common})"
    elif m["uek"]:
        distribution = f"Oracle Linux {m['el']} (UEK)"
        command = f"dnf debuginfo-install {kernel}-{nvr}"
        if int(m["el"]) <= 7:
            command = f"debuginfo-install {kernel}-{nvr}"
        extra = f"(from Oracle's debuginfo repository, with {common})"
    else:
        el = int(m["el"])
        distribution = f"RHEL/CentOS {el}" if el <= 7 else f"RHEL {el} (or a rebuild)"
        command = f"debuginfo-install {kernel}-{nvr}"
        if el >= 8:
            command = f"dnf debuginfo-install {kernel}-{nvr}"
        extra = (
            f"(with {common}; needs the debuginfo repository enabled; Oracle Linux, "
            "CentOS, AlmaLinux and Rocky ship the same names)"
        )
    return Advice(
        distribution=distribution, package=package, command=command, note=f"{extra}; {tail}"
    )
