"""
Packed strings
--------------

Tens of thousands of symbol names kept as one string and the offset where each
starts: loading a saved table then costs one ``array`` copy instead of making a
Python string per name (13 ms and 7 MB for the 94k-163k kallsyms names of a
Debian kernel); a name is sliced out when asked for.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Sequence
from typing import overload

__all__ = ("PackedStrings",)


class PackedStrings(Sequence[str]):
    """A read-only sequence of strings stored as ``text`` and their ``starts``."""

    def __init__(self, text: str, starts: array[int]) -> None:
        if not starts or starts[0] != 0 or starts[-1] != len(text):
            raise ValueError("string offsets do not match the text")
        self.text = text
        self.starts = starts
        """``len(self) + 1`` offsets: string ``i`` is ``text[starts[i]:starts[i + 1]]``."""

    @classmethod
    def pack(cls, strings: Iterable[str]) -> PackedStrings:
        """Pack *strings* (a ``PackedStrings`` is returned as it is)."""
        if isinstance(strings, PackedStrings):
            return strings
        strings = list(strings)
        starts = array("I", itertools.accumulate(map(len, strings), initial=0))
        return cls("".join(strings), starts)

    def __len__(self) -> int:
        return len(self.starts) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("string index out of range")
        return self.text[self.starts[i] : self.starts[i + 1]]
