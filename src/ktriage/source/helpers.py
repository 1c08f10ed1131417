"""
drgn's Linux helpers, imported by what ktriage uses
---------------------------------------------------

``drgn/helpers/linux/__init__.py`` imports all of its 56 helper modules (and
through ``printk`` drgn's command framework and CLI) so that their names can be
imported from the package itself; that costs 40-45 ms at every start, more than
ktriage's own use of the dozen modules it needs. ktriage imports helpers by
their modules' full names (``drgn.helpers.linux.sched``), which needs the
package object but none of the names its ``__init__`` gathers.

:func:`defer_package_exports` registers the package without running that loop;
the first access to a name of the package itself (``from drgn.helpers.linux
import list_for_each_entry``, ``drgn.helpers.linux.__all__``) runs the package's
own ``__init__`` then, so every caller still gets what drgn gives.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

__all__ = ("PACKAGE", "defer_package_exports")

PACKAGE = "drgn.helpers.linux"

_lock = threading.RLock()


def defer_package_exports() -> bool:
    """Register :data:`PACKAGE` with its exports gathered on first use.

    Does nothing when the package is already imported. Returns whether it deferred.
    """
    with _lock:
        if PACKAGE in sys.modules:
            return False
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return False
        module = importlib.util.module_from_spec(spec)
        loader = spec.loader
        state = ["deferred"]

        def gather(name: str) -> Any:
            # Module-level __getattr__ (PEP 562): only names not yet set get here.
            # The hook stays until the package's own __init__ has run, so another
            # thread asking meanwhile waits on the lock instead of missing the name.
            if name.startswith("__") and name != "__all__":
                raise AttributeError(name)
            with _lock:
                if state[0] == "deferred":
                    state[0] = "running"
                    try:
                        loader.exec_module(module)
                    except BaseException:
                        state[0] = "deferred"
                        raise
                    state[0] = "done"
                    module.__dict__.pop("__getattr__", None)
            try:
                return module.__dict__[name]
            except KeyError:
                raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

        setattr(module, "__getattr__", gather)  # noqa: B010 - PEP 562 hook
        sys.modules[PACKAGE] = module
        parent: ModuleType = importlib.import_module(PACKAGE.rpartition(".")[0])
        setattr(parent, PACKAGE.rpartition(".")[2], module)
        return True
