"""
Kernel log without symbols
--------------------------

Read the printk ring buffer of a dump using only the symbols, sizes and offsets
that VMCOREINFO describes, as ``makedumpfile --dump-dmesg`` does, so the log is
available with no vmlinux, no DWARF and no BTF.

Two layouts are handled:

- the lockless ring buffer (``SYMBOL(prb)``), introduced by Linux kernel commit
  896fbe20b4e2 ("printk: use the lockless ringbuffer") (in v5.10);
- the structured ``log_buf`` of variable-length ``struct printk_log`` records
  (``SYMBOL(log_buf)``, ``SYMBOL(log_first_idx)``, ...), from Linux kernel commit
  7ff9554bb578 ("printk: convert byte-buffer to variable-length record buffer")
  (in v3.5) to v5.9.

:func:`format_log` prints records the way ``makedumpfile --dump-dmesg`` and
kexec-tools' ``vmcore-dmesg`` write ``vmcore-dmesg.txt``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping

import drgn

from ktriage.facts import LogRecord
from ktriage.source.ident import parse_vmcoreinfo

__all__ = (
    "STYLES",
    "PrintkLog",
    "format_log",
    "format_record",
    "parse_log_text",
    "read_log",
    "read_sparse",
    "vmcoreinfo",
)

# Largest buffers we agree to read (a corrupt VMCOREINFO must not make us
# allocate gigabytes). The kernel's maximum log_buf_len is 1 << 25 by default.
_MAX_TEXT_RING = 1 << 30
_MAX_DESC_COUNT = 1 << 24


_Bytes = bytes | bytearray


class PrintkLog(tuple[LogRecord, ...]):
    """
    Records of the kernel log, oldest first, plus what could not be read.

    A tuple of :class:`~ktriage.facts.LogRecord`; :attr:`unreadable` lists, one
    line each, the parts of the ring buffer that were missing from the dump.
    """

    unreadable: tuple[str, ...]
    """What could not be read (empty when the whole log was read)."""

    def __new__(
        cls, records: Iterable[LogRecord] = (), unreadable: Iterable[str] = ()
    ) -> PrintkLog:
        self = super().__new__(cls, records)
        self.unreadable = tuple(unreadable)
        return self


def vmcoreinfo(prog: drgn.Program) -> dict[str, str]:
    """
    The VMCOREINFO of a program, as a dictionary (cached on the program).

    :return: an empty dictionary when the dump carries no VMCOREINFO.
    """
    cached = prog.cache.get("ktriage_vmcoreinfo")
    if isinstance(cached, dict):
        return cached
    try:
        text = prog["VMCOREINFO"].string_().decode("utf-8", "replace")
    except (KeyError, LookupError, drgn.FaultError, ValueError):
        text = ""
    info = parse_vmcoreinfo(text)
    prog.cache["ktriage_vmcoreinfo"] = info
    return info


def read_sparse(
    prog: drgn.Program, address: int, size: int, page_size: int = 4096
) -> tuple[bytearray, list[int]]:
    """
    *size* bytes of memory at *address*, read page by page when the whole range
    cannot be read: zero-filled where pages are missing from the dump.

    :return: the bytes, and the offsets in them of the pages that are missing.
    """
    try:
        return bytearray(prog.read(address, size)), []
    except (drgn.FaultError, ValueError, OverflowError):
        pass
    out = bytearray(size)
    missing = []
    pos = 0
    while pos < size:
        chunk = min(size - pos, page_size - (address + pos) % page_size)
        try:
            out[pos : pos + chunk] = prog.read(address + pos, chunk)
        except (drgn.FaultError, ValueError, OverflowError):
            missing.append(pos)
        pos += chunk
    return out, missing


class _Memory:
    """Reads of kernel memory that note what is missing instead of failing."""

    def __init__(self, prog: drgn.Program, info: Mapping[str, str]) -> None:
        self.prog = prog
        page_size = _int_or_none(info.get("PAGESIZE"))
        self.page_size = page_size if page_size and page_size & (page_size - 1) == 0 else 4096
        platform = prog.platform
        flags = platform.flags if platform is not None else drgn.PlatformFlags(3)
        self.little = bool(flags & drgn.PlatformFlags.IS_LITTLE_ENDIAN)
        self.long_size = 8 if flags & drgn.PlatformFlags.IS_64_BIT else 4
        self.end = "<" if self.little else ">"
        self.unreadable: list[str] = []

    def read(self, address: int, size: int, what: str) -> bytes | None:
        try:
            data: bytes = self.prog.read(address, size)
            return data
        except (drgn.FaultError, ValueError, OverflowError):
            self.unreadable.append(f"{what} at 0x{address:x} ({size} bytes) is not in the dump")
            return None

    def read_sparse(self, address: int, size: int, what: str) -> tuple[bytearray, list[int]]:
        out, missing = read_sparse(self.prog, address, size, self.page_size)
        if missing:
            self.unreadable.append(
                f"{what}: {len(missing)} page(s) of {size} bytes at 0x{address:x} "
                "are not in the dump"
            )
        return out, missing

    def ulong(self, data: _Bytes, offset: int) -> int:
        fmt = self.end + ("Q" if self.long_size == 8 else "I")
        value: int = struct.unpack_from(fmt, data, offset)[0]
        return value

    def u32(self, data: _Bytes, offset: int) -> int:
        value: int = struct.unpack_from(self.end + "I", data, offset)[0]
        return value

    def u16(self, data: _Bytes, offset: int) -> int:
        value: int = struct.unpack_from(self.end + "H", data, offset)[0]
        return value

    def u64(self, data: _Bytes, offset: int) -> int:
        value: int = struct.unpack_from(self.end + "Q", data, offset)[0]
        return value

    def level(self, data: _Bytes, offset: int) -> int:
        # "u8 flags:5; u8 level:3;" share one byte: GCC puts the first bit-field in
        # the low bits on little-endian machines and in the high bits on big-endian.
        byte = data[offset]
        return byte >> 5 if self.little else byte & 7


def _caller(caller_id: int) -> str:
    # printk_caller_id(): the top bit marks a CPU number, otherwise a task ID.
    if caller_id & 0x80000000:
        return f"C{caller_id & 0x7FFFFFFF}"
    return f"T{caller_id}"


def _missing_in(missing: list[int], page_size: int, start: int, stop: int) -> bool:
    return any(page < stop and page + page_size > start for page in missing)


def _decode(text: _Bytes) -> str:
    return text.decode("utf-8", "backslashreplace")


def _need(info: Mapping[str, str], *keys: str) -> dict[str, int] | None:
    values = {}
    for key in keys:
        raw = info.get(key)
        if raw is None:
            return None
        try:
            values[key] = int(raw, 16) if key.startswith("SYMBOL(") else int(raw)
        except ValueError:
            return None
    return values


def _read_lockless(mem: _Memory, info: Mapping[str, str]) -> list[LogRecord] | None:
    keys = _need(
        info,
        "SYMBOL(prb)",
        "SIZE(printk_ringbuffer)",
        "OFFSET(printk_ringbuffer.desc_ring)",
        "OFFSET(printk_ringbuffer.text_data_ring)",
        "OFFSET(prb_desc_ring.count_bits)",
        "OFFSET(prb_desc_ring.descs)",
        "OFFSET(prb_desc_ring.infos)",
        "OFFSET(prb_desc_ring.head_id)",
        "OFFSET(prb_desc_ring.tail_id)",
        "SIZE(prb_desc)",
        "OFFSET(prb_desc.state_var)",
        "OFFSET(prb_desc.text_blk_lpos)",
        "OFFSET(prb_data_blk_lpos.begin)",
        "OFFSET(prb_data_blk_lpos.next)",
        "SIZE(printk_info)",
        "OFFSET(printk_info.seq)",
        "OFFSET(printk_info.ts_nsec)",
        "OFFSET(printk_info.text_len)",
        "OFFSET(prb_data_ring.size_bits)",
        "OFFSET(prb_data_ring.data)",
    )
    if keys is None:
        mem.unreadable.append("VMCOREINFO lacks the printk ring buffer layout")
        return None
    counter = _int_or_none(info.get("OFFSET(atomic_long_t.counter)")) or 0
    caller_off = _int_or_none(info.get("OFFSET(printk_info.caller_id)"))
    text_len_off = keys["OFFSET(printk_info.text_len)"]

    pointer = mem.read(keys["SYMBOL(prb)"], mem.long_size, "the prb pointer")
    if pointer is None:
        return None
    prb_addr = mem.ulong(pointer, 0)
    prb = mem.read(prb_addr, keys["SIZE(printk_ringbuffer)"], "struct printk_ringbuffer")
    if prb is None:
        return None
    ring = keys["OFFSET(printk_ringbuffer.desc_ring)"]
    count_bits = mem.u32(prb, ring + keys["OFFSET(prb_desc_ring.count_bits)"])
    descs_addr = mem.ulong(prb, ring + keys["OFFSET(prb_desc_ring.descs)"])
    infos_addr = mem.ulong(prb, ring + keys["OFFSET(prb_desc_ring.infos)"])
    head_id = mem.ulong(prb, ring + keys["OFFSET(prb_desc_ring.head_id)"] + counter)
    tail_id = mem.ulong(prb, ring + keys["OFFSET(prb_desc_ring.tail_id)"] + counter)
    data_ring = keys["OFFSET(printk_ringbuffer.text_data_ring)"]
    size_bits = mem.u32(prb, data_ring + keys["OFFSET(prb_data_ring.size_bits)"])
    data_addr = mem.ulong(prb, data_ring + keys["OFFSET(prb_data_ring.data)"])
    count = 1 << count_bits if count_bits < 32 else 0
    ring_size = 1 << size_bits if size_bits < 40 else 0
    if not 0 < count <= _MAX_DESC_COUNT or not 0 < ring_size <= _MAX_TEXT_RING:
        mem.unreadable.append(
            f"printk ring buffer header is corrupt (2^{count_bits} descriptors, "
            f"2^{size_bits} bytes of text)"
        )
        return None

    desc_size = keys["SIZE(prb_desc)"]
    info_size = keys["SIZE(printk_info)"]
    descs, descs_missing = mem.read_sparse(descs_addr, desc_size * count, "printk descriptor ring")
    infos, infos_missing = mem.read_sparse(infos_addr, info_size * count, "printk info ring")
    text, text_missing = mem.read_sparse(data_addr, ring_size, "printk text ring")

    # Descriptor state_var: the top two bits are the state, the rest the ID.
    bits = mem.long_size * 8
    flags_shift = bits - 2
    id_mask = (1 << flags_shift) - 1
    records = []
    skipped = 0
    ident = tail_id
    for _ in range(count + 1):
        index = ident % count
        desc_at = index * desc_size
        info_at = index * info_size
        if _missing_in(descs_missing, mem.page_size, desc_at, desc_at + desc_size):
            skipped += 1
        else:
            record = _lockless_record(
                mem,
                keys,
                descs,
                desc_at,
                infos,
                info_at,
                text,
                ring_size,
                ident,
                flags_shift,
                counter,
                text_len_off,
                caller_off,
            )
            if record is not None and _missing_in(
                infos_missing, mem.page_size, info_at, info_at + info_size
            ):
                skipped += 1
            elif record is not None:
                begin, end, rec = record
                if _missing_in(text_missing, mem.page_size, begin, end):
                    skipped += 1
                else:
                    records.append(rec)
        if ident == head_id:
            break
        ident = (ident + 1) & id_mask
    if skipped:
        mem.unreadable.append(f"{skipped} printk record(s) lie in pages missing from the dump")
    return records


def _lockless_record(
    mem: _Memory,
    keys: Mapping[str, int],
    descs: _Bytes,
    desc_at: int,
    infos: _Bytes,
    info_at: int,
    text: _Bytes,
    ring_size: int,
    ident: int,
    flags_shift: int,
    counter: int,
    text_len_off: int,
    caller_off: int | None,
) -> tuple[int, int, LogRecord] | None:
    state_var = mem.ulong(descs, desc_at + keys["OFFSET(prb_desc.state_var)"] + counter)
    id_mask = (1 << flags_shift) - 1
    # desc_committed (1) and desc_finalized (2) hold a record; desc_miss (ID
    # mismatch), desc_reserved (0) and desc_reusable (3) do not.
    if state_var & id_mask != ident or (state_var >> flags_shift) & 3 not in (1, 2):
        return None
    lpos = desc_at + keys["OFFSET(prb_desc.text_blk_lpos)"]
    begin = mem.ulong(descs, lpos + keys["OFFSET(prb_data_blk_lpos.begin)"]) % ring_size
    nxt = mem.ulong(descs, lpos + keys["OFFSET(prb_data_blk_lpos.next)"]) % ring_size
    if begin == nxt:
        # A data-less record: an empty line, or text the writer failed to store.
        text_len = 0
    else:
        if begin > nxt:
            begin = 0  # the block wrapped: its data starts at the ring's start
        begin += mem.long_size  # skip the block's ID
        text_len = mem.u16(infos, info_at + text_len_off)
        text_len = min(text_len, max(0, nxt - begin))
    seq = mem.u64(infos, info_at + keys["OFFSET(printk_info.seq)"])
    ts_nsec = mem.u64(infos, info_at + keys["OFFSET(printk_info.ts_nsec)"])
    level = mem.level(infos, info_at + text_len_off + 3)
    caller = None
    if caller_off is not None:
        caller = _caller(mem.u32(infos, info_at + caller_off))
    raw = bytes(text[begin : begin + text_len])
    return (
        begin,
        begin + text_len,
        LogRecord(text=_decode(raw), timestamp_ns=ts_nsec, level=level, seq=seq, caller=caller),
    )


def _int_or_none(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _read_structured(mem: _Memory, info: Mapping[str, str]) -> list[LogRecord] | None:
    # Linux kernel commit 62e32ac3505a ("printk: rename struct log to struct
    # printk_log") (in v3.11) renamed the VMCOREINFO entries too.
    struct_name = "printk_log" if "SIZE(printk_log)" in info else "log"
    keys = _need(
        info,
        "SYMBOL(log_buf)",
        "SYMBOL(log_buf_len)",
        "SYMBOL(log_first_idx)",
        "SYMBOL(log_next_idx)",
        f"SIZE({struct_name})",
        f"OFFSET({struct_name}.ts_nsec)",
        f"OFFSET({struct_name}.len)",
        f"OFFSET({struct_name}.text_len)",
    )
    if keys is None:
        mem.unreadable.append("VMCOREINFO describes no kernel log buffer this reader knows")
        return None
    header_size = keys[f"SIZE({struct_name})"]
    ts_off = keys[f"OFFSET({struct_name}.ts_nsec)"]
    len_off = keys[f"OFFSET({struct_name}.len)"]
    text_len_off = keys[f"OFFSET({struct_name}.text_len)"]
    # struct printk_log: u64 ts_nsec; u16 len, text_len, dict_len; u8 facility;
    # u8 flags:5, level:3. VMCOREINFO does not describe the caller_id that
    # CONFIG_PRINTK_CALLER appends (v5.1+), and makedumpfile does not print it.
    level_off = text_len_off + 5

    pointer = mem.read(keys["SYMBOL(log_buf)"], mem.long_size, "the log_buf pointer")
    length = mem.read(keys["SYMBOL(log_buf_len)"], 4, "log_buf_len")
    first = mem.read(keys["SYMBOL(log_first_idx)"], 4, "log_first_idx")
    nxt = mem.read(keys["SYMBOL(log_next_idx)"], 4, "log_next_idx")
    if pointer is None or length is None or first is None or nxt is None:
        return None
    buf_addr = mem.ulong(pointer, 0)
    buf_len = mem.u32(length, 0)
    idx = mem.u32(first, 0)
    end_idx = mem.u32(nxt, 0)
    if not 0 < buf_len <= _MAX_TEXT_RING or idx >= buf_len or end_idx >= buf_len:
        mem.unreadable.append(
            f"kernel log buffer header is corrupt (length {buf_len}, first {idx}, next {end_idx})"
        )
        return None
    buf, missing = mem.read_sparse(buf_addr, buf_len, "kernel log buffer")
    records = []
    skipped = 0
    steps = 0
    while idx != end_idx and steps <= buf_len:
        steps += 1
        if idx + header_size > buf_len:
            idx = 0  # no room for a header: the writer wrapped
            continue
        if _missing_in(missing, mem.page_size, idx, idx + header_size):
            skipped += 1
            mem.unreadable.append("kernel log buffer: lost the record chain at a missing page")
            break
        rec_len = mem.u16(buf, idx + len_off)
        if rec_len == 0 and idx != 0:
            idx = 0  # a zero-length header marks the wrap to the buffer's start
            continue
        if rec_len < header_size:
            mem.unreadable.append(f"kernel log buffer: corrupt record at offset {idx}")
            break
        text_len = mem.u16(buf, idx + text_len_off)
        start = idx + header_size
        stop = min(start + text_len, buf_len)
        if _missing_in(missing, mem.page_size, start, stop):
            skipped += 1
        else:
            records.append(
                LogRecord(
                    text=_decode(bytes(buf[start:stop])),
                    timestamp_ns=mem.u64(buf, idx + ts_off),
                    level=mem.level(buf, idx + level_off),
                )
            )
        idx += rec_len
        if idx >= buf_len:
            idx = 0
    if skipped:
        mem.unreadable.append(f"{skipped} kernel log record(s) lie in pages missing from the dump")
    return records


def read_log(prog: drgn.Program) -> PrintkLog:
    """
    Read the kernel log from a dump using only what VMCOREINFO describes.

    Needs no debug info. Records that lie in pages missing from the dump are
    skipped and counted in :attr:`PrintkLog.unreadable`; a dump whose log cannot
    be found at all gives an empty log that says why.

    :param prog: a program on a core dump or a live kernel (see
        :func:`ktriage.source.open.open_program`).
    :return: the records, oldest first.
    """
    info = vmcoreinfo(prog)
    mem = _Memory(prog, info)
    if not info:
        return PrintkLog((), ("the dump carries no VMCOREINFO: the kernel log cannot be found",))
    # Linux kernel commit 896fbe20b4e2 ("printk: use the lockless ringbuffer")
    # (in v5.10) replaced log_buf with prb.
    reader = _read_lockless if "SYMBOL(prb)" in info else _read_structured
    records = reader(mem, info)
    return PrintkLog(records or (), mem.unreadable)


STYLES = ("makedumpfile", "makedumpfile-old", "vmcore-dmesg")
"""
Ways of printing the log (:func:`format_log`'s ``style``), after the tools that
write ``vmcore-dmesg.txt``:

- ``makedumpfile``: ``makedumpfile --dump-dmesg`` as of 1.7.6 (Debian trixie):
  the caller ID in a column (``[    0.000000] [      T0] text``) when the kernel
  records it, further lines of a record indented under its text, empty records
  left out;
- ``makedumpfile-old``: older makedumpfile (1.7.2, Debian bookworm): the same
  without the caller column;
- ``vmcore-dmesg``: kexec-tools' ``vmcore-dmesg``, which the kdump service runs
  in the capture kernel: no caller column, further lines at the margin, empty
  records kept.
"""

# makedumpfile's PID_CHARS_DEFAULT: width of the caller ID column.
_CALLER_WIDTH = 8


def _escape(text: str, indent: int | None, signed_char: bool) -> str:
    # Printable characters and whitespace are copied, other bytes become "\xNN".
    # makedumpfile indents further lines of a record under its text and tests a
    # (signed, on x86) char, so a byte >= 0x80 prints as "\xffffffNN" there.
    if text.isascii() and text.isprintable():
        return text
    out = []
    high = "\\xffffff{:02x}" if signed_char else "\\x{:02x}"
    for char in text:
        code = ord(char)
        if char == "\n":
            out.append("\n" + " " * indent if indent is not None else "\n")
        elif 0x20 <= code < 0x7F or char in "\t\v\f\r":
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        else:
            out.extend(high.format(b) for b in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


def format_record(record: LogRecord, style: str = "makedumpfile") -> str:
    """
    One record as ``vmcore-dmesg.txt`` shows it, without the final newline.

    ``[    1.234567] text`` (see :data:`STYLES` for the differences between the
    tools). A record with no timestamp (a line of a text log) is shown as it is.
    """
    if record.timestamp_ns is None:
        return record.text
    sec, nsec = divmod(record.timestamp_ns, 1_000_000_000)
    prefix = f"[{sec:5d}.{nsec // 1000:06d}] "
    if style == "vmcore-dmesg":
        return prefix + _escape(record.text, None, signed_char=False)
    if style == "makedumpfile" and record.caller is not None:
        prefix += f"[{record.caller:>{_CALLER_WIDTH}}] "
    return prefix + _escape(record.text, len(prefix), signed_char=True)


def format_log(records: Iterable[LogRecord], style: str = "makedumpfile") -> str:
    """
    The log as ``vmcore-dmesg.txt`` holds it: one record a line (continued on
    further lines for a multi-line record), each ended by a newline.

    :param style: one of :data:`STYLES`.
    """
    if style not in STYLES:
        raise ValueError(f"unknown log style {style!r}; use one of {', '.join(STYLES)}")
    keep_empty = style == "vmcore-dmesg"
    return "".join(
        format_record(record, style) + "\n"
        for record in records
        if keep_empty or record.text or record.timestamp_ns is None
    )


_LINE = re.compile(r"^(?:<(\d+)>)?\[\s*(\d+)\.(\d{6})\] ?(?:\[ *([TC]\d+)\] )?")


def parse_log_text(text: str) -> tuple[LogRecord, ...]:
    """
    Records of a saved kernel log (``vmcore-dmesg.txt``, ``dmesg``, ``dmesg -r``).

    A line starting with a ``[    1.234567]`` timestamp (after an optional
    ``<level>``, before an optional ``[    T123]`` caller ID) starts a record; a
    line without one continues the record before it, with makedumpfile's
    indentation removed. Lines before the first timestamp are records without a
    timestamp. ``format_log`` gives the text back.
    """
    records: list[LogRecord] = []
    lines: list[str] = []
    timestamp: int | None = None
    level: int | None = None
    caller: str | None = None
    indent = 0
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            if lines:
                records.append(
                    LogRecord(
                        text="\n".join(lines), timestamp_ns=timestamp, level=level, caller=caller
                    )
                )
            raw_level, sec, usec, caller = match.groups()
            timestamp = int(sec) * 1_000_000_000 + int(usec) * 1000
            level = int(raw_level) & 7 if raw_level is not None else None
            lines = [line[match.end() :]]
            indent = match.end() - (len(raw_level) + 2 if raw_level is not None else 0)
        elif lines:
            lines.append(line[indent:] if line.startswith(" " * indent) else line)
        else:
            records.append(LogRecord(text=line))
    if lines:
        records.append(
            LogRecord(text="\n".join(lines), timestamp_ns=timestamp, level=level, caller=caller)
        )
    return tuple(records)
