"""ktriage's direct calls into libcapstone decode exactly as the capstone package."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import drgn
import pytest
from corpus import CorpusDump

from ktriage.source import disasm
from ktriage.source.open import open_program


def _both(code: bytes, address: int) -> tuple[list[disasm.Instruction], list[disasm.Instruction]]:
    return (
        list(disasm.instructions(code, address)),
        list(disasm.instructions(code, address, direct=False)),
    )


def test_the_bundled_library_is_used() -> None:
    spec = importlib.util.find_spec("capstone")
    assert spec is not None and spec.submodule_search_locations
    if not any(
        (Path(d) / "lib" / "libcapstone.so").is_file() for d in spec.submodule_search_locations
    ):
        pytest.skip("this capstone has no bundled library (a distribution package)")
    assert disasm._direct() is not None


def test_random_bytes_decode_alike() -> None:
    rng = random.Random(20261126)
    for _ in range(300):
        code = rng.randbytes(rng.randrange(0, 200))
        direct, package = _both(code, rng.randrange(0, 2**64 - 4096))
        assert direct == package


def test_kernel_code_decodes_alike(corpus_dump: CorpusDump) -> None:
    """The first 64 KiB of the kernel's text and the code of every function on the
    panic task's stack, from the dump."""
    prog = open_program(corpus_dump.dump)
    try:
        from ktriage.symbols.btf_tier import load_btf_tier

        load_btf_tier(prog)
        text = prog.symbol("_text").address
        chunks = [(text, prog.read(text, 65536))]
        thread = prog.crashed_thread()
        for frame in thread.stack_trace():
            try:
                symbol = prog.symbol(frame.pc)
            except LookupError:
                continue
            size = min(symbol.size or 256, 16384)
            chunks.append((symbol.address, prog.read(symbol.address, size)))
    except (drgn.FaultError, LookupError, ValueError) as e:
        pytest.skip(f"code not readable in this dump: {e}")
    decoded = 0
    for address, code in chunks:
        direct, package = _both(code, address)
        assert direct == package, hex(address)
        decoded += len(direct)
    assert decoded > 200
