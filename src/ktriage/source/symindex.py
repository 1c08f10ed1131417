"""
vmlinux symbol index
--------------------

drgn 0.3.0 answers an address lookup in a vmlinux ELF symbol table by walking the
table: about 2 ms per lookup on a Debian kernel (135k symbols), which a backtrace
with its stack scan pays a hundred times. :class:`ElfSymbolIndex` copies the
kernel image's symbols once (~0.06 s, what listing them costs anyway) and finds
the symbols that contain an address with a binary search, choosing among them as
drgn does (libdrgn/elf_symtab.c): the one that starts closest below the address,
then the shortest, then global over weak over local, then the one listed first.

When no sized symbol contains the address, drgn may answer with a zero-sized one
(an assembler label) after checking ELF sections, which a ``drgn.Symbol`` does not
carry: :meth:`ElfSymbolIndex.containing` says ``None`` and the caller asks drgn.
Tests check the index against ``prog.symbol()`` on thousands of addresses.

The index of a vmlinux is the same for every dump of its build: :meth:`dumps`
and :meth:`loads` keep it (by build ID, in the session's cache), so later dumps
of the build load it in a millisecond or two instead of listing 135k symbols.
"""

from __future__ import annotations

import bisect
import itertools
import marshal
import operator
import zlib
from array import array
from collections.abc import Sequence

import drgn

from ktriage.packed import PackedStrings

__all__ = ("LABEL_KINDS_IGNORED", "ElfSymbolIndex")

_PRECEDENCE = {
    drgn.SymbolBinding.GLOBAL.value: 3,
    drgn.SymbolBinding.UNIQUE.value: 3,
    drgn.SymbolBinding.WEAK.value: 2,
}
LABEL_KINDS_IGNORED = (
    drgn.SymbolKind.SECTION,
    drgn.SymbolKind.FILE,
    drgn.SymbolKind.TLS,
)
"""Zero-sized symbols of these kinds are no labels to name an address after."""
_BINDING = operator.attrgetter("binding")
_KIND = operator.attrgetter("kind")
_BINDING_VALUES = {binding: binding.value for binding in drgn.SymbolBinding}
_KIND_VALUES = {kind: kind.value for kind in drgn.SymbolKind}
_MAX_BACK = 64
"""Symbols to look back for one that contains the address (nested symbols)."""
_FORMAT = 2
_MAGIC = b"ktsymidx"


class _Table:
    # Symbols by address (table order among equals), as offsets from a base (the
    # kernel image's _text: the table then holds for any KASLR slide), sizes,
    # names and (binding, kind) values; a drgn.Symbol is made for what a lookup
    # returns.
    def __init__(
        self,
        base: int,
        offsets: Sequence[int],
        sizes: Sequence[int],
        names: Sequence[str],
        kinds: bytes,
    ) -> None:
        if not len(offsets) == len(sizes) == len(names) == len(kinds) // 2:
            raise ValueError("symbol index columns differ in length")
        self.base = base
        self.offsets = offsets
        self.sizes = sizes
        self.names = names
        self.kinds = kinds
        self._made: dict[int, drgn.Symbol] = {}

    @classmethod
    def of(cls, symbols: list[drgn.Symbol], base: int) -> _Table:
        # Each attribute of a drgn.Symbol is read once, in C loops (they are
        # computed per read). Offsets from the base are also small integers, which
        # sort several times faster than 64-bit addresses; stable, so that one
        # address keeps table order.
        offsets = [address - base for address in map(operator.attrgetter("address"), symbols)]
        order = sorted(range(len(offsets)), key=offsets.__getitem__)
        symbols = list(map(symbols.__getitem__, order))
        # (binding, kind) as bytes; an enum's .value is a slow property, a dict is not.
        kinds = bytearray(2 * len(symbols))
        kinds[0::2] = bytes(map(_BINDING_VALUES.__getitem__, map(_BINDING, symbols)))
        kinds[1::2] = bytes(map(_KIND_VALUES.__getitem__, map(_KIND, symbols)))
        return cls(
            base,
            list(map(offsets.__getitem__, order)),
            list(map(operator.attrgetter("size"), symbols)),
            PackedStrings.pack(map(operator.attrgetter("name"), symbols)),
            bytes(kinds),
        )

    def __len__(self) -> int:
        return len(self.offsets)

    def binding(self, i: int) -> int:
        return self.kinds[2 * i]

    def kind(self, i: int) -> int:
        return self.kinds[2 * i + 1]

    def symbol(self, i: int) -> drgn.Symbol:
        found = self._made.get(i)
        if found is None:
            found = self._made[i] = drgn.Symbol(
                self.names[i],
                self.base + self.offsets[i],
                self.sizes[i],
                drgn.SymbolBinding(self.binding(i)),
                drgn.SymbolKind(self.kind(i)),
            )
        return found

    def dump(self) -> bytes:
        names = PackedStrings.pack(self.names)
        offsets = _packed_ints(self.offsets, "iq")
        sizes = _packed_ints(self.sizes, "IQ")
        state = (offsets.typecode, offsets.tobytes(), sizes.typecode, sizes.tobytes())
        return marshal.dumps((*state, names.text, names.starts.tobytes(), self.kinds))

    @classmethod
    def load(cls, base: int, data: bytes | memoryview) -> _Table:
        offset_code, raw_offsets, size_code, raw_sizes, text, raw_starts, kinds = marshal.loads(
            data
        )
        offsets, sizes, starts = array(offset_code), array(size_code), array("I")
        offsets.frombytes(raw_offsets)
        sizes.frombytes(raw_sizes)
        starts.frombytes(raw_starts)
        return cls(base, offsets, sizes, PackedStrings(text, starts), kinds)


def _packed_ints(values: Sequence[int], codes: str) -> array[int]:
    # The smallest of the array typecodes *codes* that holds every value.
    for code in codes[:-1]:
        try:
            return array(code, values)
        except OverflowError:
            continue
    return array(codes[-1], values)


class _Lazy:
    # A table saved by _Table.dump, read on first use (a backtrace may need the
    # labels or the sized symbols only).
    def __init__(self, base: int, data: bytes | memoryview) -> None:
        self._base = base
        self._data: bytes | memoryview | None = data
        self._table: _Table | None = None

    def get(self) -> _Table:
        if self._table is None:
            assert self._data is not None
            self._table = _Table.load(self._base, self._data)
            self._data = None
        return self._table


class ElfSymbolIndex:
    """Address lookups over the symbols of the kernel image ``[start, end)``."""

    def __init__(
        self, start: int, end: int, sized: _Table | _Lazy, labels: _Table | _Lazy, longest: int
    ) -> None:
        self.start, self.end = start, end
        self._sized_table = sized
        self._labels_table = labels
        self._longest = longest
        """The longest sized symbol: no symbol further below an address contains it."""

    @property
    def _sized(self) -> _Table:
        """The sized symbols in the image, by address."""
        if isinstance(self._sized_table, _Lazy):
            self._sized_table = self._sized_table.get()
        return self._sized_table

    @property
    def _labels(self) -> _Table:
        """The image's zero-sized symbols (not section, file or TLS ones), by address."""
        if isinstance(self._labels_table, _Lazy):
            self._labels_table = self._labels_table.get()
        return self._labels_table

    @classmethod
    def from_symbols(cls, symbols: list[drgn.Symbol], start: int, end: int) -> ElfSymbolIndex:
        """The index of a symbol table's symbols (``prog.symbols()`` of the ELF finder)."""
        sizes = list(map(operator.attrgetter("size"), symbols))
        sized = list(itertools.compress(symbols, sizes))
        sized = [s for s in sized if start <= s.address < end]
        zero = list(itertools.compress(symbols, map(operator.not_, sizes)))
        # The image's only: the index holds for every dump of the build, where
        # modules load elsewhere each time (the session finds module labels).
        labels = [s for s in zero if s.kind not in LABEL_KINDS_IGNORED and start <= s.address < end]
        longest = max(map(operator.attrgetter("size"), sized), default=0)
        return cls(start, end, _Table.of(sized, start), _Table.of(labels, start), longest)

    def dumps(self) -> bytes:
        """The index as bytes for :meth:`loads`, its addresses relative to the image's
        start: a header, then each table, each with a CRC of its own."""
        tables = [self._sized.dump(), self._labels.dump()]
        header = marshal.dumps(
            (
                _FORMAT,
                self.end - self.start,
                self._longest,
                [(len(t), zlib.crc32(t)) for t in tables],
            )
        )
        return b"".join((_MAGIC, len(header).to_bytes(4, "little"), header, *tables))

    @classmethod
    def loads(cls, data: bytes, start: int) -> ElfSymbolIndex | None:
        """The index :meth:`dumps` wrote, for an image loaded at *start* (``_text``
        after the dump's KASLR slide), or ``None`` if *data* is not one intact.
        Each table is checked now and read when first used."""
        if not data.startswith(_MAGIC):
            return None
        view = memoryview(data)
        at = len(_MAGIC) + 4
        try:
            size = int.from_bytes(data[len(_MAGIC) : at], "little")
            version, length, longest, tables = marshal.loads(view[at : at + size])
            if version != _FORMAT or len(tables) != 2:
                return None
            at += size
            parts = []
            for table_size, crc in tables:
                part = view[at : at + table_size]
                if len(part) != table_size or zlib.crc32(part) != crc:
                    return None
                parts.append(_Lazy(start, part))
                at += table_size
        except (EOFError, ValueError, TypeError):
            return None
        if at != len(data):
            return None
        return cls(start, start + length, parts[0], parts[1], longest)

    def covers(self, address: int) -> bool:
        """Whether ``address`` is in the kernel image this index answers for."""
        return self.start <= address < self.end

    def containing(self, address: int) -> drgn.Symbol | None:
        """The sized symbol ``prog.symbol(address)`` gives, or ``None`` if no sized
        symbol contains the address (drgn may then name a zero-sized one)."""
        table = self._sized
        offsets, sizes = table.offsets, table.sizes
        at = address - table.base
        last = bisect.bisect_right(offsets, at) - 1
        best: int | None = None
        best_key: tuple[int, int, int] | None = None
        i = last
        while i >= 0 and last - i < _MAX_BACK and offsets[i] > at - self._longest:
            if at < offsets[i] + sizes[i]:
                key = (offsets[i], -sizes[i], _PRECEDENCE.get(table.binding(i), 1))
                # Going down the list: on a tie the one listed first wins.
                if best_key is None or key >= best_key:
                    best, best_key = i, key
            i -= 1
        return None if best is None else table.symbol(best)

    def label_in(self, start: int, address: int) -> drgn.Symbol | None:
        """The zero-sized symbol nearest below or at ``address`` and above ``start``
        (not a section or file symbol); at one address, the last listed."""
        table = self._labels
        lo = bisect.bisect_right(table.offsets, start - table.base)
        hi = bisect.bisect_right(table.offsets, address - table.base)
        return table.symbol(hi - 1) if hi > lo else None
