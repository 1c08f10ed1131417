"""
Markdown renderer
-----------------

Lays a :class:`~ktriage.report.document.Document` out as GitHub-flavoured Markdown
for a ticket: ``##`` per section, tables for fields and rows, fenced blocks for
registers, disassembly and log. Table cells escape ``|``, backslashes and the
characters Markdown would take for emphasis or HTML.
"""

from collections.abc import Sequence

from ktriage.report.document import (
    ABSENT,
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

__all__ = ("escape_markdown", "render_markdown")

_SPECIAL = "\\`*_[]<>|~"


def escape_markdown(text: str) -> str:
    """Text safe inside a Markdown paragraph or table cell (one line)."""
    out = []
    for char in text.replace("\r", " ").replace("\n", " "):
        out.append("\\" + char if char in _SPECIAL else char)
    return "".join(out)


def _fence(lines: Sequence[str]) -> str:
    longest = 2
    for line in lines:
        run = 0
        for char in line:
            run = run + 1 if char == "`" else 0
            longest = max(longest, run)
    return "`" * (longest + 1)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], aligns: Sequence[str]) -> str:
    marks = ["---:" if align == "right" else "---" for align in aligns]
    lines = [
        "| " + " | ".join(escape_markdown(h) or " " for h in header) + " |",
        "| " + " | ".join(marks) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _block(block: Block) -> str:
    if isinstance(block, Fields):
        return _table(
            ("Field", "Value"),
            [
                (f"**{escape_markdown(item.label)}**", escape_markdown(cell_text(item.value)))
                for item in block.items
            ],
            ("left", "left"),
        )
    if isinstance(block, Table):
        rows = []
        for row in block.rows:
            cells = [escape_markdown(cell_text(cell)) for cell in row.cells]
            if row.emphasis:
                cells = [f"**{cell}**" if cell not in ("", ABSENT) else cell for cell in cells]
            rows.append(cells)
        return _table([c.name for c in block.columns], rows, [c.align for c in block.columns])
    if isinstance(block, Code):
        fence = _fence(block.lines)
        return "\n".join((fence + "text", *block.lines, fence))
    if isinstance(block, Note):
        return f"*{escape_markdown(block.text)}*"
    if isinstance(block, Subheading):
        return f"### {escape_markdown(block.text)}"
    if isinstance(block, Bullets):
        return "\n".join(
            f"{n}. {escape_markdown(item)}" if block.numbered else f"- {escape_markdown(item)}"
            for n, item in enumerate(block.items, 1)
        )
    raise TypeError(f"unknown block {type(block).__name__}")  # pragma: no cover


def render_markdown(document: Document) -> str:
    """The document as Markdown."""
    parts = [f"# {escape_markdown(document.title)}"]
    for section in document.sections:
        parts.append(f"## {escape_markdown(section.title)}")
        parts += [_block(block) for block in section.blocks]
    return "\n\n".join(parts) + "\n"
