"""
Dump identity
-------------

What a dump is, read from its headers and VMCOREINFO alone (no symbols).
"""

from dataclasses import dataclass

from ktriage.facts.base import Hex, Record

__all__ = ("DumpIdentity",)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class DumpIdentity(Record):
    """Identification of a crash dump or live kernel."""

    path: str
    """The file that was opened."""

    format: str
    """
    Container format: ``elf`` (kexec /proc/vmcore or QEMU dump-guest-memory),
    ``kdump-compressed`` (makedumpfile or QEMU kdump-*), ``flattened``
    (makedumpfile -F), ``live`` (/proc/kcore), or ``text`` for a log.
    """

    producer: str | None = None
    """Who wrote it when the headers say so (``qemu``, ``makedumpfile``, ``kexec``)."""

    compression: str | None = None
    """Page compression (``none``, ``zlib``, ``lzo``, ``snappy``, ``zstd``, or a mix)."""

    dump_level: int | None = None
    """makedumpfile's -d level (pages excluded); ``None`` when not filtered or unknown."""

    partial: bool = False
    """Whether pages were filtered out (crash's ``[PARTIAL DUMP]``)."""

    incomplete: bool = False
    """Whether the dump was cut short (makedumpfile's incomplete flag or truncation)."""

    file_size: int = 0
    """Size of the dump file in bytes."""

    release: str | None = None
    """``OSRELEASE`` from VMCOREINFO, e.g. ``6.1.0-56-amd64``."""

    build_id: str | None = None
    """``BUILD-ID`` from VMCOREINFO (hex), when the kernel records it (5.9 and later)."""

    arch: str | None = None
    """Architecture, e.g. ``x86_64``."""

    page_size: int | None = None
    """``PAGESIZE`` from VMCOREINFO."""

    kaslr_offset: Hex | None = None
    """``KERNELOFFSET`` from VMCOREINFO."""

    crash_time: int | None = None
    """Seconds since the epoch when the dump was taken (``CRASHTIME``), if recorded."""

    cpus: int | None = None
    """Number of CPUs the dump describes (one NT_PRSTATUS note per CPU)."""

    vmcoreinfo: dict[str, str] | None = None
    """All VMCOREINFO keys and values."""
