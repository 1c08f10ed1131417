"""
x86-64 instruction decoding with capstone
-----------------------------------------

``import capstone`` builds the ctypes layout of the instruction details of all
18 architectures capstone knows (about 25 ms, a tenth of an analysis on the BTF
tier), although ``dis -rl`` needs one architecture and no details. When the
capstone package ships its library (the wheels do) and that library has the
capstone 5 ABI, :func:`instructions` calls the four functions it needs from it
directly: ``cs_open``, ``cs_disasm``, ``cs_free``, ``cs_close``. Otherwise it
goes through the capstone package. Both decode with the same library, so their
answers are the same (tests compare them on the corpus dumps' code).
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
from collections.abc import Iterator
from typing import Final

__all__ = ("instructions",)

Instruction = tuple[int, int, str, str]
"""``(address, size, mnemonic, operands)``, as ``capstone.Cs.disasm_lite`` gives."""

_CS_ARCH_X86: Final = 3
_CS_MODE_64: Final = 8
_ABI_MAJOR: Final = 5


class _Insn(ctypes.Structure):
    # cs_insn of capstone 5 (include/capstone/capstone.h).
    _fields_ = (
        ("id", ctypes.c_uint),
        ("address", ctypes.c_uint64),
        ("size", ctypes.c_uint16),
        ("bytes", ctypes.c_ubyte * 24),
        ("mnemonic", ctypes.c_char * 32),
        ("op_str", ctypes.c_char * 160),
        ("detail", ctypes.c_void_p),
    )


@functools.cache
def _direct() -> ctypes.CDLL | None:
    # The library inside the capstone package, if it has the capstone 5 ABI.
    spec = importlib.util.find_spec("capstone")
    if spec is None or not spec.submodule_search_locations:
        return None
    for directory in spec.submodule_search_locations:
        path = os.path.join(directory, "lib", "libcapstone.so")
        if not os.path.isfile(path):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            return None
        lib.cs_version.argtypes = (ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
        lib.cs_version.restype = ctypes.c_uint
        major, minor = ctypes.c_int(), ctypes.c_int()
        lib.cs_version(ctypes.byref(major), ctypes.byref(minor))
        if major.value != _ABI_MAJOR:
            return None
        lib.cs_open.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t))
        lib.cs_open.restype = ctypes.c_int
        lib.cs_disasm.argtypes = (
            ctypes.c_size_t,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint64,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.POINTER(_Insn)),
        )
        lib.cs_disasm.restype = ctypes.c_size_t
        lib.cs_free.argtypes = (ctypes.POINTER(_Insn), ctypes.c_size_t)
        lib.cs_free.restype = None
        lib.cs_close.argtypes = (ctypes.POINTER(ctypes.c_size_t),)
        lib.cs_close.restype = ctypes.c_int
        return lib
    return None


def instructions(code: bytes, address: int, *, direct: bool = True) -> Iterator[Instruction]:
    """The x86-64 instructions in *code* loaded at *address*, up to the first
    that does not decode (as ``capstone.Cs.disasm_lite``).

    :param direct: use the library directly where it can (``False``: always the
        capstone package; for tests)
    """
    lib = _direct() if direct else None
    if lib is None:
        import capstone

        yield from capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64).disasm_lite(code, address)
        return
    handle = ctypes.c_size_t()
    if lib.cs_open(_CS_ARCH_X86, _CS_MODE_64, ctypes.byref(handle)) != 0:
        raise RuntimeError("capstone: cannot open an x86-64 disassembler")
    insns = ctypes.POINTER(_Insn)()
    try:
        count = lib.cs_disasm(handle, code, len(code), address, 0, ctypes.byref(insns))
        try:
            decoded = [
                (
                    insn.address,
                    insn.size,
                    insn.mnemonic.decode("ascii", "replace"),
                    insn.op_str.decode("ascii", "replace"),
                )
                for insn in (insns[i] for i in range(count))
            ]
        finally:
            if count:
                lib.cs_free(insns, count)
    finally:
        lib.cs_close(ctypes.byref(handle))
    yield from decoded
