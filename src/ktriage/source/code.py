"""
Code collector
--------------

Disassembly as crash's ``dis -rl ADDR`` shows it: the function that holds
``ADDR``, from its start up to and including the instruction at ``ADDR``, with
source lines when DWARF has them. capstone does the decoding (:mod:`ktriage.source.disasm`).
"""

import re

import drgn

from ktriage.source.disasm import instructions
from ktriage.source.session import KernelSession

__all__ = ("disassemble_up_to",)

_MAX_BYTES = 16384
_IMMEDIATE = re.compile(r"^0x[0-9a-f]+$")


def _source_line(prog: drgn.Program, address: int) -> str | None:
    try:
        locations = prog.source_location(address)
    except (LookupError, ValueError):
        return None
    if not locations:
        return None
    loc = locations[0]
    return f"{loc.filename}: {loc.line}" if loc.filename else None


def disassemble_up_to(
    session: KernelSession, address: int, *, include_next: bool = False
) -> tuple[str, ...]:
    """
    ``dis -rl address``: lines ``0xADDR <func+off>: mnemonic operands``, each
    preceded by its ``file: line`` when it changes. With ``include_next`` the
    instruction after ``address`` is shown too (useful for return addresses,
    where ``address`` is the instruction after the call).
    """
    info = session.symbolize(address)
    if info is None or info.offset > _MAX_BYTES:
        return ()
    start = address - info.offset
    length = info.offset + 16
    data = session.attempt(f"code at 0x{start:x}", lambda: session.prog.read(start, length))
    if data is None:
        return ()
    lines: list[str] = []
    last_source = None
    for at, _size, mnemonic, operands in instructions(data, start):
        after = at > address
        source = _source_line(session.prog, at)
        if source and source != last_source:
            lines.append(source)
            last_source = source
        text = f"{mnemonic} {operands}".strip()
        if _IMMEDIATE.match(operands) and mnemonic.startswith(("call", "j")):
            target = session.symbolize(int(operands, 16))
            if target is not None:
                offset = f"+{target.offset}" if target.offset else ""
                text += f" <{target.name}{offset}>"
        marker = "   <-- here" if at == address else ""
        lines.append(f"0x{at:x} <{info.name}+{at - start}>:\t{text}{marker}")
        if after or (at == address and not include_next):
            break
    return tuple(lines)
