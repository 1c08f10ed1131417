"""
Terminal renderer
-----------------

Lays a :class:`~ktriage.report.document.Document` out with rich: a rule per
section, a grid for fields, a table for rows, preformatted lines for registers,
disassembly and log. Everything from the dump is passed as :class:`rich.text.Text`,
never as markup, so ``[`` in a log line is printed as is.

Uncoloured output that needs no wrapping (``ktriage ident`` piped to a file, most
often) is laid out directly, to the same characters rich would print, without
importing rich: its import alone costs a short command a third of its time.
"""

from __future__ import annotations

import shutil
from io import StringIO
from typing import TYPE_CHECKING

from ktriage.report.document import (
    Block,
    Bullets,
    Code,
    Document,
    Fields,
    Note,
    Subheading,
    Table,
    cell_text,
)

__all__ = (
    "COLUMN_GAP",
    "DEFAULT_WIDTH",
    "MIN_WIDTH",
    "RICH_TABLE_MAX_ROWS",
    "plain_layout",
    "plain_table_text",
    "render_rich",
    "render_text",
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

DEFAULT_WIDTH = 100
"""Width used when the caller gives none and the output is not coloured for a terminal."""

MIN_WIDTH = 80
"""Narrowest layout: tables below this are unreadable."""

RICH_TABLE_MAX_ROWS = 300
"""Above this many rows a table is printed as fixed-width lines even when they are
wider than the terminal: rich measures every cell, which takes seconds on thousands
of tasks."""

COLUMN_GAP = "   "
"""Space between columns of a fixed-width table."""


def _width(width: int | None, color: bool) -> int:
    if width is None:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns if color else DEFAULT_WIDTH
    return max(width, MIN_WIDTH)


def _console(width: int | None, color: bool) -> Console:
    from rich.console import Console

    return Console(
        file=StringIO(),
        width=_width(width, color),
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        markup=False,
        emoji=False,
        force_jupyter=False,
        force_interactive=False,
        legacy_windows=False,
    )


def _aligned(block: Table) -> list[str] | None:
    """The table as fixed-width lines (header, rule, rows), as crash prints ``ps``."""
    cells = [[cell_text(cell) for cell in row.cells] for row in block.rows]
    names = [column.name for column in block.columns]
    if any(len(row) != len(names) for row in cells):
        return None
    widths = [max([len(names[i]), *(len(row[i]) for row in cells)]) for i in range(len(names))]

    def line(values: list[str]) -> str:
        parts = [
            value.rjust(width) if column.align == "right" else value.ljust(width)
            for value, width, column in zip(values, widths, block.columns, strict=True)
        ]
        return COLUMN_GAP.join(parts).rstrip()

    header = line(names)
    return [header, "-" * len(header), *(line(row) for row in cells)]


def _fixed_width(block: Table, width: int) -> list[str] | None:
    # The table as fixed-width lines when it is printed that way: it fits the
    # width, or it has too many rows for rich's table layout.
    lines = _aligned(block)
    if lines is None or (len(block.rows) <= RICH_TABLE_MAX_ROWS and max(map(len, lines)) > width):
        return None
    return lines


def plain_table_text(block: Table, lines: list[str]) -> Text:
    """Fixed-width lines as one rich Text, emphasised rows in bold."""
    from rich.text import Text

    text = Text()
    text.append(lines[0] + "\n", style="bold")
    text.append(lines[1])
    for row, line in zip(block.rows, lines[2:], strict=True):
        text.append("\n")
        text.append(line, style="bold" if row.emphasis else None)
    return text


def _block(console: Console, block: Block) -> None:
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    if isinstance(block, Fields):
        grid = RichTable.grid(padding=(0, 2))
        grid.add_column(style="bold", justify="right", no_wrap=True)
        grid.add_column(overflow="fold")
        for item in block.items:
            grid.add_row(Text(item.label + ":"), Text(cell_text(item.value)))
        console.print(grid)
    elif isinstance(block, Table):
        plain = _fixed_width(block, console.width)
        if plain is not None:
            console.print(plain_table_text(block, plain), soft_wrap=True)
            return
        table = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
        for column in block.columns:
            table.add_column(
                Text(column.name),
                justify=column.align,
                overflow="fold",
                no_wrap=not column.wrap,
            )
        for row in block.rows:
            table.add_row(
                *(Text(cell_text(cell)) for cell in row.cells),
                style="bold" if row.emphasis else None,
            )
        console.print(table)
    elif isinstance(block, Code):
        for line in block.lines:
            console.print(Text(line, overflow="fold"), soft_wrap=False)
    elif isinstance(block, Note):
        console.print(Text(block.text, style="italic"))
    elif isinstance(block, Subheading):
        console.print()
        console.print(Text(block.text, style="bold underline"))
    elif isinstance(block, Bullets):
        grid = RichTable.grid(padding=(0, 1))
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(overflow="fold")
        for number, entry in enumerate(block.items, 1):
            grid.add_row(Text(f"  {number}." if block.numbered else "  -"), Text(entry))
        console.print(grid)


def render_text(document: Document, *, width: int | None = None, color: bool = False) -> str:
    """
    The document as terminal text; ANSI styles only when ``color`` is true. Without
    ``width``, coloured output takes the terminal's width, plain output
    :data:`DEFAULT_WIDTH`; never narrower than :data:`MIN_WIDTH`.
    """
    if not color:
        plain = plain_layout(document, _width(width, color))
        if plain is not None:
            return plain
    return render_rich(document, width=width, color=color)


def render_rich(document: Document, *, width: int | None = None, color: bool = False) -> str:
    """:func:`render_text` always through rich (what it does when lines wrap)."""
    from rich.text import Text

    console = _console(width, color)
    console.print(Text(document.title, style="bold"))
    for section in document.sections:
        console.print()
        console.rule(Text(section.title, style="bold"), align="left")
        for block in section.blocks:
            _block(console, block)
    file = console.file
    assert isinstance(file, StringIO)
    return "".join(line.rstrip() + "\n" for line in file.getvalue().splitlines())


def _simple(text: str) -> bool:
    # Printable ASCII only: no tabs, control codes or wide characters, whose
    # handling is rich's to decide.
    return text.isascii() and text.isprintable()


def _plain_block(block: Block, width: int) -> list[str] | None:
    # The block's lines as rich prints them when nothing wraps; None when
    # something would (or when rich's layout is not plain enough to reproduce).
    lines: list[str]
    if isinstance(block, Fields):
        labels = [item.label + ":" for item in block.items]
        values = [cell_text(item.value) for item in block.items]
        column = max(map(len, labels), default=0)
        lines = []
        for label, value in zip(labels, values, strict=True):
            # The value column takes the rest of the width; a long value wraps in it.
            wrapped = _wrapped(value, width - column - 2) if value else [value]
            if wrapped is None:
                return None
            lines.append(f"{label.rjust(column)}  {wrapped[0]}")
            lines += [" " * (column + 2) + more for more in wrapped[1:]]
    elif isinstance(block, Table):
        fixed = _fixed_width(block, width)
        # Printed as is by rich too (no wrapping), but rich expands tabs and the like.
        return fixed if fixed is not None and all(map(_simple, fixed)) else None
    elif isinstance(block, Code):
        lines = list(block.lines)
    elif isinstance(block, Note):
        wrapped = _wrapped(block.text, width)
        if wrapped is None:
            return None
        lines = wrapped
    elif isinstance(block, Subheading):
        lines = ["", block.text]
    else:
        marks = [f"  {n}." if block.numbered else "  -" for n in range(1, len(block.items) + 1)]
        column = max(map(len, marks), default=0)
        lines = [
            f"{mark.rjust(column)} {entry}" for mark, entry in zip(marks, block.items, strict=True)
        ]
    if any(len(line) > width or not _simple(line) for line in lines):
        return None
    return [line.rstrip() for line in lines]


def _wrapped(text: str, width: int) -> list[str] | None:
    # Greedy word wrap, long words folded, as rich wraps a plain Text; None for
    # text with runs of spaces, whose wrapping is rich's to decide.
    if not _simple(text) or "  " in text:
        return None
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while len(word) > width:
            lines.append(word[:width])
            word = word[width:]
        current = word
    lines.append(current)
    return lines


def plain_layout(document: Document, width: int) -> str | None:
    """``document`` as uncoloured text without rich, or ``None`` when some line
    would need rich's wrapping (the output is then rich's)."""
    lines = _wrapped(document.title, width)
    if lines is None:
        return None
    for section in document.sections:
        heading = section.title
        if len(heading) + 2 > width or not _simple(heading):
            return None
        lines += ["", f"{heading} {'─' * (width - len(heading) - 1)}"]
        for block in section.blocks:
            block_lines = _plain_block(block, width)
            if block_lines is None:
                return None
            lines += block_lines
    return "".join(line.rstrip() + "\n" for line in lines)
