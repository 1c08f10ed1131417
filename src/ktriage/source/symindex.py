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
import itertools
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

    def _by_address(
        self, which: list[int], image_only: bool = True
    ) -> tuple[list[int], list[int]]:
        # (addresses, table indexes) of the symbols *which*, by address (then table
        # order), kept to the image unless told otherwise.
        addresses = list(map(operator.attrgetter("address"), map(self._symbols.__getitem__, which)))
        # Sorted by offset from the image's start: small integers compare several
        # times faster than 64-bit addresses (two-digit Python integers). Stable,
        # so that one address keeps table order.
        start = self.start
        offsets = [address - start for address in addresses]
        order = sorted(range(len(offsets)), key=offsets.__getitem__)
        if image_only:
            in_order = [offsets[i] for i in order]
            order = order[
                bisect.bisect_left(in_order, 0) : bisect.bisect_left(in_order, self.end - start)
            ]
        return [addresses[i] for i in order], [which[i] for i in order]

    def _build_labels(self) -> None:
        # By address (then table order), so that each question bisects.
        zero = list(itertools.compress(itertools.count(), map(operator.not_, self._sizes)))
        self.label_starts, self._labels = self._by_address(zero, image_only=False)

    def _build_sized(self) -> None:
        sizes = self._sizes
        sized = list(itertools.compress(itertools.count(), sizes))
        self.starts, self._sized = self._by_address(sized)
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

    def label_in(self, start: int, address: int) -> drgn.Symbol | None:
        """The zero-sized symbol nearest below or at ``address`` and above ``start``
        (not a section or file symbol); at one address, the last listed."""
        if self._labels is None:
            self._build_labels()
        assert self._labels is not None
        lo = bisect.bisect_right(self.label_starts, start)
        hi = bisect.bisect_right(self.label_starts, address)
        # Highest address first; at one address, the last listed.
        for i in reversed(self._labels[lo:hi]):
            symbol = self._symbols[i]
            if symbol.kind not in _IGNORED:
                return symbol
        return None
