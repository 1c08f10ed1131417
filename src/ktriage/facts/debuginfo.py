"""
Debuginfo facts
---------------

Which tier of symbols and types the analysis ran with, and where they came from.
"""

from dataclasses import dataclass

from ktriage.facts.base import Record

__all__ = ("DebuginfoFacts", "Tier")


class Tier:
    """Debuginfo tiers, richest first (string constants)."""

    DWARF = "dwarf"
    BTF = "btf"
    SYMBOLS = "symbols"
    NONE = "none"


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class DebuginfoFacts(Record):
    """What the analysis knew about types and symbols."""

    tier: str
    """One of :class:`Tier`."""
    source: str
    """``explicit``, ``local``, ``debuginfod``, ``package``, ``btf``, ``kallsyms`` or ``none``."""
    vmlinux: str | None = None
    build_id: str | None = None
    """Build ID of the debug file used."""
    build_id_match: bool | None = None
    """Whether it matched the dump's (``None`` when there is no file)."""
    modules: tuple[str, ...] = ()
    """Modules whose debuginfo was loaded."""
    notes: tuple[str, ...] = ()
    """What this tier cannot give (e.g. no source lines on BTF)."""
