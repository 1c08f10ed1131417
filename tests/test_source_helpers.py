"""
drgn's Linux helper package registered without its re-exports
(``ktriage.source.helpers.defer_package_exports``), each case in a fresh
interpreter: this one may already have imported ``drgn.helpers.linux`` whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from corpus import REPO, all_dumps

# Helper modules no ktriage code imports (checked below), so nothing but the
# package's own __init__ would load them.
UNUSED = ("drgn.helpers.linux.net", "drgn.helpers.linux.tcp", "drgn.helpers.linux.bpf")


def run(code: str) -> Any:
    """Run *code* in a fresh interpreter; it prints one JSON value as its last line."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *sys.path])},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_unused_modules_are_unused_by_ktriage() -> None:
    # The premise of the laziness check: ktriage never names these modules.
    sources = "\n".join(p.read_text() for p in (REPO / "src" / "ktriage").rglob("*.py"))
    for name in UNUSED:
        assert name not in sources
        assert f"import {name.rpartition('.')[2]}" not in sources


def test_submodule_import_leaves_the_rest_unloaded() -> None:
    got = run(
        f"""
        import json, sys
        from ktriage.source.helpers import defer_package_exports
        assert "drgn.helpers.linux" not in sys.modules
        deferred = defer_package_exports()
        import drgn.helpers.linux.sched
        from drgn.helpers.linux.list import list_for_each_entry
        import drgn.helpers.linux as package
        print(json.dumps({{
            "deferred": deferred,
            "same_package": package is sys.modules["drgn.helpers.linux"],
            "sched": hasattr(drgn.helpers.linux.sched, "task_state_to_char"),
            "parent_attr": sys.modules["drgn.helpers"].linux is package,
            "loaded": [m for m in {UNUSED!r} if m in sys.modules],
            "helpers": sorted(m for m in sys.modules if m.startswith("drgn.helpers.linux.")),
        }}))
        """
    )
    assert got["deferred"] is True
    assert got["same_package"] and got["sched"] and got["parent_attr"]
    assert got["loaded"] == []
    # Only what was asked for (and what those modules import themselves).
    assert len(got["helpers"]) < 20, got["helpers"]
    assert "drgn.helpers.linux.sched" in got["helpers"]


def test_package_names_gathered_on_first_use() -> None:
    deferred = run(
        """
        import json, sys
        from ktriage.source.helpers import defer_package_exports
        deferred = defer_package_exports()
        before = "drgn.helpers.linux.net" in sys.modules
        from drgn.helpers.linux import list_for_each_entry
        import drgn.helpers.linux as package
        from drgn.helpers.linux.list import list_for_each_entry as original
        print(json.dumps({
            "deferred": deferred,
            "before": before,
            "same_function": list_for_each_entry is original,
            "all": package.__all__,
            "exported": sorted(n for n in package.__all__ if getattr(package, n, None) is None),
            "net": "drgn.helpers.linux.net" in sys.modules,
            "hook_left": "__getattr__" in vars(package),
            "missing": hasattr(package, "no_such_helper"),
            "again": defer_package_exports(),
        }))
        """
    )
    plain = run(
        """
        import json
        import drgn.helpers.linux as package
        print(json.dumps({"all": package.__all__}))
        """
    )
    assert deferred["deferred"] is True
    assert deferred["before"] is False
    assert deferred["same_function"] is True
    assert "list_for_each_entry" in deferred["all"]
    assert deferred["all"] == plain["all"]
    assert len(plain["all"]) > 200
    assert deferred["exported"] == []
    # The real __init__ ran: it imports every helper module, then the hook is gone.
    assert deferred["net"] is True
    assert deferred["hook_left"] is False
    assert deferred["missing"] is False
    assert deferred["again"] is False


def test_all_is_gathered_by_itself() -> None:
    # __all__ is the first name asked for (what `from drgn.helpers.linux import *`
    # reads); a dunder that the package never defines is not gathered.
    got = run(
        """
        import json, sys
        from ktriage.source.helpers import defer_package_exports
        assert defer_package_exports()
        import drgn.helpers.linux as package
        try:
            package.__wrapped__
            dunder = "found"
        except AttributeError:
            dunder = "AttributeError"
        untouched = "drgn.helpers.linux.net" not in sys.modules
        namespace = {}
        exec("from drgn.helpers.linux import *", namespace)
        print(json.dumps({
            "dunder": dunder,
            "untouched": untouched,
            "star": "for_each_task" in namespace and "list_for_each_entry" in namespace,
            "count": len(package.__all__),
        }))
        """
    )
    assert got == {
        "dunder": "AttributeError",
        "untouched": True,
        "star": True,
        "count": got["count"],
    }
    assert got["count"] > 200


def test_already_imported_is_left_alone() -> None:
    got = run(
        """
        import json
        import drgn.helpers.linux as package
        from ktriage.source.helpers import defer_package_exports
        print(json.dumps({
            "deferred": defer_package_exports(),
            "same": __import__("sys").modules["drgn.helpers.linux"] is package,
        }))
        """
    )
    assert got == {"deferred": False, "same": True}


def test_btf_tier_needs_no_package_exports(tmp_path: Path) -> None:
    # ktriage's own path (open the dump, load the BTF tier, unwind the crashed
    # thread) defers the package and never gathers its exports.
    dumps = all_dumps()
    if not dumps:
        pytest.skip("no corpus dumps")
    got = run(
        f"""
        import json, sys
        from pathlib import Path
        from ktriage.source.open import open_program
        from ktriage.symbols.btf_tier import load_btf_tier
        assert "drgn.helpers.linux" not in sys.modules
        prog = open_program(Path({str(dumps[0].dump)!r}))
        load_btf_tier(prog, cache_dir=Path({str(tmp_path)!r}))
        from drgn.helpers.linux.sched import task_state_to_char
        state = task_state_to_char(prog.crashed_thread().object)
        frames = len(prog.crashed_thread().stack_trace())
        package = sys.modules["drgn.helpers.linux"]
        print(json.dumps({{
            "state": state,
            "frames": frames,
            "hook_left": "__getattr__" in vars(package),
            "loaded": [m for m in {UNUSED!r} if m in sys.modules],
        }}))
        """
    )
    assert got["state"] in "RSDTtXZPIN"
    assert got["frames"] > 3
    assert got["hook_left"] is True
    assert got["loaded"] == []


def test_threads_asking_at_once_all_get_the_names() -> None:
    # The package's __init__ takes tens of milliseconds: threads that ask for a
    # package-level name meanwhile wait for it instead of missing the name.
    got = run(
        """
        import json, threading
        from ktriage.source.helpers import defer_package_exports
        assert defer_package_exports()
        import drgn.helpers.linux as linux
        barrier = threading.Barrier(4)
        results = []

        def ask():
            barrier.wait()
            try:
                results.append(linux.list_for_each_entry.__name__)
            except AttributeError as e:
                results.append(f"missed: {e}")

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps(results))
        """
    )
    assert got == ["list_for_each_entry"] * 4
