"""
Symbol demangling
-----------------

Kernel stack traces print symbols as the linker sees them. Rust code in the
kernel uses the Rust "v0" mangling (``_RNv...``) and out-of-tree C++ code the
Itanium mangling (``_Z...``); a title needs the name a person would write.

Only what names a function is decoded: crate roots, nested paths, trait and
inherent impls, back-references and plain path types. Anything else is
returned unchanged.
"""

from functools import lru_cache

__all__ = ("demangle",)

_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Error(Exception):
    pass


class _V0:
    """Parser for the Rust v0 mangling (RFC 2603), restricted to paths."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if not ch:
            raise _Error("end of symbol")
        self.pos += 1
        return ch

    def base62(self) -> int:
        # "_" is 0, "<digits>_" is value + 1.
        if self.peek() == "_":
            self.pos += 1
            return 0
        value = 0
        while (ch := self.next()) != "_":
            idx = _BASE62.find(ch)
            if idx < 0:
                raise _Error("bad base-62 number")
            value = value * 62 + idx
        return value + 1

    def disambiguator(self) -> None:
        if self.peek() == "s":
            self.pos += 1
            self.base62()

    def identifier(self) -> str:
        self.disambiguator()
        punycode = self.peek() == "u"
        if punycode:
            self.pos += 1
        start = self.pos
        while self.peek().isdigit():
            self.pos += 1
        if start == self.pos:
            raise _Error("identifier length expected")
        length = int(self.text[start : self.pos])
        if self.peek() == "_":
            self.pos += 1
        name = self.text[self.pos : self.pos + length]
        if len(name) != length:
            raise _Error("identifier cut short")
        self.pos += length
        return name

    def backref(self) -> str:
        target = self.base62()
        if target >= self.pos or self.depth > 32:
            raise _Error("bad back-reference")
        saved = self.pos
        self.pos = target
        self.depth += 1
        try:
            return self.path()
        finally:
            self.depth -= 1
            self.pos = saved

    def type(self) -> str:
        if self.peek() in "CNMXYI":
            return self.path()
        if self.peek() == "B":
            self.pos += 1
            return self.backref()
        raise _Error("unsupported type")

    def path(self) -> str:
        tag = self.next()
        if tag == "C":
            return self.identifier()
        if tag == "N":
            self.next()  # namespace: v(alue), t(ype), ...
            parent = self.path()
            name = self.identifier()
            return f"{parent}::{name}" if name else parent
        if tag == "M":  # inherent impl: <Type>
            self.disambiguator()
            self.path()
            return f"<{self.type()}>"
        if tag == "X":  # trait impl: <Type as Trait>
            self.disambiguator()
            self.path()
            ty = self.type()
            return f"<{ty} as {self.path()}>"
        if tag == "Y":  # trait definition: <Type as Trait>
            ty = self.type()
            return f"<{ty} as {self.path()}>"
        if tag == "B":
            return self.backref()
        raise _Error(f"unsupported path tag {tag!r}")


def _itanium(name: str) -> str | None:
    # Plain and nested names only: _Z8fakeNameiii, _ZN3foo3barEv.
    pos = 2
    parts: list[str] = []
    nested = name.startswith("_ZN")
    if nested:
        pos = 3
    while pos < len(name) and name[pos].isdigit():
        end = pos
        while end < len(name) and name[end].isdigit():
            end += 1
        length = int(name[pos:end])
        part = name[end : end + length]
        if len(part) != length:
            return None
        parts.append(part)
        pos = end + length
        if not nested:
            break
    return "::".join(parts) if parts else None


@lru_cache(maxsize=8192)
def demangle(name: str) -> str:
    """The readable name of a mangled Rust (v0) or C++ symbol; others unchanged."""
    if name.startswith("_R"):
        parser = _V0(name[2:])
        try:
            result = parser.path()
        except (_Error, ValueError, RecursionError):
            return name
        return result
    if name.startswith("_Z"):
        return _itanium(name) or name
    return name
