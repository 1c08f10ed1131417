"""Fixtures that hand tests real corpus dumps, skipping with the reason when absent."""

from __future__ import annotations

import pytest
from corpus import BUILT_CORPUS, SHARED_CORPUS, CorpusDump, all_dumps

_DUMPS = all_dumps()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``corpus_dump`` over every dump on this machine."""
    if "corpus_dump" in metafunc.fixturenames:
        if _DUMPS:
            metafunc.parametrize("corpus_dump", _DUMPS, ids=[d.name for d in _DUMPS])
        else:
            metafunc.parametrize(
                "corpus_dump",
                [
                    pytest.param(
                        None,
                        marks=pytest.mark.skip(
                            reason=f"no corpus dumps in {SHARED_CORPUS} or {BUILT_CORPUS}"
                        ),
                    )
                ],
            )


@pytest.fixture
def vmlinux_dump(corpus_dump: CorpusDump) -> CorpusDump:
    """A corpus dump whose matching vmlinux is on this machine."""
    if corpus_dump.vmlinux is None:
        pytest.skip(f"no vmlinux for {corpus_dump.release} (run tests/vmcores/build)")
    return corpus_dump
