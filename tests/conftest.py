"""Fixtures that hand tests real corpus dumps, skipping with the reason when absent."""

from __future__ import annotations

import pytest
from corpus import (
    BUILT_CORPUS,
    FULL_CORPUS,
    SHARED_CORPUS,
    CorpusDump,
    all_dumps,
    representative_dumps,
)

_DUMPS = all_dumps()
_REPRESENTATIVE = _DUMPS if FULL_CORPUS else representative_dumps(_DUMPS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """
    Parametrize ``corpus_dump`` over every dump on this machine, and
    ``crash_dump`` over one dump per kernel and scenario (every dump with
    ``KTRIAGE_FULL_CORPUS=1``): the expensive tests take ``crash_dump``.
    """
    for name, dumps in (("corpus_dump", _DUMPS), ("crash_dump", _REPRESENTATIVE)):
        if name not in metafunc.fixturenames:
            continue
        if dumps:
            # Module scope groups each module's tests by dump, so fixtures that
            # open a dump (a drgn program is 100-400 MB) open it once per module.
            metafunc.parametrize(name, dumps, ids=[d.name for d in dumps], scope="module")
        else:
            metafunc.parametrize(
                name,
                [
                    pytest.param(
                        None,
                        marks=pytest.mark.skip(
                            reason=f"no corpus dumps in {SHARED_CORPUS} or {BUILT_CORPUS}"
                        ),
                    )
                ],
            )


@pytest.fixture(scope="module")
def vmlinux_dump(crash_dump: CorpusDump) -> CorpusDump:
    """A representative corpus dump whose matching vmlinux is on this machine."""
    if crash_dump.vmlinux is None:
        pytest.skip(f"no vmlinux for {crash_dump.release} (run tests/vmcores/build)")
    return crash_dump
