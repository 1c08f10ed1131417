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


def to_jsonable(value: Any) -> Any:
    """
    Convert a fact (dataclass, enum, :class:`Hex`, tuple, mapping) to plain JSON
    types. Hex values become ``"0x..."`` strings; bytes are decoded as UTF-8 with
    replacement.
    """
    if isinstance(value, Hex):
        return f"0x{int(value):x}"
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if not field.name.startswith("_")
        }
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")
