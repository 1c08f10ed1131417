"""
vmlinux symbol index
--------------------

drgn 0.3.0 answers an address lookup in a vmlinux ELF symbol table by walking the
table: about 2 ms per lookup on a Debian kernel (135k symbols), which a backtrace
with its stack scan pays a hundred times. :class:`ElfSymbolIndex` copies the
kernel image's symbols once (~0.08 s, what listing them costs anyway) and finds
the symbols that contain an address with a binary search, choosing among them as
drgn does (libdrgn/elf_symtab.c): the one that starts closest below the address,
then the shortest, then global over weak over local, then the one listed first.

When no sized symbol contains the address, drgn may answer with a zero-sized one
(an assembler label) after checking ELF sections, which a ``drgn.Symbol`` does not
carry: :meth:`ElfSymbolIndex.containing` says ``None`` and the caller asks drgn.
Tests check the index against ``prog.symbol()`` on thousands of addresses.
"""

from __future__ import annotations

import bisect
import operator

import drgn

__all__ = ("ElfSymbolIndex",)

_PRECEDENCE = {
    drgn.SymbolBinding.GLOBAL: 3,
    drgn.SymbolBinding.UNIQUE: 3,
    drgn.SymbolBinding.WEAK: 2,
}
_IGNORED = (drgn.SymbolKind.SECTION, drgn.SymbolKind.FILE, drgn.SymbolKind.TLS)
_MAX_BACK = 64
"""Symbols to look back for one that contains the address (nested symbols)."""


class ElfSymbolIndex:
    """Address lookups over the symbols of the kernel image ``[start, end)``."""

    def __init__(self, symbols: list[drgn.Symbol], start: int, end: int) -> None:
        # Each attribute of a drgn.Symbol is read once, in C loops: they are
        # computed per read, and there are 100k symbols or more. 64-bit addresses
        # are slow Python integers, so each table is made when a lookup needs it.
        self._symbols = symbols
        self.start, self.end = start, end
        self._sizes_list: list[int] | None = None
        self._labels: list[int] | None = None
        self.label_starts: list[int] = []
        self._sized: list[int] | None = None
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._longest = 0

    @property
    def _sizes(self) -> list[int]:
        if self._sizes_list is None:
            self._sizes_list = list(map(operator.attrgetter("size"), self._symbols))
        return self._sizes_list

    def _build_labels(self) -> None:
        symbols = self._symbols
        zero = [i for i, size in enumerate(self._sizes) if not size]
        addresses = list(map(operator.attrgetter("address"), map(symbols.__getitem__, zero)))
        labels = [
            (a, i) for a, i in zip(addresses, zero, strict=True) if self.start <= a < self.end
        ]
        labels.sort()
        self.label_starts = [a for a, _ in labels]
        self._labels = [i for _, i in labels]

    def _build_sized(self) -> None:
        symbols, sizes = self._symbols, self._sizes
        sized = [i for i, size in enumerate(sizes) if size]
        addresses = list(map(operator.attrgetter("address"), map(symbols.__getitem__, sized)))
        keyed = [
            (a, i) for a, i in zip(addresses, sized, strict=True) if self.start <= a < self.end
        ]
        # Sorted by address; at one address, in the table's order (a stable sort).
        keyed.sort()
        self._sized = [i for _, i in keyed]
        self.starts = [a for a, _ in keyed]
        lengths = list(map(sizes.__getitem__, self._sized))
        self.ends = list(map(operator.add, self.starts, lengths))
        self._longest = max(lengths, default=0)

    def covers(self, address: int) -> bool:
        """Whether ``address`` is in the kernel image this index answers for."""
        return self.start <= address < self.end

    def containing(self, address: int) -> drgn.Symbol | None:
        """The sized symbol ``prog.symbol(address)`` gives, or ``None`` if no sized
        symbol contains the address (drgn may then name a zero-sized one)."""
        if self._sized is None:
            self._build_sized()
        assert self._sized is not None
        last = bisect.bisect_right(self.starts, address) - 1
        best: drgn.Symbol | None = None
        best_key: tuple[int, int, int] | None = None
        i = last
        while i >= 0 and last - i < _MAX_BACK and self.starts[i] > address - self._longest:
            if address < self.ends[i]:
                symbol = self._symbols[self._sized[i]]
                key = (symbol.address, -symbol.size, _PRECEDENCE.get(symbol.binding, 1))
                # Going down the list: on a tie the one listed first wins.
                if best_key is None or key >= best_key:
                    best, best_key = symbol, key
            i -= 1
        return best

    def label_before(self, address: int) -> drgn.Symbol | None:
        """The nearest zero-sized symbol at or below ``address`` (not a section or
        file symbol)."""
        if self._labels is None:
            self._build_labels()
        assert self._labels is not None
        i = bisect.bisect_right(self.label_starts, address) - 1
        while i >= 0:
            symbol = self._symbols[self._labels[i]]
            if symbol.kind not in _IGNORED:
                return symbol
            i -= 1
        return None
