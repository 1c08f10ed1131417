"""
Address layout
--------------

Where an address lies in the x86-64 kernel address space: NULL page, user space,
non-canonical hole, kernel or module text, kernel data, direct map, vmalloc,
vmemmap. Reads the randomized bases (``page_offset_base``, ``vmalloc_base``,
``vmemmap_base``) from the dump; falls back to the documented defaults of
Documentation/arch/x86/x86_64/mm.rst.
"""

from dataclasses import dataclass

import drgn

from ktriage.facts import RipKind
from ktriage.facts.base import Record
from ktriage.source.session import READ_ERRORS, KernelSession

__all__ = ("KernelLayout", "classify_address", "kernel_layout")

# Addresses below this are the "NULL page" area: a NULL pointer plus a small
# structure offset (mmap_min_addr defaults to 64 KiB).
NULL_PAGE_LIMIT = 0x10000
USER_END = 0x0000_8000_0000_0000
KERNEL_START = 0xFFFF_8000_0000_0000
# 4-level paging sizes (Documentation/arch/x86/x86_64/mm.rst).
VMALLOC_SIZE = 32 << 40
VMEMMAP_SIZE = 1 << 40


@dataclass(frozen=True, eq=False, repr=False)
class KernelLayout(Record):
    """The kernel's address space regions for one dump."""

    text: tuple[int, int] | None
    image: tuple[int, int] | None
    direct_map: tuple[int, int] | None
    vmalloc: tuple[int, int] | None
    vmemmap: tuple[int, int] | None
    modules: tuple[int, int] = (0xFFFF_FFFF_A000_0000, 0xFFFF_FFFF_FF00_0000)


def _symbol_address(prog: drgn.Program, name: str) -> int | None:
    try:
        return int(prog.symbol(name).address)
    except LookupError:
        return None


def _global_value(prog: drgn.Program, name: str) -> int | None:
    try:
        return int(prog[name].value_())
    except READ_ERRORS:
        return None


_CACHE_KEY = "ktriage_kernel_layout"


def kernel_layout(session: KernelSession) -> KernelLayout:
    """Compute (once per session) the layout of the kernel's address space."""
    cached = session.prog.cache.get(_CACHE_KEY)
    if isinstance(cached, KernelLayout):
        return cached
    prog = session.prog
    stext, etext = _symbol_address(prog, "_stext"), _symbol_address(prog, "_etext")
    text_start = _symbol_address(prog, "_text") or stext
    end = _symbol_address(prog, "_end")
    page_offset = _global_value(prog, "page_offset_base")
    max_pfn = _global_value(prog, "max_pfn")
    vmalloc = _global_value(prog, "vmalloc_base")
    vmemmap = _global_value(prog, "vmemmap_base")
    layout = KernelLayout(
        text=(text_start, etext) if text_start and etext else None,
        image=(text_start, end) if text_start and end else None,
        direct_map=(page_offset, page_offset + (max_pfn << 12))
        if page_offset and max_pfn
        else None,
        vmalloc=(vmalloc, vmalloc + VMALLOC_SIZE) if vmalloc else None,
        vmemmap=(vmemmap, vmemmap + VMEMMAP_SIZE) if vmemmap else None,
    )
    session.prog.cache[_CACHE_KEY] = layout
    return layout


def _within(region: tuple[int, int] | None, address: int) -> bool:
    return region is not None and region[0] <= address < region[1]


def classify_address(session: KernelSession, address: int) -> tuple[str, str]:
    """
    Classify ``address``: one of :class:`~ktriage.facts.RipKind` and a short
    description (with the symbol or module when there is one).
    """
    if address < NULL_PAGE_LIMIT:
        return RipKind.NULL_PAGE, f"NULL page (NULL pointer plus 0x{address:x})"
    if address < USER_END:
        return RipKind.USER, "user-space address"
    if address < KERNEL_START:
        return RipKind.NON_CANONICAL, "non-canonical address (in the x86-64 address hole)"
    layout = kernel_layout(session)
    module = session.module_of(address)
    if module is not None:
        info = session.symbolize(address)
        sym = session.format_symbol(address)
        if info is not None and info.is_data:
            return RipKind.KERNEL_DATA, f"module {module} data: {sym}"
        return RipKind.MODULE_TEXT, f"module {module}" + (f": {sym}" if sym else "")
    if _within(layout.text, address):
        info = session.symbolize(address)
        sym = session.format_symbol(address)
        if info is not None and info.is_data:
            return RipKind.KERNEL_DATA, f"kernel read-only data in text: {sym}"
        return RipKind.KERNEL_TEXT, f"kernel text: {sym}" if sym else "kernel text"
    if _within(layout.image, address):
        sym = session.format_symbol(address)
        return RipKind.KERNEL_DATA, f"kernel image data: {sym}" if sym else "kernel image data"
    if _within(layout.direct_map, address):
        return RipKind.DIRECT_MAP, "direct map (physical memory: heap, slab or page data)"
    if _within(layout.vmalloc, address):
        return RipKind.VMALLOC, "vmalloc area"
    if _within(layout.vmemmap, address):
        return RipKind.UNKNOWN, "vmemmap (struct page array)"
    if _within(layout.modules, address):
        return RipKind.UNKNOWN, "module area, not in any loaded module"
    return RipKind.UNKNOWN, "kernel address outside known regions"
