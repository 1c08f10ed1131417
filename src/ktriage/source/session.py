"""
Kernel session
--------------

A :class:`KernelSession` wraps a ``drgn.Program`` opened on a dump together with
what is known about it (identity, debuginfo tier) and the symbolization rules
crash users expect. Everything in ``source/`` that reads kernel memory takes a
session; no drgn object leaves ``source/`` (collectors return facts).
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import drgn

from ktriage.facts import DebuginfoFacts, DumpIdentity, Tier
from ktriage.facts.base import Record
from ktriage.source.symindex import LABEL_KINDS_IGNORED, ElfSymbolIndex

__all__ = ("READ_ERRORS", "KernelSession", "SymbolInfo")

T = TypeVar("T")

_LOOKUPS_BEFORE_INDEX = 40

READ_ERRORS = (LookupError, drgn.FaultError, ValueError, AttributeError, TypeError, OverflowError)
"""What reading a damaged or partial dump can raise from drgn and its helpers."""


@dataclass(frozen=True, eq=False, repr=False)
class SymbolInfo(Record):
    """A symbol resolved for an address, crash style."""

    name: str
    offset: int
    size: int
    module: str | None
    is_data: bool = False
    """True for a data object (``SymbolKind.OBJECT``: kallsyms d/D/b/B/r/R, ELF
    STT_OBJECT), False for functions and assembler code."""


@dataclass
class KernelSession:
    """A drgn program on a dump plus what ktriage knows about it."""

    prog: drgn.Program
    ident: DumpIdentity
    debuginfo: DebuginfoFacts
    unreadable: list[str] = field(default_factory=list)
    """What could not be read so far, one line each."""
    index_file: Path | None = None
    """Where the vmlinux's symbol index is kept (DWARF tier; ``None``: not kept)."""
    _index: ElfSymbolIndex | None = None
    _index_tried: bool = False
    _module_labels: list[drgn.Symbol] | None = None
    _module_ranges: list[tuple[int, int, str]] | None = None
    _symbols: dict[int, SymbolInfo | None] = field(default_factory=dict)
    _extents: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    _lookups: int = 0

    def note_unreadable(self, what: str) -> None:
        """Record one thing that could not be read (kept once)."""
        if what not in self.unreadable:
            self.unreadable.append(what)

    def attempt(self, what: str, func: Callable[[], T]) -> T | None:
        """
        Run ``func``; if the dump cannot answer (missing page, missing type,
        corrupt data), note ``what`` as unreadable and return ``None``.
        """
        try:
            return func()
        except READ_ERRORS as e:
            self.note_unreadable(f"{what}: {e}")
            return None

    # Symbolization -----------------------------------------------------------

    def _cached_index(self) -> ElfSymbolIndex | None:
        # The index saved for this vmlinux build by an earlier run, if any.
        if not self._index_tried:
            self._index_tried = True
            path = self.index_file
            if path is not None and self.debuginfo.tier == Tier.DWARF:
                try:
                    data = path.read_bytes()
                    start = self.prog.symbol("_text").address
                except (OSError, LookupError):
                    return None
                self._index = ElfSymbolIndex.loads(data, start)
        return self._index

    def _symbol_index(self) -> ElfSymbolIndex | None:
        # DWARF tier only: kallsyms finders (BTF and symbols tiers) are indexed.
        if self.debuginfo.tier != Tier.DWARF:
            return None
        if self._cached_index() is None:
            prog = self.prog
            enabled = prog.enabled_symbol_finders()
            try:
                start = prog.symbol("_text").address
                end = prog.symbol("_end").address
                # The ELF symbols only: listing the kallsyms finders too would
                # decode every module's symbols for nothing (the index keeps the
                # kernel image's).
                if "elf" in enabled:
                    prog.set_enabled_symbol_finders(["elf"])
                symbols = prog.symbols()
            except (LookupError, ValueError):
                return None
            finally:
                prog.set_enabled_symbol_finders(enabled)
            self._index = ElfSymbolIndex.from_symbols(symbols, start, end)
            self._save_index(self._index)
        return self._index

    def _save_index(self, index: ElfSymbolIndex) -> None:
        path = self.index_file
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(index.dumps())
            partial.replace(path)
        except OSError:
            pass

    def _symbol(self, address: int) -> drgn.Symbol | None:
        # drgn walks the whole ELF symbol table per lookup (~1-2 ms); after a few
        # lookups, the sorted copy (~0.06 s to make, or saved by an earlier run of
        # the same build) is the cheaper way.
        self._lookups += 1
        index = self._cached_index()
        if index is None and self._lookups > _LOOKUPS_BEFORE_INDEX:
            index = self._symbol_index()
        if index is not None and index.covers(address):
            found = index.containing(address)
            if found is not None:
                return found
        try:
            return self.prog.symbol(address)
        except LookupError:
            return None

    def module_of(self, address: int) -> str | None:
        """Name of the loaded module whose memory holds ``address``, if any."""
        if self._module_ranges is None:
            ranges = []
            try:
                for module in self.prog.modules():
                    if isinstance(module, drgn.RelocatableModule):
                        for start, end in _module_address_ranges(module):
                            ranges.append((start, end, module.name))
            except (LookupError, ValueError):
                pass
            ranges.sort()
            self._module_ranges = ranges
        for start, end, name in self._module_ranges:
            if start <= address < end:
                return name
        return None

    def symbolize(self, address: int) -> SymbolInfo | None:
        """The symbol containing ``address``, named as crash names it."""
        if address in self._symbols:
            return self._symbols[address]
        info = self._symbolize(address)
        self._symbols[address] = info
        return info

    def _symbolize(self, address: int) -> SymbolInfo | None:
        sym = self._symbol(address)
        if sym is None:
            return None
        name, start = sym.name, sym.address
        size = sym.size
        index = self._symbol_index() if sym.kind == drgn.SymbolKind.UNKNOWN else None
        if index is not None:
            # Zero-sized symbols are assembler labels inside bigger symbols, such
            # as entry_SYSCALL_64_after_hwframe inside entry_SYSCALL_64; crash
            # names a PC after the nearest preceding symbol, so they matter.
            # (kallsyms symbols already end at the next symbol, labels included.)
            if index.covers(address):
                label = index.label_in(start, address)
            else:
                label = self._module_label(start, address)
            if label is not None:
                name, start = label.name, label.address
                size = sym.address + sym.size - label.address
        return SymbolInfo(
            name=name,
            offset=address - start,
            size=size,
            module=self.module_of(address),
            is_data=sym.kind == drgn.SymbolKind.OBJECT,
        )

    def _module_label(self, start: int, address: int) -> drgn.Symbol | None:
        # Outside the kernel image (module code): the zero-sized symbols of every
        # finder (module debug files, module kallsyms), listed once; the nearest
        # below or at the address, and at one address the last listed.
        if self._module_labels is None:
            try:
                symbols = self.prog.symbols()
            except (LookupError, ValueError):
                symbols = []
            index = self._index
            self._module_labels = [
                s
                for s in symbols
                if not s.size
                and s.kind not in LABEL_KINDS_IGNORED
                and not (index is not None and index.covers(s.address))
            ]
        best = None
        for symbol in self._module_labels:
            if start < symbol.address <= address and (
                best is None or symbol.address >= best.address
            ):
                best = symbol
        return best

    def extent(self, name: str) -> tuple[int, int] | None:
        """``(start, end)`` of the symbol called ``name``, or ``None``; looked up once
        (a lookup by name walks the whole ELF symbol table on the DWARF tier)."""
        if name not in self._extents:
            try:
                symbol = self.prog.symbol(name)
            except LookupError:
                self._extents[name] = None
            else:
                self._extents[name] = (symbol.address, symbol.address + symbol.size)
        return self._extents[name]

    def format_symbol(self, address: int) -> str | None:
        """``func+0x12/0x40 [module]`` for ``address``, or ``None``."""
        info = self.symbolize(address)
        if info is None:
            return None
        text = f"{info.name}+0x{info.offset:x}/0x{info.size:x}"
        return f"{text} [{info.module}]" if info.module else text

    # Reading -----------------------------------------------------------------

    def read_u64(self, address: int) -> int | None:
        """A 64-bit word of kernel memory, or ``None`` if it cannot be read."""
        try:
            return int(self.prog.read_u64(address))
        except drgn.FaultError:
            return None


def _module_address_ranges(module: drgn.Module) -> list[tuple[int, int]]:
    # drgn 0.3.0 exposes address_ranges; older releases address_range.
    ranges = getattr(module, "address_ranges", None)
    if ranges is not None:
        return [(int(s), int(e)) for s, e in ranges]
    single = getattr(module, "address_range", None)
    return [(int(single[0]), int(single[1]))] if single else []
