"""
Memory facts
------------

What crash's ``kmem ADDR`` shows about an address, and ``kmem -i``.
"""

from dataclasses import dataclass

from ktriage.facts.base import Hex, Record

__all__ = ("AddressFacts", "StackHealth")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class AddressFacts(Record):
    """What owns an address."""

    address: Hex
    source: str
    """Where the address came from: ``cr2``, ``rip``, ``rax``, ..."""
    kind: str
    """``slab``, ``page``, ``task_struct``, ``kernel-stack``, ``module``, ``vmalloc``,
    ``symbol``, ``user``, ``non-canonical``, ``null-page``, ``direct-map``, ``unknown``."""
    description: str
    """One line as a person would say it."""
    symbol: str | None = None
    module: str | None = None
    slab_cache: str | None = None
    object_address: Hex | None = None
    object_size: int | None = None
    allocated: bool | None = None
    """For slab objects: allocated (True), free (False), or unknown (None)."""
    page: Hex | None = None
    page_flags: tuple[str, ...] = ()
    task: Hex | None = None
    pid: int | None = None
    comm: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class StackHealth(Record):
    """Result of crash's ``bt -v`` checks for one task."""

    pid: int
    comm: str
    task: Hex
    ok: bool
    problem: str | None = None
