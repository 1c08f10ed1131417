"""
Kallsyms
--------

Symbols from the kernel's own kallsyms tables in the dump, for programs opened
without a vmlinux. drgn reads them (``drgn.helpers.linux.kallsyms``); this module
registers them with the program and fixes what would otherwise mislead:

- Per-CPU symbols are offsets from zero (``__per_cpu_start`` is 0 on x86-64 SMP), so
  an address lookup below ``__per_cpu_end`` would name small numbers, NULL included
  (``__per_cpu_start+0x0``). Such lookups find nothing here; lookups by name still
  find the per-CPU symbols.
- kallsyms has no sizes: drgn sets a symbol's size to the distance to the next one.
  Never take an object's length from it (see :mod:`ktriage.symbols.declarations`).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import drgn
from drgn.helpers.linux.kallsyms import load_module_kallsyms, load_vmlinux_kallsyms

from ktriage.errors import DebuginfoError

__all__ = (
    "KallsymsFinder",
    "KallsymsInfo",
    "load_kallsyms",
    "load_module_symbols",
)

VMLINUX_FINDER = "ktriage-kallsyms"
MODULE_FINDER = "ktriage-module-kallsyms"
_CACHE_KEY = "ktriage.symbols.kallsyms"


class KallsymsFinder:
    """A drgn symbol finder over a kallsyms index, with kallsyms' traps fixed.

    - Address lookups below ``per_cpu_end`` find nothing (per-CPU offsets).
    - drgn's index gives a symbol no size when the next symbol is 64 KiB or more
      away (``_printk_rb_static_descs``, 96 KiB) or at the same address: addresses
      in such a symbol are found here, with the distance to the next symbol as size.
    - At an address shared with a linker-script marker, the other name wins.
    """

    def __init__(
        self, index: drgn.SymbolIndex, per_cpu_end: int, image: tuple[int, int] = (0, 0)
    ) -> None:
        self.index = index
        """The drgn symbol index."""
        self.per_cpu_end = per_cpu_end
        """Address lookups below this find nothing (0 when per-CPU symbols are absolute)."""
        self.image = image
        """``(start, end)`` where the unsized symbols' extents are looked up."""
        self._table: _SizeTable | None = None

    def __call__(
        self, prog: drgn.Program, name: str | None, address: int | None, one: bool
    ) -> Sequence[drgn.Symbol]:
        """The ``prog.register_symbol_finder`` callback."""
        if address is not None and address < self.per_cpu_end:
            return []
        found: Sequence[drgn.Symbol] = self.index(prog, name, address, one)
        if address is not None and name is None:
            if found:
                found = [self._prefer_alias(prog, symbol) for symbol in found]
            elif self.image[0] <= address < self.image[1]:
                unsized = self._unsized(prog, address)
                found = [unsized] if unsized is not None else []
        return found

    def _sizes(self, prog: drgn.Program) -> _SizeTable:
        if self._table is None:
            self._table = _SizeTable(self.index(prog, None, None, False))
        return self._table

    def _prefer_alias(self, prog: drgn.Program, symbol: drgn.Symbol) -> drgn.Symbol:
        # A function at the start of a section shares its address with the linker's
        # marker (io_schedule_timeout and __sched_text_start); drgn's index gives
        # the marker the size and the function none. Name the function, as the
        # kernel does (scripts/kallsyms.c ranks linker-script symbols last).
        if not _is_linker_symbol(symbol.name):
            return symbol
        alias = self._sizes(prog).aliases.get(symbol.address)
        if alias is None:
            return symbol
        return drgn.Symbol(alias, symbol.address, symbol.size, symbol.binding, symbol.kind)

    def _unsized(self, prog: drgn.Program, address: int) -> drgn.Symbol | None:
        # Nothing sized contains the address: sizes run up to the next symbol, so the
        # nearest unsized symbol below it is the one (when the next symbol is above).
        table = self._sizes(prog)
        i = bisect.bisect_right(table.unsized_addresses, address) - 1
        if i < 0:
            return None
        symbol = table.unsized[i]
        j = bisect.bisect_right(table.addresses, symbol.address)
        end = table.addresses[j] if j < len(table.addresses) else self.image[1]
        if not symbol.address <= address < end:
            return None
        return drgn.Symbol(
            symbol.name, symbol.address, end - symbol.address, symbol.binding, symbol.kind
        )


class _SizeTable:
    # Every symbol address, the unsized symbols (preferring names that are not
    # linker markers at shared addresses) and the aliases of linker markers.
    def __init__(self, symbols: Sequence[drgn.Symbol]) -> None:
        self.addresses = array("Q", sorted({symbol.address for symbol in symbols}))
        unsized: dict[int, drgn.Symbol] = {}
        self.aliases: dict[int, str] = {}
        for symbol in symbols:
            if symbol.size:
                continue
            linker = _is_linker_symbol(symbol.name)
            if not linker:
                self.aliases.setdefault(symbol.address, symbol.name)
            known = unsized.get(symbol.address)
            if known is None or (_is_linker_symbol(known.name) and not linker):
                unsized[symbol.address] = symbol
        self.unsized = [unsized[address] for address in sorted(unsized)]
        self.unsized_addresses = [symbol.address for symbol in self.unsized]


def _is_linker_symbol(name: str) -> bool:
    # Names the linker script defines: __start_x/__stop_x, _stext, __x_start,
    # _x_end, __x_begin... (the pattern scripts/kallsyms.c ranks last).
    if name.startswith(("__start_", "__stop_")):
        return True
    return name.startswith("_") and name.endswith(("_start", "_end", "_begin", "text"))


@dataclass(frozen=True, kw_only=True)
class KallsymsInfo:
    """What :func:`load_kallsyms` found."""

    count: int
    """Number of vmlinux symbols (``kallsyms_num_syms``)."""
    text: tuple[int, int]
    """``(_text, _end)``: the kernel image's address range."""
    per_cpu_end: int
    """``__per_cpu_end`` when per-CPU symbols are zero-based, else 0."""


def load_kallsyms(prog: drgn.Program) -> KallsymsInfo:
    """Register the vmlinux kallsyms of the dump as *prog*'s first symbol finder.

    Needs Linux 6.0 or later, or a backport of commit f09bddbd8661 ("vmcoreinfo: add
    kallsyms_num_syms symbol"), for the kallsyms addresses in VMCOREINFO.

    Calling it again on the same program returns what the first call found.

    :raises DebuginfoError: when the dump's VMCOREINFO does not locate kallsyms
    """
    loaded = prog.cache.get(_CACHE_KEY)
    if isinstance(loaded, KallsymsInfo):
        return loaded
    try:
        index = load_vmlinux_kallsyms(prog)
    except (drgn.FaultError, LookupError, ValueError, drgn.MissingDebugInfoError) as e:
        raise DebuginfoError(
            f"cannot read kallsyms from the dump: {e}",
            "the kernel may predate kallsyms in VMCOREINFO (6.0); give a vmlinux",
        ) from e

    def address(name: str) -> int:
        found = index(prog, name, None, True)
        if not found:
            raise DebuginfoError(
                f"kallsyms has no {name}", "the kallsyms tables in the dump look corrupt"
            )
        return int(found[0].address)

    per_cpu_start = index(prog, "__per_cpu_start", None, True)
    per_cpu_end = 0
    if per_cpu_start and per_cpu_start[0].address == 0:
        per_cpu_end = address("__per_cpu_end")
    text = (address("_text"), address("_end"))
    if not text[0] < text[1]:
        raise DebuginfoError("kallsyms gives an empty kernel image", "the dump looks corrupt")
    count = _num_syms(prog)
    finder = KallsymsFinder(index, per_cpu_end, text)
    prog.register_symbol_finder(VMLINUX_FINDER, finder, enable_index=0)
    info = KallsymsInfo(count=count, text=text, per_cpu_end=per_cpu_end)
    prog.cache[_CACHE_KEY] = info
    return info


def _num_syms(prog: drgn.Program) -> int:
    # kallsyms has no symbol for its own tables; VMCOREINFO has their addresses.
    try:
        vmcoreinfo = prog["VMCOREINFO"].string_()
        for line in vmcoreinfo.splitlines():
            if line.startswith(b"SYMBOL(kallsyms_num_syms)="):
                return int(prog.read_u32(int(line.partition(b"=")[2], 16)))
    except (drgn.FaultError, LookupError, ValueError):
        pass
    return 0


def load_module_symbols(prog: drgn.Program) -> int:
    """Register the kallsyms of loaded modules; returns how many symbols there are.

    Needs the types of ``struct module`` (from BTF or DWARF) and the ``modules``
    list. Module symbols are absolute addresses, so nothing is hidden.
    """
    index = load_module_kallsyms(prog)
    prog.register_symbol_finder(MODULE_FINDER, KallsymsFinder(index, 0), enable_index=1)
    return len(index(prog, None, None, False))
