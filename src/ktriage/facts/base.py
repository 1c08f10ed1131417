"""
Fact base
---------

Facts are frozen, typed records that can be turned into JSON. Addresses are
:class:`Hex` integers so renderers show them as ``0x...`` and JSON writes them as
``"0x..."`` strings. A value that could not be read is ``None``; the record that
holds it says why in its ``missing`` field where that matters.
"""

import dataclasses
import enum
import reprlib
from collections.abc import Mapping
from typing import Any

__all__ = (
    "Hex",
    "Record",
    "to_jsonable",
)


class Hex(int):
    """An integer (usually an address) that is shown in hexadecimal."""

    def __repr__(self) -> str:
        return f"Hex(0x{int(self):x})"

    def __str__(self) -> str:
        return f"0x{int(self):x}"


class Record:
    """Base of ktriage's frozen dataclasses, declared
    ``@dataclass(frozen=True, eq=False, repr=False)``: ``==``, ``hash()`` and
    ``repr()`` as dataclasses make them (fields with ``compare``, ``hash`` and
    ``repr`` as they say), written once here instead of generated and compiled for
    each class (Python 3.11 compiles every generated method on its own: 0.3 ms a
    class, 15 ms of every analysis's start-up).
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = _roles(self.__class__)[0]
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _roles(self.__class__)[1]))

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        cls = self.__class__
        items = ", ".join(f"{n}={getattr(self, n)!r}" for n in _roles(cls)[2])
        return f"{cls.__qualname__}({items})"


_ROLES: dict[type, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}


def _roles(cls: type) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    # The fields compared, hashed and shown, as dataclasses choose them.
    roles = _ROLES.get(cls)
    if roles is None:
        fields = dataclasses.fields(cls)
        roles = _ROLES[cls] = (
            tuple(f.name for f in fields if f.compare),
            tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)),
            tuple(f.name for f in fields if f.repr),
        )
    return roles


_FIELDS: dict[type, tuple[str, ...]] = {}
"""The JSON field names of each fact class seen (its public dataclass fields)."""


def _fields(cls: type) -> tuple[str, ...] | None:
    names = _FIELDS.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(cls):
            return None
        names = _FIELDS[cls] = tuple(
            f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")
        )
    return names


def to_jsonable(value: Any) -> Any:
    """
    Convert a fact (dataclass, enum, :class:`Hex`, tuple, mapping) to plain JSON
    types. Hex values become ``"0x..."`` strings; bytes are decoded as UTF-8 with
    replacement.
    """
    # The exact types of nearly every value first (a report has thousands).
    cls = type(value)
    if cls is str or cls is int or cls is bool or cls is float or value is None:
        return value
    if cls is Hex:
        return f"0x{int(value):x}"
    if cls is tuple or cls is list:
        return [to_jsonable(v) for v in value]
    names = _fields(cls)
    if names is not None:
        return {name: to_jsonable(getattr(value, name)) for name in names}
    if isinstance(value, Hex):
        return f"0x{int(value):x}"
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")
