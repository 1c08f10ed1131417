"""
Names the DWARF does not have
-----------------------------

On the DWARF tier, types and declared globals come from the dump's BTF first
(:func:`ktriage.symbols.btf_tier.load_btf_types`) and drgn indexes the DWARF only
when a name BTF lacks is looked up. drgn's helpers look up some names only to
learn that they are absent and choose another way: ``timekeeper_data`` (6.14+,
else ``tk_core``), ``freelist_idx_t`` (the SLAB allocator, else SLUB). Such a
lookup would index the whole DWARF (0.2-0.3 s) to answer "not found".

:class:`AbsentNames` keeps what the DWARF was asked for and did not have, by the
set of debug files loaded (the vmlinux's build ID and those of modules with debug
files): a finder after drgn's DWARF finders writes it down, and on later runs of
the same build a finder before them answers "not found" for it the way drgn does.
The first run of a build pays for the index once; the answers are the DWARF's own.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import drgn

__all__ = ("AbsentNames",)

_MAGIC: Final = "ktriage-absent"
_FORMAT: Final = 1
CHECK_FINDER: Final = "ktriage-absent"
RECORD_FINDER: Final = "ktriage-absent-record"


def _kinds_key(kinds: drgn.TypeKindSet) -> int:
    return sum(1 << kind.value for kind in kinds)


# drgn makes a default type for the C primitive types no finder has: a finder
# must not answer "not found" for those, which would end the search with an error.
_PRIMITIVE_WORDS: Final = frozenset(
    ("void", "char", "short", "int", "long", "signed", "unsigned", "_Bool", "float", "double")
)
_PRIMITIVE_NAMES: Final = frozenset(("size_t", "ptrdiff_t", "__int128", "bool"))


def _primitive(name: str) -> bool:
    words = name.split()
    return name in _PRIMITIVE_NAMES or (bool(words) and _PRIMITIVE_WORDS.issuperset(words))


class AbsentNames:
    """Type and object names the loaded DWARF lacks, kept in one file."""

    def __init__(self, path: Path | None) -> None:
        self.path: Final = path
        self.types: set[tuple[str, int]] = set()
        """``(name, kinds bitmask)`` looked up as a type and not found."""
        self.objects: set[tuple[str, int]] = set()
        """``(name, FindObjectFlags value)`` looked up as an object and not found."""
        if path is not None:
            self._load(path)

    @staticmethod
    def key(build_ids: Iterable[str]) -> str:
        """The file name stem for the debug files with these build IDs."""
        ids = sorted(build_ids)
        if len(ids) == 1:
            return ids[0]
        return hashlib.sha256(" ".join(ids).encode()).hexdigest()[:40]

    def _load(self, path: Path) -> None:
        try:
            header, _, body = path.read_text(encoding="utf-8").partition("\n")
        except (OSError, UnicodeDecodeError):
            return
        parts = header.split()
        if len(parts) != 3 or parts[:2] != [_MAGIC, str(_FORMAT)]:
            return
        if f"{zlib.crc32(body.encode()):08x}" != parts[2]:
            return  # damaged: start again
        for line in body.splitlines():
            what, _, rest = line.partition(" ")
            value, _, name = rest.partition(" ")
            if not name or not value.isdigit():
                continue
            (self.types if what == "type" else self.objects).add((name, int(value)))

    def _save(self) -> None:
        if self.path is None:
            return
        lines = [f"type {v} {n}" for n, v in sorted(self.types)]
        lines += [f"object {v} {n}" for n, v in sorted(self.objects)]
        body = "".join(f"{line}\n" for line in lines)
        text = f"{_MAGIC} {_FORMAT} {zlib.crc32(body.encode()):08x}\n{body}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(text, encoding="utf-8")
            partial.replace(self.path)
        except OSError:
            pass  # an unwritable cache costs speed only

    def install(self, prog: drgn.Program) -> None:
        """Register the finders around drgn's ``dwarf`` type and object finders."""
        types = prog.enabled_type_finders()
        objects = prog.enabled_object_finders()
        if "dwarf" not in types or "dwarf" not in objects:
            return
        prog.register_type_finder(CHECK_FINDER, self._check_type, enable_index=types.index("dwarf"))
        prog.register_type_finder(RECORD_FINDER, self._record_type, enable_index=-1)
        prog.register_object_finder(
            CHECK_FINDER, self._check_object, enable_index=objects.index("dwarf")
        )
        prog.register_object_finder(RECORD_FINDER, self._record_object, enable_index=-1)

    def _check_type(
        self, prog: drgn.Program, kinds: drgn.TypeKindSet, name: str, filename: str | None
    ) -> drgn.Type | None:
        if filename is None and (name, _kinds_key(kinds)) in self.types and not _primitive(name):
            raise LookupError(f"could not find {name!r}")
        return None

    def _record_type(
        self, prog: drgn.Program, kinds: drgn.TypeKindSet, name: str, filename: str | None
    ) -> drgn.Type | None:
        if filename is None and not _primitive(name):
            self.types.add((name, _kinds_key(kinds)))
            self._save()
        return None

    def _check_object(
        self, prog: drgn.Program, name: str, flags: drgn.FindObjectFlags, filename: str | None
    ) -> drgn.Object | None:
        if filename is None and (name, flags.value) in self.objects:
            raise drgn.ObjectNotFoundError(f"could not find {name!r}", name=name)
        return None

    def _record_object(
        self, prog: drgn.Program, name: str, flags: drgn.FindObjectFlags, filename: str | None
    ) -> drgn.Object | None:
        if filename is None:
            self.objects.add((name, flags.value))
            self._save()
        return None
