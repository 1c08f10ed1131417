"""
HTML renderer
-------------

Lays a :class:`~ktriage.report.document.Document` out as one self-contained HTML
page: inline CSS, no scripts, no external assets. Every piece of text goes through
:func:`html.escape`, so log lines holding ``<`` or ``&`` are shown, not parsed.
"""

from html import escape

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

__all__ = ("render_html",)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.4em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #999; margin-top: 2em; }
h3 { font-size: 1em; margin-top: 1.2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.15em 0.5em; vertical-align: top; }
th { background: #eee; text-align: left; }
td.r, th.r { text-align: right; }
table.fields th { background: none; text-align: right; }
tr.emphasis td { font-weight: bold; background: #fff3cd; }
td, pre { font-family: ui-monospace, monospace; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
p.note { font-style: italic; color: #555; }
nav a { margin-right: 1em; }
"""


def _block(block: Block) -> str:
    if isinstance(block, Fields):
        rows = "".join(
            f"<tr><th>{escape(item.label)}</th><td>{escape(cell_text(item.value))}</td></tr>"
            for item in block.items
        )
        return f'<table class="fields">{rows}</table>'
    if isinstance(block, Table):
        head = "".join(
            f"<th{' class=r' if c.align == 'right' else ''}>{escape(c.name)}</th>"
            for c in block.columns
        )
        body = []
        for row in block.rows:
            cells = "".join(
                f"<td{' class=r' if column.align == 'right' else ''}>{escape(cell_text(cell))}</td>"
                for column, cell in zip(block.columns, row.cells, strict=False)
            )
            attr = ' class="emphasis"' if row.emphasis else ""
            body.append(f"<tr{attr}>{cells}</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    if isinstance(block, Code):
        return "<pre>" + "\n".join(escape(line) for line in block.lines) + "</pre>"
    if isinstance(block, Note):
        return f'<p class="note">{escape(block.text)}</p>'
    if isinstance(block, Subheading):
        return f"<h3>{escape(block.text)}</h3>"
    if isinstance(block, Bullets):
        tag = "ol" if block.numbered else "ul"
        items = "".join(f"<li>{escape(item)}</li>" for item in block.items)
        return f"<{tag}>{items}</{tag}>"
    raise TypeError(f"unknown block {type(block).__name__}")  # pragma: no cover


def render_html(document: Document) -> str:
    """The document as a single self-contained HTML page."""
    nav = "".join(f'<a href="#{escape(s.key)}">{escape(s.title)}</a>' for s in document.sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(document.title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(document.title)}</h1>",
        f"<nav>{nav}</nav>",
    ]
    for section in document.sections:
        parts.append(f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>')
        parts += [_block(block) for block in section.blocks]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
