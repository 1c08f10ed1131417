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
from collections.abc import Mapping
from typing import Any

__all__ = (
    "Hex",
    "to_jsonable",
)


class Hex(int):
    """An integer (usually an address) that is shown in hexadecimal."""

    def __repr__(self) -> str:
        return f"Hex(0x{int(self):x})"

    def __str__(self) -> str:
        return f"0x{int(self):x}"


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
