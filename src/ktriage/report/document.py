"""
Report document
---------------

A format-neutral description of a report: sections made of typed blocks (key/value
fields, tables, preformatted lines, notes, lists). ``build`` fills it from facts
and the verdict; the text, Markdown and HTML renderers lay it out. Cells keep their
type (``Hex``, ``bool``, ``None``...) and :func:`cell_text` turns them into text,
so the data never carries formatting.
"""

from dataclasses import dataclass
from typing import Literal

from ktriage.facts import Hex
from ktriage.facts.base import Record

__all__ = (
    "ABSENT",
    "Block",
    "Bullets",
    "Cell",
    "Code",
    "Column",
    "Document",
    "Field",
    "Fields",
    "Note",
    "Row",
    "Section",
    "Subheading",
    "Table",
    "cell_text",
)

ABSENT = "-"
"""How text, Markdown and HTML show a value that is absent (``None``)."""

Cell = str | int | float | bool | Hex | None
"""A value in a field or table cell; ``None`` is absent."""


def cell_text(value: Cell) -> str:
    """The text of a cell: ``-`` for absent, ``0x...`` for addresses, yes/no for bools."""
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Hex):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True, eq=False, repr=False)
class Field(Record):
    """One labelled value, as crash's ``sys`` prints them."""

    label: str
    value: Cell


@dataclass(frozen=True, eq=False, repr=False)
class Fields(Record):
    """A block of labelled values."""

    items: tuple[Field, ...]


@dataclass(frozen=True, eq=False, repr=False)
class Column(Record):
    """A table column."""

    name: str
    align: Literal["left", "right"] = "left"
    wrap: bool = True
    """False for short values that must stay on one line (addresses, symbols)."""


@dataclass(frozen=True, eq=False, repr=False)
class Row(Record):
    """A table row; ``emphasis`` marks the row the reader should look at first."""

    cells: tuple[Cell, ...]
    emphasis: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class Table(Record):
    """A table with a header."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True, eq=False, repr=False)
class Code(Record):
    """Preformatted lines (registers, disassembly, log)."""

    lines: tuple[str, ...]


@dataclass(frozen=True, eq=False, repr=False)
class Note(Record):
    """One line of explanation, e.g. why a section is empty."""

    text: str


@dataclass(frozen=True, eq=False, repr=False)
class Subheading(Record):
    """A heading inside a section."""

    text: str


@dataclass(frozen=True, eq=False, repr=False)
class Bullets(Record):
    """A list; ``numbered`` for ordered steps."""

    items: tuple[str, ...]
    numbered: bool = False


Block = Fields | Table | Code | Note | Subheading | Bullets
"""Anything a section can hold."""


@dataclass(frozen=True, eq=False, repr=False)
class Section(Record):
    """One step of the report, with its heading."""

    key: str
    """Stable identifier (used as the HTML anchor)."""
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, eq=False, repr=False)
class Document(Record):
    """A whole report."""

    title: str
    sections: tuple[Section, ...]
