"""
Cache directory
---------------

Where ktriage keeps what it derives from kernels and dumps for the next run:
debuginfo, parsed BTF and kallsyms names, symbol indexes, rearranged flattened
dumps. Everything is keyed by what it was derived from; deleting the directory
only costs time.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ("cache_root",)


def cache_root() -> Path:
    """``$KTRIAGE_CACHE``, by default ``/var/cache/ktriage``."""
    return Path(os.environ.get("KTRIAGE_CACHE", "/var/cache/ktriage"))
