"""
BTF
---

A bounds-checked parser for the BPF Type Format (BTF) and a converter from BTF to
drgn types.

The kernel keeps its own BTF in memory: the vmlinux BTF between ``__start_BTF`` and
``__stop_BTF``, and each module's split BTF (type IDs and string offsets continuing
those of vmlinux) on the ``btf_modules`` list. The format is defined by the kernel's
``include/uapi/linux/btf.h``.

BTF read from a dump is untrusted input. :func:`parse_btf` checks the header, every
section bound and every type record's length up front, and every type ID, string
offset and reference cycle when a type is decoded; anything wrong raises
:class:`BtfError`, never ``IndexError`` or ``RecursionError``.

Parsing is lazy: :func:`parse_btf` only walks the records once to find where each
one starts and indexes names by string offset; records are decoded, and drgn types
built, on first use.

Known differences from DWARF: BTF flattens multi-dimensional arrays, cannot tell
``[0]`` from ``[]`` (both become an incomplete array here), has no source locations,
no inline instances and, in vmlinux, no variables other than per-CPU ones.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import marshal
import operator
import sys
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import drgn

from ktriage.errors import DebuginfoError
from ktriage.facts.base import Record

__all__ = (
    "BTF_KIND_NAMES",
    "NAMED_KINDS",
    "Btf",
    "BtfError",
    "BtfKind",
    "BtfTypeConverter",
    "BtfTypeRecord",
    "parse_btf",
)

BTF_MAGIC: Final = 0xEB9F
_HEADER_MIN_LEN: Final = 24


class BtfKind:
    """BTF kind numbers (``BTF_KIND_*`` in ``include/uapi/linux/btf.h``)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


BTF_KIND_NAMES: Final[tuple[str, ...]] = (
    "UNKN",
    "INT",
    "PTR",
    "ARRAY",
    "STRUCT",
    "UNION",
    "ENUM",
    "FWD",
    "TYPEDEF",
    "VOLATILE",
    "CONST",
    "RESTRICT",
    "FUNC",
    "FUNC_PROTO",
    "VAR",
    "DATASEC",
    "FLOAT",
    "DECL_TAG",
    "TYPE_TAG",
    "ENUM64",
)
"""Kind names as bpftool prints them, indexed by kind number."""

# Words following the 3-word struct btf_type: a fixed part and a part per vlen item.
# -1 marks kinds this parser does not know (BTF_KIND_UNKN is never a valid record).
_FIXED_WORDS: Final = (-1, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0) + (-1,) * 12
_VLEN_WORDS: Final = (0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3) + (0,) * 12

NAMED_KINDS: Final = frozenset(
    (
        BtfKind.INT,
        BtfKind.STRUCT,
        BtfKind.UNION,
        BtfKind.ENUM,
        BtfKind.FWD,
        BtfKind.TYPEDEF,
        BtfKind.FUNC,
        BtfKind.VAR,
        BtfKind.FLOAT,
        BtfKind.ENUM64,
    )
)
"""Kinds whose names :meth:`Btf.find` looks up (not DATASEC, DECL_TAG...)."""

# Name lookups answered by searching the string section before indexing it whole.
_FIND_BEFORE_INDEX: Final = 256

# BTF_INT_ENCODING bits.
_INT_SIGNED: Final = 1 << 0
_INT_CHAR: Final = 1 << 1
_INT_BOOL: Final = 1 << 2


class BtfError(DebuginfoError, ValueError):
    """The BTF is truncated, corrupt or of an unknown format.

    Also a :class:`ValueError`: raised from a lazily built member in the middle of a
    drgn helper, it counts as the bad data it is (what collectors already catch).
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(
            f"corrupt BTF: {message}",
            hint or "the BTF in the dump is unusable; use a vmlinux or --debuginfo symbols",
        )


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BtfTypeRecord(Record):
    """One decoded BTF type record (``struct btf_type`` and what follows it)."""

    id: int
    kind: int
    """One of :class:`BtfKind`."""
    name: str
    """Empty for anonymous types."""
    kind_flag: bool
    vlen: int
    size_or_type: int
    """``size`` for INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT; else a type ID."""
    extra: tuple[int, ...]
    """The fixed words after the record (INT encoding, ARRAY, VAR linkage, DECL_TAG)."""
    items: tuple[tuple[int, ...], ...]
    """The vlen items, each as its words with the name (when it has one) as a string
    index: members ``(name_off, type, offset)``, enumerators ``(name_off, value)``,
    parameters ``(name_off, type)``, section entries ``(type, offset, size)``."""


def _u32_to_s32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def _enumerator_value(kind: int, signed: bool, item: tuple[int, ...]) -> int:
    if kind == BtfKind.ENUM:
        return _u32_to_s32(item[1]) if signed else item[1]
    value = item[1] | (item[2] << 32)
    if signed and value & (1 << 63):
        value -= 1 << 64
    return value


class Btf:
    """Parsed BTF: vmlinux BTF, or a module's split BTF on top of its base."""

    def __init__(
        self,
        words: array[int],
        offsets: array[int],
        strings: bytes,
        base: Btf | None,
        name_index: _OffsetIndex,
    ) -> None:
        self._words = words
        self._offsets = offsets
        self.strings: Final = strings
        """The string section."""
        self.base: Final = base
        """The base BTF for split (module) BTF, else ``None``."""
        self._name_index = name_index
        self._str_base = len(base.strings) if base else 0
        self._first_id = base.count if base else 1
        self._string_offsets: dict[bytes, int] | None = None
        self._repeated_strings: dict[bytes, list[int]] = {}
        self._sorted_strings: array[int] | None = None
        self._word_bytes: bytes | None = None
        self._base_offsets: dict[str, list[int]] = {}
        self._lookups = 0
        self._digest = b""
        self._enum_positions = array("I")
        self._enumerators: _OffsetIndex | None = None

    @property
    def first_id(self) -> int:
        """The first type ID defined here (1, or the base's count for split BTF)."""
        return self._first_id

    @property
    def count(self) -> int:
        """One more than the highest type ID (ID 0 is ``void``)."""
        return self._first_id + len(self._offsets)

    def __len__(self) -> int:
        """Number of type records defined here (not counting the base)."""
        return len(self._offsets)

    def string(self, offset: int) -> str:
        """The string at *offset* in the (combined base + split) string section."""
        if offset < self._str_base:
            assert self.base is not None
            return self.base.string(offset)
        local = offset - self._str_base
        strings = self.strings
        if local >= len(strings):
            raise BtfError(f"string offset {offset} out of range")
        end = strings.find(b"\0", local)
        if end < 0:
            raise BtfError(f"string at offset {offset} is not terminated")
        return strings[local:end].decode("utf-8", "replace")

    def kind(self, type_id: int) -> int:
        """The :class:`BtfKind` of *type_id* (``UNKN`` for ``void``)."""
        if type_id < self._first_id:
            if type_id == 0:
                return BtfKind.UNKN
            if self.base is None or type_id < 0:
                raise BtfError(f"type ID {type_id} out of range")
            return self.base.kind(type_id)
        index = type_id - self._first_id
        if index >= len(self._offsets):
            raise BtfError(f"type ID {type_id} out of range (have {self.count})")
        return (self._words[self._offsets[index] + 1] >> 24) & 0x1F

    def record(self, type_id: int) -> BtfTypeRecord:
        """Decode the record of *type_id* (not ``void``)."""
        if type_id < self._first_id:
            if self.base is None or type_id <= 0:
                raise BtfError(f"type ID {type_id} has no record")
            return self.base.record(type_id)
        index = type_id - self._first_id
        if index >= len(self._offsets):
            raise BtfError(f"type ID {type_id} out of range (have {self.count})")
        words = self._words
        at = self._offsets[index]
        info = words[at + 1]
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        fixed = _FIXED_WORDS[kind]
        per = _VLEN_WORDS[kind]
        start = at + 3
        extra = tuple(words[start : start + fixed])
        start += fixed
        items = tuple(
            tuple(words[start + i * per : start + (i + 1) * per]) for i in range(vlen if per else 0)
        )
        return BtfTypeRecord(
            id=type_id,
            kind=kind,
            name=self.string(words[at]),
            kind_flag=bool(info >> 31),
            vlen=vlen,
            size_or_type=words[at + 2],
            extra=extra,
            items=items,
        )

    def __iter__(self) -> Iterator[BtfTypeRecord]:
        """Decode every record defined here, in ID order."""
        for type_id in range(self._first_id, self.count):
            yield self.record(type_id)

    def _name_offsets(self, name: str) -> list[int]:
        # Split BTF names its types with its own strings or with the base's.
        own = self._offsets_of_string(name)
        if self.base is None:
            return own
        # Remember the base's answers here, so that the base does not index all
        # its strings for names that only module BTF asks about.
        base = self.base._base_offsets.get(name)
        if base is None:
            base = self.base._base_offsets[name] = self.base._name_offsets(name)
        return own + base

    def _offsets_of_string(self, name: str) -> list[int]:
        encoded = name.encode()
        if self._sorted_strings is not None:
            return self._sorted_offsets_of(encoded)
        if self._string_offsets is None:
            self._lookups += 1
            if self._lookups > _FIND_BEFORE_INDEX:
                self._index_strings()
        if self._string_offsets is not None:
            repeated = self._repeated_strings.get(encoded)
            if repeated is not None:
                return list(repeated)
            offset = self._string_offsets.get(encoded)
            return [] if offset is None else [offset]
        # A search of the string section (C speed) beats indexing it all for the
        # first lookups; kernel BTF strings are deduplicated, but all copies count.
        needle = b"\0" + encoded + b"\0"
        strings = self.strings
        # Split BTF's first string has no NUL before it.
        found = [self._str_base] if strings.startswith(needle[1:]) else []
        at = strings.find(needle)
        while at >= 0:
            found.append(self._str_base + at + 1)
            at = strings.find(needle, at + 1)
        return found

    def _string_at(self, offset: int) -> bytes:
        # The bytes of the string at *offset* of this section (local offset).
        strings = self.strings
        return strings[offset : strings.index(b"\0", offset)]

    def _sorted_offsets_of(self, encoded: bytes) -> list[int]:
        order = self._sorted_strings
        assert order is not None
        at = bisect.bisect_left(order, encoded, key=self._string_at)
        found = []
        # Equal strings are in offset order (a stable sort of the offsets).
        while at < len(order) and self._string_at(order[at]) == encoded:
            found.append(self._str_base + order[at])
            at += 1
        return found

    def _split_strings(self) -> tuple[list[bytes], list[int]]:
        # The section's strings and where each starts (local offsets, one more for
        # the end), split at NULs and summed at C speed. The section ends with a NUL.
        parts = self.strings.split(b"\0")[:-1]
        lengths = itertools.accumulate(map(len, parts), initial=0)
        return parts, list(map(operator.add, lengths, itertools.count()))

    def _sort_strings(self) -> array[int]:
        # Every string's local offset, in the strings' byte order (repeated strings
        # by offset): what name lookups bisect once it is saved with the index.
        if self._sorted_strings is None:
            parts, starts = self._split_strings()
            order = sorted(range(len(parts)), key=parts.__getitem__)
            self._sorted_strings = array("I", map(starts.__getitem__, order))
        return self._sorted_strings

    def _index_strings(self) -> None:
        # Strings that occur more than once (rare: kernel BTF deduplicates them) get
        # all their offsets.
        parts, local = self._split_strings()
        starts = list(map(operator.add, local, itertools.repeat(self._str_base)))
        # Reversed, so that the first offset of a repeated string wins.
        index = dict(zip(reversed(parts), reversed(starts[: len(parts)]), strict=True))
        repeated: dict[bytes, list[int]] = {}
        if len(index) != len(parts):
            for part, start in zip(parts, starts, strict=False):
                if index[part] != start:
                    repeated.setdefault(part, [index[part]]).append(start)
        self._string_offsets, self._repeated_strings = index, repeated

    def find(self, name: str, kinds: Sequence[int] | frozenset[int] | None = None) -> list[int]:
        """IDs of the types named *name* defined here (not in the base), in ID order.

        Only kinds with indexed names are found: INT, STRUCT, UNION, ENUM, FWD,
        TYPEDEF, FUNC, VAR, FLOAT, ENUM64.
        """
        if not name:
            return []
        found: list[int] = []
        for offset in self._name_offsets(name):
            found.extend(self._name_index.get(offset))
        if kinds is not None:
            found = [type_id for type_id in found if self.kind(type_id) in kinds]
        found.sort()
        return found

    def find_anonymous(self, kind: int, members: Sequence[str]) -> list[int]:
        """IDs of the anonymous STRUCT or UNION *kind* whose members are *members*."""
        if not members:
            return []
        # Look for one member's name offset in the raw records (C speed), then check
        # the records it lands in. The longest name is the likeliest to be rare
        # (tk_core: "timekeeper" is in a few records, "seq" in hundreds).
        j = max(range(len(members)), key=lambda k: len(members[k]))
        words = self._words
        if self._word_bytes is None:
            self._word_bytes = words.tobytes()
        raw = self._word_bytes
        found = []
        for name_offset in self._name_offsets(members[j]):
            needle = array("I", [name_offset]).tobytes()
            pos = raw.find(needle)
            while pos >= 0:
                if pos % 4 == 0:
                    word = pos // 4
                    i = bisect.bisect_right(self._offsets, word - 3 - 3 * j) - 1
                    at = self._offsets[i] if i >= 0 else -1
                    if at + 3 + 3 * j == word and self._anonymous_with(at, kind, members):
                        found.append(self._first_id + i)
                pos = raw.find(needle, pos + 1)
        found.sort()
        return found

    def _anonymous_with(self, at: int, kind: int, members: Sequence[str]) -> bool:
        words = self._words
        info = words[at + 1]
        if words[at] or (info >> 24) & 0x1F != kind or info & 0xFFFF != len(members):
            return False
        return all(self.string(words[at + 3 + 3 * j]) == member for j, member in enumerate(members))

    def find_enumerator(self, name: str) -> list[tuple[int, int]]:
        """``(enum type ID, value)`` of each enumerator named *name* defined here."""
        offsets = self._name_offsets(name)
        if not offsets or not self._enum_positions:
            # A name in no string section names nothing (the usual case for a
            # module's BTF asked about a vmlinux constant): no index to build.
            return []
        if self._enumerators is None:
            self._enumerators = self._index_enumerators()
        found = []
        for offset in offsets:
            for packed in self._enumerators.get(offset):
                type_id, index = packed >> 16, packed & 0xFFFF
                rec = self.record(type_id)
                found.append(
                    (type_id, _enumerator_value(rec.kind, rec.kind_flag, rec.items[index]))
                )
        return found

    def _index_enumerators(self) -> _OffsetIndex:
        # Enumerator name offset -> (enum type ID, index of the enumerator).
        keys, values = array("I"), array("Q")
        words = self._words
        first_id = self._first_id
        offsets = self._offsets
        for i in self._enum_positions:
            at = offsets[i]
            info = words[at + 1]
            kind = (info >> 24) & 0x1F
            if kind == BtfKind.ENUM:
                step = 2
            elif kind == BtfKind.ENUM64:
                step = 3
            else:
                continue
            start = at + 3
            names = words[start : start + step * (info & 0xFFFF) : step]
            keys.extend(names)
            packed = (first_id + i) << 16
            values.extend(range(packed, packed + len(names)))
        return _OffsetIndex.build(keys, values)

    def export_index(self) -> bytes:
        """The result of the walk over the records, for :func:`parse_btf` to reuse."""
        offsets = self._offsets.tobytes()
        enums = self._enum_positions.tobytes()
        names = (self._name_index.keys.tobytes(), self._name_index.values.tobytes())
        strings = self._sort_strings().tobytes()
        if self._enumerators is None:
            self._enumerators = self._index_enumerators()
        enumerators = (self._enumerators.keys.tobytes(), self._enumerators.values.tobytes())
        state = (
            _INDEX_VERSION,
            self._digest,
            self._first_id,
            offsets,
            names,
            enums,
            strings,
            enumerators,
        )
        payload = marshal.dumps(state)
        # The index is trusted once its own CRC and the BTF's digest match.
        return zlib.crc32(payload).to_bytes(4, "little") + payload

    def check_references(self) -> None:
        """Check that every type ID and string offset in every record is in range.

        :raises BtfError: on the first bad reference
        """
        for record in self:
            kind = record.kind
            if kind in (
                BtfKind.PTR,
                BtfKind.TYPEDEF,
                BtfKind.VOLATILE,
                BtfKind.CONST,
                BtfKind.RESTRICT,
                BtfKind.FUNC,
                BtfKind.FUNC_PROTO,
                BtfKind.VAR,
                BtfKind.DECL_TAG,
                BtfKind.TYPE_TAG,
            ):
                self._check_id(record.size_or_type, record.id)
            if kind == BtfKind.ARRAY:
                self._check_id(record.extra[0], record.id)
                self._check_id(record.extra[1], record.id)
            elif kind in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.FUNC_PROTO):
                for item in record.items:
                    self.string(item[0])
                    self._check_id(item[1], record.id)
            elif kind in (BtfKind.ENUM, BtfKind.ENUM64):
                for item in record.items:
                    self.string(item[0])
            elif kind == BtfKind.DATASEC:
                for item in record.items:
                    self._check_id(item[0], record.id)

    def _check_id(self, type_id: int, user: int) -> None:
        if type_id >= self.count:
            raise BtfError(f"type {user} refers to type ID {type_id} (have {self.count})")


def _header(data: bytes | bytearray | memoryview) -> tuple[str, int, int, int, int, int]:
    if len(data) < _HEADER_MIN_LEN:
        raise BtfError(f"{len(data)} bytes is too short for a BTF header")
    if int.from_bytes(data[0:2], "little") == BTF_MAGIC:
        order = "little"
    elif int.from_bytes(data[0:2], "big") == BTF_MAGIC:
        order = "big"
    else:
        raise BtfError(f"bad magic {bytes(data[0:2]).hex()} (expected 0xeb9f)")
    version = data[2]
    if version != 1:
        raise BtfError(f"unsupported BTF version {version}")

    def u32(offset: int) -> int:
        return int.from_bytes(data[offset : offset + 4], order)  # type: ignore[arg-type]

    hdr_len = u32(4)
    if hdr_len < _HEADER_MIN_LEN or hdr_len > len(data):
        raise BtfError(f"bad header length {hdr_len}")
    return order, hdr_len, u32(8), u32(12), u32(16), u32(20)


class _OffsetIndex:
    # Values by string offset, as two arrays sorted by offset (values in the order
    # given within one offset): saved and loaded as plain bytes, looked up by
    # bisection. Names: type IDs. Enumerators: enum type ID << 16 | its index.
    def __init__(self, keys: array[int], values: array[int]) -> None:
        if len(keys) != len(values):
            raise BtfError("a saved BTF index is inconsistent")
        self.keys = keys
        self.values = values

    @classmethod
    def build(cls, keys: array[int], values: array[int]) -> _OffsetIndex:
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return cls(
            array("I", map(keys.__getitem__, order)),
            array(values.typecode, map(values.__getitem__, order)),
        )

    def get(self, offset: int) -> array[int]:
        lo = bisect.bisect_left(self.keys, offset)
        hi = bisect.bisect_right(self.keys, offset, lo)
        return self.values[lo:hi]


def parse_btf(
    data: bytes | bytearray | memoryview, base: Btf | None = None, index: bytes | None = None
) -> Btf:
    """Parse BTF (raw ``.BTF`` section bytes, as in ``/sys/kernel/btf/vmlinux``).

    :param data: the BTF bytes; untrusted
    :param base: the vmlinux BTF when *data* is a module's split BTF
    :param index: what :meth:`Btf.export_index` saved for these very bytes: skips
        the walk over the records
    :raises BtfError: when the bytes are not valid BTF, or *index* is not theirs
    """
    order, hdr_len, type_off, type_len, str_off, str_len = _header(data)
    size = len(data)
    type_start = hdr_len + type_off
    str_start = hdr_len + str_off
    if type_start + type_len > size or str_start + str_len > size:
        raise BtfError(
            f"sections (types {type_start}+{type_len}, strings {str_start}+{str_len}) "
            f"run past the end ({size} bytes)"
        )
    if type_len % 4 or type_start % 4:
        raise BtfError("type section is not 4-byte aligned")
    if str_len == 0 or (base is None and data[str_start] != 0):
        # Split BTF continues the base's strings, so only base BTF starts with "".
        raise BtfError("string section does not start with an empty string")
    if data[str_start + str_len - 1] != 0:
        raise BtfError("string section is not NUL-terminated")
    words = array("I")
    if words.itemsize != 4:  # pragma: no cover - every CPython platform has 4-byte I
        raise BtfError("this Python has no 32-bit array type")
    words.frombytes(bytes(data[type_start : type_start + type_len]))
    if order != sys.byteorder:
        words.byteswap()
    strings = bytes(data[str_start : str_start + str_len])
    str_total = len(strings) + (len(base.strings) if base else 0)
    first_id = base.count if base else 1
    digest = hashlib.sha256(data).digest()
    sorted_strings = enumerators = None
    if index is not None:
        loaded = _load_index(index, digest, len(words), first_id, len(strings))
        if loaded is None:
            raise BtfError("the saved index is not for these bytes")
        scanned, sorted_strings, enumerators = loaded
    else:
        scanned = _scan(words, str_total, first_id)
    btf = Btf(words, scanned[0], strings, base, scanned[1])
    btf._enum_positions = scanned[2]
    btf._sorted_strings = sorted_strings
    btf._enumerators = enumerators
    btf._digest = digest
    return btf


_INDEX_VERSION: Final = 6
_Scanned = tuple["array[int]", _OffsetIndex, "array[int]"]


def _load_index(
    index: bytes, digest: bytes, n_words: int, first_id: int, n_strings: int
) -> tuple[_Scanned, array[int], _OffsetIndex] | None:
    # Only an intact index saved for the same bytes (same digest) by this version
    # is used.
    if len(index) < 4 or zlib.crc32(memoryview(index)[4:]) != int.from_bytes(index[:4], "little"):
        return None
    try:
        state = marshal.loads(memoryview(index)[4:])
        if not isinstance(state, tuple) or not state or state[0] != _INDEX_VERSION:
            return None
        (
            _version,
            saved_digest,
            saved_first,
            raw_offsets,
            name_index,
            raw_enums,
            raw_strings,
            raw_enumerators,
        ) = state
    except (EOFError, ValueError, TypeError):
        return None
    if saved_digest != digest or saved_first != first_id:
        return None
    offsets, enums, keys, ids = array("I"), array("I"), array("I"), array("I")
    sorted_strings, enum_keys, enum_values = array("I"), array("I"), array("Q")
    try:
        offsets.frombytes(raw_offsets)
        enums.frombytes(raw_enums)
        sorted_strings.frombytes(raw_strings)
        keys.frombytes(name_index[0])
        ids.frombytes(name_index[1])
        enum_keys.frombytes(raw_enumerators[0])
        enum_values.frombytes(raw_enumerators[1])
        names = _OffsetIndex(keys, ids)
        enumerators = _OffsetIndex(enum_keys, enum_values)
    except (ValueError, TypeError, IndexError, BtfError):
        return None
    if (offsets and offsets[-1] >= n_words) or (enums and enums[-1] >= len(offsets)):
        return None
    if sorted_strings and max(sorted_strings) >= n_strings:
        return None
    return (offsets, names, enums), sorted_strings, enumerators


def _scan(words: array[int], str_total: int, first_id: int) -> _Scanned:
    # One pass over the records: where each starts, that each fits, an index of
    # names (by string offset) for the kinds looked up by name, and where the enums
    # are (for constants).
    offsets = array("I")
    enums = array("I")
    append = offsets.append
    names, ids = array("I"), array("I")
    fixed_words = _FIXED_WORDS
    vlen_words = _VLEN_WORDS
    named = NAMED_KINDS
    n = len(words)
    at = 0
    while at < n:
        if at + 3 > n:
            raise BtfError(f"type record {len(offsets) + 1} is truncated")
        info = words[at + 1]
        kind = (info >> 24) & 0x1F
        fixed = fixed_words[kind]
        if fixed < 0:
            raise BtfError(f"type record {len(offsets) + 1} has unknown kind {kind}")
        name_off = words[at]
        if name_off:
            if name_off >= str_total:
                raise BtfError(f"type record {len(offsets) + 1} has name offset {name_off}")
            if kind in named:
                names.append(name_off)
                ids.append(first_id + len(offsets))
        if kind == BtfKind.ENUM or kind == BtfKind.ENUM64:
            enums.append(len(offsets))
        append(at)
        at += 3 + fixed + (info & 0xFFFF) * vlen_words[kind]
    if at != n:
        raise BtfError(f"type record {len(offsets)} runs past the end of the type section")
    return offsets, _OffsetIndex.build(names, ids), enums


# GCC's spellings of the integer types (in DWARF and so in BTF) -> drgn's names.
_C_INT_NAMES: Final = {
    "short int": "short",
    "short unsigned int": "unsigned short",
    "long int": "long",
    "long unsigned int": "unsigned long",
    "long long int": "long long",
    "long long unsigned int": "unsigned long long",
}
_SIGNED_CHAR_ARCHES: Final = frozenset((drgn.Architecture.X86_64,))
_INT_KINDS: Final = frozenset((drgn.TypeKind.INT,))
_INT_WORDS: Final = frozenset(("char", "short", "int", "long", "signed", "unsigned"))
# GCC's DWARF (and so pahole's BTF) name for each integer type, by (base, sign).
_GCC_INT_NAMES: Final = {
    ("char", ""): "char",
    ("char", "signed"): "signed char",
    ("char", "unsigned"): "unsigned char",
    ("short", "signed"): "short int",
    ("short", "unsigned"): "short unsigned int",
    ("int", "signed"): "int",
    ("int", "unsigned"): "unsigned int",
    ("long", "signed"): "long int",
    ("long", "unsigned"): "long unsigned int",
    ("long long", "signed"): "long long int",
    ("long long", "unsigned"): "long long unsigned int",
}


def _gcc_int_name(name: str) -> str | None:
    """GCC's spelling of the C integer type *name* is one of (``unsigned long`` ->
    ``long unsigned int``), or ``None`` when *name* is no integer type's spelling."""
    words = name.split()
    if not words or not _INT_WORDS.issuperset(words):
        return None
    longs = words.count("long")
    sign = "unsigned" if "unsigned" in words else "signed" if "signed" in words else ""
    if "char" in words:
        base = "char"
    elif "short" in words:
        base = "short"
    else:
        base = {0: "int", 1: "long", 2: "long long"}.get(longs, "")
    if base != "char" and not sign:
        sign = "signed"
    return _GCC_INT_NAMES.get((base, sign))


_KIND_TO_DRGN: Final = {
    BtfKind.INT: (drgn.TypeKind.INT, drgn.TypeKind.BOOL),
    BtfKind.STRUCT: (drgn.TypeKind.STRUCT,),
    BtfKind.UNION: (drgn.TypeKind.UNION,),
    BtfKind.ENUM: (drgn.TypeKind.ENUM,),
    BtfKind.ENUM64: (drgn.TypeKind.ENUM,),
    BtfKind.TYPEDEF: (drgn.TypeKind.TYPEDEF,),
    BtfKind.FLOAT: (drgn.TypeKind.FLOAT,),
}

_QUALIFIERS: Final = {
    BtfKind.CONST: drgn.Qualifiers.CONST,
    BtfKind.VOLATILE: drgn.Qualifiers.VOLATILE,
    BtfKind.RESTRICT: drgn.Qualifiers.RESTRICT,
}


class BtfTypeConverter:
    """Builds drgn types from BTF, on demand, and finds them by name.

    One converter serves the vmlinux BTF and every module's split BTF added with
    :meth:`add_split`; type IDs of the base are shared. Members and parameters are
    built lazily, so building a structure does not build what it points to.
    """

    def __init__(self, prog: drgn.Program, btf: Btf) -> None:
        self.prog: Final = prog
        self.btf: Final = btf
        """The vmlinux (base) BTF."""
        self.splits: list[tuple[str, Btf]] = []
        """Module BTF: ``(module name, split BTF)``, in the order added."""
        self._types: dict[tuple[int, int], drgn.Type] = {}
        self._building: set[tuple[int, int]] = set()
        self._by_name: dict[tuple[str, frozenset[drgn.TypeKind]], drgn.Type | None] = {}
        self._int_types: dict[tuple[int, bool], drgn.Type] = {}
        platform = prog.platform
        self._char_is_signed = platform is not None and platform.arch in _SIGNED_CHAR_ARCHES

    def add_split(self, module: str, split: Btf) -> None:
        """Add a module's split BTF (parsed with the vmlinux BTF as base)."""
        if split.base is not self.btf:
            raise ValueError("split BTF must be parsed on top of this converter's BTF")
        self.splits.append((module, split))
        self._by_name.clear()

    def _space(self, btf: Btf, type_id: int) -> tuple[Btf, int]:
        # Type IDs of the base resolve in the base, whichever split refers to them.
        if btf.base is not None and type_id < btf.first_id:
            return btf.base, 0
        return btf, (0 if btf.base is None else id(btf))

    def type(self, type_id: int, btf: Btf | None = None) -> drgn.Type:
        """The drgn type of *type_id* in *btf* (default: the vmlinux BTF).

        :raises BtfError: when the BTF is corrupt
        """
        space_btf, space = self._space(btf or self.btf, type_id)
        key = (space, type_id)
        cached = self._types.get(key)
        if cached is not None:
            return cached
        if key in self._building:
            raise BtfError(f"type {type_id} refers to itself")
        self._building.add(key)
        try:
            result = self._build(space_btf, type_id)
        finally:
            self._building.discard(key)
        self._types[key] = result
        return result

    def _lazy(self, btf: Btf, type_id: int) -> Callable[[], drgn.Type]:
        return lambda: self.type(type_id, btf)

    def _int_type(self, size: int, signed: bool) -> drgn.Type:
        key = (size, signed)
        found = self._int_types.get(key)
        if found is None:
            names = {1: "char", 2: "short", 4: "int", 8: "long"}
            base = names.get(size, "long long")
            name = ("" if signed else "unsigned ") + base
            found = self.prog.int_type(name, size, signed)
            self._int_types[key] = found
        return found

    def _build(self, btf: Btf, type_id: int) -> drgn.Type:
        prog = self.prog
        if type_id == 0:
            return prog.void_type()
        rec = btf.record(type_id)
        kind = rec.kind
        name = rec.name or None
        if kind == BtfKind.INT:
            encoding = (rec.extra[0] >> 24) & 0xF
            if encoding & _INT_BOOL:
                return prog.bool_type(rec.name, rec.size_or_type)
            signed = bool(encoding & _INT_SIGNED)
            if rec.name == "char" and not signed:
                # pahole drops the signedness of plain "char"; DWARF has the ABI's.
                signed = self._char_is_signed
            if rec.size_or_type == 0:
                raise BtfError(f"integer type {type_id} has size 0")
            name = _C_INT_NAMES.get(rec.name, rec.name)
            return prog.int_type(name, rec.size_or_type, signed)
        if kind == BtfKind.FLOAT:
            return prog.float_type(rec.name, rec.size_or_type)
        if kind == BtfKind.PTR:
            return prog.pointer_type(self.type(rec.size_or_type, btf))
        if kind == BtfKind.ARRAY:
            elem_id, _, nelems = rec.extra
            # BTF has no way to say "[]": a zero length is taken as incomplete.
            return prog.array_type(self.type(elem_id, btf), nelems or None)
        if kind in (BtfKind.STRUCT, BtfKind.UNION):
            members = []
            for m_name_off, m_type, m_offset in rec.items:
                if rec.kind_flag:
                    bit_size = m_offset >> 24
                    bit_offset = m_offset & 0xFFFFFF
                else:
                    bit_size = 0
                    bit_offset = m_offset
                members.append(
                    drgn.TypeMember(
                        self._member(btf, m_type, bit_size),
                        btf.string(m_name_off) or None,
                        bit_offset,
                    )
                )
            make = prog.struct_type if kind == BtfKind.STRUCT else prog.union_type
            return make(name, rec.size_or_type, members)
        if kind in (BtfKind.ENUM, BtfKind.ENUM64):
            if rec.vlen == 0:
                return prog.enum_type(name)
            enumerators = []
            for item in rec.items:
                value = _enumerator_value(kind, rec.kind_flag, item)
                enumerators.append(drgn.TypeEnumerator(btf.string(item[0]), value))
            size = rec.size_or_type
            if size not in (1, 2, 4, 8):
                raise BtfError(f"enum type {type_id} has size {size}")
            return prog.enum_type(name, self._int_type(size, rec.kind_flag), enumerators)
        if kind == BtfKind.FWD:
            return (prog.union_type if rec.kind_flag else prog.struct_type)(name)
        if kind == BtfKind.TYPEDEF:
            if not rec.name:
                raise BtfError(f"typedef {type_id} has no name")
            return prog.typedef_type(rec.name, self.type(rec.size_or_type, btf))
        if kind in _QUALIFIERS:
            target = self.type(rec.size_or_type, btf)
            return target.qualified(target.qualifiers | _QUALIFIERS[kind])
        if kind == BtfKind.TYPE_TAG:
            return self.type(rec.size_or_type, btf)
        if kind == BtfKind.FUNC_PROTO:
            params = []
            variadic = False
            for i, (p_name_off, p_type) in enumerate(rec.items):
                if p_type == 0 and i == len(rec.items) - 1:
                    variadic = True
                    break
                params.append(
                    drgn.TypeParameter(self._lazy(btf, p_type), btf.string(p_name_off) or None)
                )
            return prog.function_type(self.type(rec.size_or_type, btf), params, variadic)
        if kind in (BtfKind.FUNC, BtfKind.VAR):
            return self.type(rec.size_or_type, btf)
        raise BtfError(f"type {type_id} of kind {BTF_KIND_NAMES[kind]} is not a C type")

    def _member(
        self, btf: Btf, type_id: int, bit_size: int
    ) -> Callable[[], drgn.Object | drgn.Type]:
        if not bit_size:
            return self._lazy(btf, type_id)

        def bit_field() -> drgn.Object:
            return drgn.Object(self.prog, self.type(type_id, btf), bit_field_size=bit_size)

        return bit_field

    def find(self, name: str, kinds: frozenset[drgn.TypeKind]) -> drgn.Type | None:
        """The type named *name* of one of *kinds*: vmlinux first, then modules.

        A complete definition wins over a forward declaration; among duplicates the
        first by type ID wins.
        """
        key = (name, kinds)
        if key in self._by_name:
            return self._by_name[key]
        result = None
        fwd = None
        for btf in (self.btf, *(split for _, split in self.splits)):
            for type_id in btf.find(name):
                kind = btf.kind(type_id)
                if kind == BtfKind.FWD:
                    fwd_kind = (
                        drgn.TypeKind.UNION
                        if btf.record(type_id).kind_flag
                        else (drgn.TypeKind.STRUCT)
                    )
                    if fwd is None and fwd_kind in kinds:
                        fwd = (btf, type_id)
                    continue
                drgn_kinds = _KIND_TO_DRGN.get(kind, ())
                if not any(k in kinds for k in drgn_kinds):
                    continue
                if kind in (BtfKind.ENUM, BtfKind.ENUM64) and btf.record(type_id).vlen == 0:
                    if fwd is None:
                        fwd = (btf, type_id)
                    continue
                candidate = self.type(type_id, btf)
                if candidate.kind in kinds:
                    result = candidate
                    break
            if result is not None:
                break
        if result is None and fwd is not None:
            result = self.type(fwd[1], fwd[0])
        if result is None and kinds & _INT_KINDS:
            # drgn asks for a C integer type by each of its spellings in turn; answer
            # the first, so that no spelling goes on to the next finder.
            gcc = _gcc_int_name(name)
            if gcc is not None and gcc != name:
                result = self.find(gcc, kinds)
        self._by_name[key] = result
        return result

    def type_finder(
        self, prog: drgn.Program, kinds: drgn.TypeKindSet, name: str, filename: str | None
    ) -> drgn.Type | None:
        """A drgn type finder callback (``prog.register_type_finder``)."""
        if filename:
            return None
        return self.find(name, frozenset(kinds))
