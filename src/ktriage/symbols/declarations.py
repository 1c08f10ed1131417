"""
Declarations
------------

The types of the kernel's ordinary global variables, for the BTF tier.

The vmlinux BTF describes types and functions, but of the variables only the per-CPU
ones (pahole emits ``VAR`` records for ``.data..percpu`` only), and older pahole none
at all (Debian's 5.10 kernel has no ``VAR`` record). drgn's helpers and ktriage's
collectors read globals such as ``init_task``, ``prb`` or ``tainted_mask``, and the
per-CPU ``runqueues``, so each one they need is declared here: its C type (looked
up in BTF) and, for arrays, where the length comes from. The address always comes
from kallsyms (a per-CPU variable's is its offset in each CPU's area).

Array lengths never come from kallsyms: its "sizes" are distances to the next symbol
(``task_state_array`` would look 16 long instead of 9). A length is a fixed number
(a constant of the kernel ABI), the name of a BTF enumerator, a derivation from
other types or the contents (:data:`LENGTH_RULES`), or absent: an incomplete array
(``[]``), which can be indexed but not iterated.

Top-level qualifiers are not declared: ``const`` came and went on several of these
(``struct kobj_type``, ``struct bus_type``, ``struct class`` became const in 6.2-6.4)
and does not change how they are read.

Globals renamed or added by newer kernels are all declared; whichever one the
dump's kallsyms has is the one found (e.g. ``vmap_area_list`` before Linux kernel
commit d093602919ad ("mm: vmalloc: remove global vmap_area_root rb-tree") (in v6.9),
``vmap_nodes`` after it).

``tests/test_btf_declarations.py`` checks every entry against the DWARF of the
corpus kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import drgn

from ktriage.facts.base import Record

__all__ = (
    "DECLARATIONS",
    "LENGTH_RULES",
    "Declaration",
    "declaration",
    "resolve_length",
)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Declaration(Record):
    """The declared type of one global variable."""

    name: str
    type: tuple[str, ...]
    """C type names, tried in order; the element type when :attr:`array` is true.
    ``struct {a, b}`` means the anonymous structure with exactly those members."""
    array: bool = False
    length: int | str | None = None
    """For arrays: a number, an enumerator name, ``@rule`` (:data:`LENGTH_RULES`),
    or ``None`` for an incomplete array."""


def _d(name: str, *types: str, length: int | str | None = None, array: bool = False) -> Declaration:
    return Declaration(name=name, type=types, array=array or length is not None, length=length)


def _incomplete(name: str, *types: str) -> Declaration:
    return Declaration(name=name, type=types, array=True, length=None)


DECLARATIONS: Final[tuple[Declaration, ...]] = (
    _d("__cpu_active_mask", "struct cpumask"),
    _d("__cpu_dying_mask", "struct cpumask"),
    _d("__cpu_online_mask", "struct cpumask"),
    _d("__cpu_possible_mask", "struct cpumask"),
    _d("__cpu_present_mask", "struct cpumask"),
    _d("__highest_present_section_nr", "unsigned long"),
    _incomplete("__log_buf", "char"),
    _d("__per_cpu_offset", "unsigned long", length="@nr_cpus"),
    _d("_totalram_pages", "atomic_long_t"),
    _d("arp_tbl", "struct neigh_table"),
    _d("avenrun", "unsigned long", length=3),
    _d("block_class", "struct class"),
    _d("blockdev_superblock", "struct super_block *"),
    _d("boot_command_line", "char", length=2048),
    _d("btf_idr", "struct idr"),
    _d("btf_modules", "struct list_head"),
    _d("bus_kset", "struct kset *"),
    _d("bus_ktype", "struct kobj_type"),
    _d("cdev_map", "struct kobj_map *"),
    _d("cgroup_roots", "struct list_head"),
    _d("cgrp_dfl_root", "struct cgroup_root"),
    _d("chrdevs", "struct char_device_struct *", length=255),
    _d("class_kset", "struct kset *"),
    _d("class_ktype", "struct kobj_type"),
    _d("clear_seq", "struct latched_seq", "u64"),  # u64 before 5.13
    _d("console_drivers", "struct console *"),
    _d("console_list", "struct hlist_head"),
    _d("contig_page_data", "struct pglist_data"),
    _d("crash_notes", "note_buf_t *"),
    _d("crashing_cpu", "int"),
    _d("css_set_table", "struct hlist_head", length=128),
    _d("debug_locks", "int"),
    _d("device_ktype", "struct kobj_type"),
    _d("driver_ktype", "struct kobj_type"),
    _incomplete("gfpflag_names", "const struct trace_print_flags"),
    _d("high_memory", "void *"),
    _incomplete("hstates", "struct hstate"),
    _d("hugetlb_max_hstate", "int"),
    _d("hung_task_call_panic", "bool"),
    _d("idt_table", "gate_desc", length=256),
    _d("init_cred", "struct cred"),
    _d("init_fs", "struct fs_struct"),
    _d("init_ipc_ns", "struct ipc_namespace"),
    _d("init_mm", "struct mm_struct"),
    _d("init_net", "struct net"),
    _d("init_nsproxy", "struct nsproxy"),
    _d("init_pid_ns", "struct pid_namespace"),
    _d("init_task", "struct task_struct"),
    _d("init_time_ns", "struct time_namespace"),
    _d("init_uts_ns", "struct uts_namespace"),
    _d("iomem_resource", "struct resource"),
    _d("ioport_resource", "struct resource"),
    _d("ipc_mni_shift", "int"),
    _d("irq_desc_tree", "struct xarray", "struct radix_tree_root"),
    _d("jiffies", "volatile unsigned long"),
    _d("jiffies_64", "u64"),
    _d("kexec_crash_image", "struct kimage *"),
    _d("kexec_image", "struct kimage *"),
    _d("kptr_restrict", "int"),
    _d("kthreadd_task", "struct task_struct *"),
    _d("link_idr", "struct idr"),
    _incomplete("linux_banner", "const char"),
    _d("log_buf", "char *"),
    _d("log_buf_len", "u32"),
    _d("loops_per_jiffy", "unsigned long"),
    _d("major_names", "struct blk_major_name *", length=255),
    _d("map_idr", "struct idr"),
    _d("max_low_pfn", "unsigned long"),
    _d("max_pfn", "unsigned long"),
    _d("mem_section", "struct mem_section **"),
    _d("memblock", "struct memblock"),
    _d("memory_subsys", "struct bus_type"),
    _d("min_low_pfn", "unsigned long"),
    _d("mod_tree", "struct mod_tree_root"),
    _d("module_ktype", "struct kobj_type"),
    _d("modules", "struct list_head"),
    _d("net_namespace_list", "struct list_head"),
    _incomplete("node_data", "struct pglist_data *"),
    _d("node_states", "nodemask_t", length="NR_NODE_STATES"),
    _d("nr_cpu_ids", "unsigned int"),
    _d("nr_irqs", "int"),
    _d("nr_node_ids", "unsigned int"),
    _d("nr_online_nodes", "unsigned int"),
    _d("nr_swap_pages", "atomic_long_t"),
    _d("nr_swapfiles", "unsigned int"),
    _incomplete("nr_swapper_spaces", "unsigned int"),
    _d("nr_threads", "int"),
    _d("nr_vmap_nodes", "unsigned int"),
    _d("oops_in_progress", "int"),
    _d("page_offset_base", "unsigned long"),
    _d("panic_cpu", "atomic_t"),
    _d("panic_notifier_list", "struct atomic_notifier_head"),
    _d("panic_on_oops", "int"),
    _d("panic_on_warn", "int"),
    _d("panic_timeout", "int"),
    _d("pci_bus_type", "struct bus_type"),
    _d("pci_root_buses", "struct list_head"),
    _d("pcpu_base_addr", "void *"),
    _d("pid_max", "int"),
    _d("poll_spurious_irq_timer", "struct timer_list"),
    _d("prb", "struct printk_ringbuffer *"),
    _d("printk_rb_dynamic", "struct printk_ringbuffer"),
    _d("printk_rb_static", "struct printk_ringbuffer"),
    _d("prog_idr", "struct idr"),
    _d("rcu_state", "struct rcu_state"),
    _d("root_task_group", "struct task_group"),
    _d("runqueues", "struct rq"),  # per-CPU: for BTF without VAR records
    _d("saved_command_line", "char *"),
    _d("sections_per_block", "int"),
    _d("slab_caches", "struct list_head"),
    _d("slab_kset", "struct kset *"),
    _d("slab_nomerge", "bool"),
    _d("softirq_vec", "struct softirq_action", length="NR_SOFTIRQS"),
    _d("sparse_irqs", "struct maple_tree"),
    _incomplete("stack_pools", "void *"),
    _incomplete("stack_slabs", "void *"),
    _d("super_blocks", "struct list_head"),
    _d("swap_info", "struct swap_info_struct *", array=True),
    _incomplete("swapper_spaces", "struct address_space *"),
    _d("sysctl_hung_task_panic", "unsigned int"),
    _d("sysctl_hung_task_timeout_secs", "unsigned long"),
    _d("sysctl_hung_task_warnings", "int"),
    _d("sysctl_overcommit_kbytes", "unsigned long"),
    _d("sysctl_overcommit_ratio", "int"),
    _d("sysctl_panic_on_oom", "int"),
    _d("sysfs_root_kn", "struct kernfs_node *"),
    _d("system_state", "enum system_states"),
    _d("taint_flags", "const struct taint_flag", length="@taint_flags"),
    _d("tainted_mask", "unsigned long"),
    _d("task_state_array", "const char * const", length="@task_state_array"),
    _d("task_struct_cachep", "struct kmem_cache *"),
    _d("thread_stack_cache", "struct kmem_cache *"),
    _d("tk_core", "struct {seq, timekeeper}"),
    _d("total_forks", "unsigned long"),
    _d("total_swap_pages", "long"),
    _d("totalreserve_pages", "unsigned long"),
    _d("uidhash_table", "struct hlist_head", length=128),
    _incomplete("vermagic", "const char"),
    _d("vm_committed_as", "struct percpu_counter"),
    _d("vm_node_stat", "atomic_long_t", length="NR_VM_NODE_STAT_ITEMS"),
    _d("vm_numa_event", "atomic_long_t", length="NR_VM_NUMA_EVENT_ITEMS"),
    _d("vm_zone_stat", "atomic_long_t", length="NR_VM_ZONE_STAT_ITEMS"),
    _d("vmalloc_base", "unsigned long"),
    _d("vmap_area_list", "struct list_head"),
    _d("vmap_area_root", "struct rb_root"),
    _d("vmap_nodes", "struct vmap_node *"),
    _d("vmap_zone_size", "unsigned int"),
    _d("vmemmap_base", "unsigned long"),
    _d("watchdog_thresh", "int"),
    _d("workqueues", "struct list_head"),
)
"""Every declared global, sorted by name."""

_BY_NAME: Final[Mapping[str, Declaration]] = {d.name: d for d in DECLARATIONS}


def declaration(name: str) -> Declaration | None:
    """The declaration of global *name*, if there is one."""
    return _BY_NAME.get(name)


def _nr_cpus(prog: drgn.Program, address: int, element: drgn.Type) -> int | None:
    # __per_cpu_offset has NR_CPUS entries and struct cpumask is a bitmap of NR_CPUS
    # bits rounded up to whole longs: exact whenever NR_CPUS is a multiple of 64
    # (all distribution configurations), else a few too many entries.
    return int(drgn.sizeof(prog.type("struct cpumask"))) * 8


def _read_string(prog: drgn.Program, address: int, limit: int) -> bytes:
    # prog.read_c_string() fails on makedumpfile dumps in drgn 0.3.0 ("No way to
    # translate"); plain reads work. Stay within the page to not fault past its end.
    size = min(limit, 4096 - address % 4096)
    return bytes(prog.read(address, size)).partition(b"\0")[0]


def _task_state_array(prog: drgn.Program, address: int, element: drgn.Type) -> int | None:
    # 1 + ilog2(TASK_REPORT_MAX) entries, a #define: count the entries that point at
    # "<letter> (<word>)" strings, e.g. "R (running)" ... "I (idle)".
    count = 0
    for i in range(32):
        try:
            text = _read_string(prog, prog.read_word(address + 8 * i), 32)
        except drgn.FaultError:
            break
        if len(text) < 5 or not text[:1].isalpha() or text[1:3] != b" (" or text[-1:] != b")":
            break
        count += 1
    return count or None


def _taint_flags(prog: drgn.Program, address: int, element: drgn.Type) -> int | None:
    # TAINT_FLAGS_COUNT is a #define: count entries whose c_true is a capital letter
    # and whose c_false is a space or capital letter.
    size = drgn.sizeof(element)
    count = 0
    for i in range(64):
        try:
            entry = prog.read(address + size * i, 2)
        except drgn.FaultError:
            break
        if not (65 <= entry[0] <= 90 and (entry[1] == 32 or 65 <= entry[1] <= 90)):
            break
        count += 1
    return count or None


LENGTH_RULES: Final[Mapping[str, Callable[[drgn.Program, int, drgn.Type], int | None]]] = {
    "@nr_cpus": _nr_cpus,
    "@task_state_array": _task_state_array,
    "@taint_flags": _taint_flags,
}
"""Array lengths derived from other types or from the contents of the dump."""


def resolve_length(
    prog: drgn.Program, decl: Declaration, address: int, element: drgn.Type
) -> int | None:
    """The length of the array *decl* at *address* (``None``: incomplete)."""
    length = decl.length
    if length is None or isinstance(length, int):
        return length
    rule = LENGTH_RULES.get(length)
    if rule is not None:
        return rule(prog, address, element)
    try:
        return int(prog.constant(length).value_())
    except LookupError:
        return None
