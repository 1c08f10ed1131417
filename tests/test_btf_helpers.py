"""drgn helpers ktriage's collectors use give the same answers on the BTF and DWARF tiers."""

from __future__ import annotations

import drgn
from drgn.helpers.linux.cpumask import (
    for_each_online_cpu,
    for_each_possible_cpu,
    num_online_cpus,
    num_present_cpus,
)
from drgn.helpers.linux.mm import (
    decode_page_flags,
    find_vmap_area,
    task_rss,
    task_vsize,
    totalram_pages,
    virt_to_page,
)
from drgn.helpers.linux.mmzone import for_each_online_pgdat
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import cpu_curr, idle_task, loadavg, task_cpu
from drgn.helpers.linux.slab import for_each_slab_cache, slab_object_info
from test_btf_tier import pair  # noqa: F401 - fixture


def answers(prog: drgn.Program) -> dict[str, object]:
    tasks = sorted(for_each_task(prog), key=lambda t: t.pid.value_())
    result: dict[str, object] = {
        "cpus": (num_online_cpus(prog), num_present_cpus(prog)),
        "possible": list(for_each_possible_cpu(prog)),
        "curr": [cpu_curr(prog, cpu).pid.value_() for cpu in for_each_online_cpu(prog)],
        "idle": [idle_task(prog, cpu).comm.string_() for cpu in for_each_online_cpu(prog)],
        "loadavg": loadavg(prog),
        "totalram": totalram_pages(prog),
        "nodes": [pgdat.node_id.value_() for pgdat in for_each_online_pgdat(prog)],
        "rss": [(t.pid.value_(), task_rss(prog, t).total) for t in tasks if t.mm],
        "vsize": [(t.pid.value_(), task_vsize(t)) for t in tasks if t.mm],
        "task_cpu": [task_cpu(t) for t in tasks],
        "slab_caches": sorted(c.name.string_() for c in for_each_slab_cache(prog)),
    }
    slab = []
    stacks = []
    pages = []
    for task in tasks[:20]:
        info = slab_object_info(task)
        slab.append(
            None if info is None else (info.slab_cache.name.string_(), info.address, info.allocated)
        )
        area = find_vmap_area(prog, task.stack.value_())
        stacks.append(None if not area else (area.va_start.value_(), area.va_end.value_()))
        pages.append(decode_page_flags(virt_to_page(task)))
    result.update(slab=slab, stacks=stacks, pages=pages)
    return result


def test_helpers_agree(pair: tuple[drgn.Program, drgn.Program]) -> None:  # noqa: F811
    btf, dwarf = pair
    got, expected = answers(btf), answers(dwarf)
    for key in expected:
        assert got[key] == expected[key], key
