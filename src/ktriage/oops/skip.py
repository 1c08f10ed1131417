"""
Never-blame frames
------------------

Which stack frames are never the guilty function, as reviewed data.

Every entry is a regular expression searched (not anchored unless it says so)
in a function name. A frame whose name matches is skipped when the guilty
frame is chosen; the next frame is tried. Formats add their own lists on top
(``ktriage.oops.formats``). Each entry says why it is never to blame: keep it
that way when adding one.

Also here: the anchor frames used to find a representative function in stall
reports (RCU stalls, soft lockups), and the frames skipped in hung-task
reports.
"""

__all__ = (
    "FRAME_PREFIXES",
    "HUNG_TASK_ANCHORS",
    "HUNG_TASK_SKIP",
    "NEVER_BLAME",
    "STALL_ANCHORS",
    "STALL_PREFIXES",
)

NEVER_BLAME: tuple[str, ...] = (
    # Sanitizer runtimes: they detect and report the bug, the caller made it.
    "__sanitizer",
    "__asan",
    "kasan",
    "__msan",
    "kmsan",
    "kcsan",
    "check_memory_region",  # KASAN's shadow check
    "read_word_at_a_time",  # word-at-a-time loads trip KASAN on purpose
    "print_address_description",  # KASAN report printer
    "^print_report$",  # KASAN/KFENCE report printer
    # Panic and oops machinery: the consequence, not the cause.
    "panic",
    "invalid_op",  # x86 #UD entry, how BUG()/WARN() trap
    "report_bug",
    "fixup_bug",
    "do_error",
    "_trap",  # do_trap, do_error_trap, handle_bug's trap helpers
    "dump_stack",
    "show_stack",
    # Stack dumpers: they print the stack, they are on it only to print it.
    "dump_backtrace",
    "walk_stackframe",
    "arch_stack_walk",
    "^stack_trace_",
    "nmi_cpu_backtrace",
    "nmi_trigger_cpumask_backtrace",
    "warn_slowpath",
    "warn_alloc",  # prints allocation failures
    "__warn",
    "^handle_bug$",  # x86 #UD handler for BUG()/WARN()
    "^exc_invalid_op$",
    "^asm_exc_",  # exception entry stubs
    "^die$",
    "^oops_",
    # Exception entry and fault plumbing: how the CPU got to the handler.
    "^__do_kernel_fault$",
    "^do_translation_fault$",
    "^do_mem_abort$",
    "^do_page_fault$",
    "^__do_page_fault$",
    "^exc_page_fault$",
    "^do_user_addr_fault$",
    "^do_kern_addr_fault$",
    "^el1_abort$",
    "^__irq_svc$",  # arm interrupt entry
    "^do_tag_check_fault$",
    "^el1h_64_sync",
    "^el1_sync",
    "^do_debug_exception$",
    "^call_break_hook$",
    "^brk_handler$",
    "^bug_handler$",
    # Sanity checks that BUG() on the caller's bad argument.
    "^__phys_addr$",  # CONFIG_DEBUG_VIRTUAL address check
    "check_heap_object",  # hardened usercopy
    "check_object_size",
    "usercopy_abort",
    "^skb_put$",  # skb length checks: the caller overran its buffer
    "^skb_push$",
    "^skb_pull$",
    "^__skb_put$",
    "^__skb_push$",
    "^__skb_pull$",
    # Generic data structure helpers: they operate on what the caller passed.
    "^rb_",  # red-black trees
    "^__rb_",
    "^rhashtable_",  # resizable hash tables
    "^__rhashtable_",
    "^rht_",
    "^ida_",  # ID allocators
    "^idr_",
    "^xa_",  # xarray
    "^__xa_",
    "^atomic_",  # atomic helpers
    "^_atomic_",
    "^arch_atomic",
    "^__read_once",  # READ_ONCE helpers
    "hex_dump",  # hex dump printers
    "^record_print_text",  # printk internals
    "^crc[0-9]+",  # checksums over the caller's buffer
    "^__crc[0-9]+",
    "^crc32c",
    "^aes_(?:en|de)crypt",  # crypto library primitives
    "^strstr$",
    "^_copy_to_iter$",  # iov_iter copies
    "^_copy_from_iter",
    "^copy_from_iter",
    "^copy_to_iter",
    "^copy_page_to_iter",
    "^copy_page_from_iter",
    "^__queue_work$",  # workqueue plumbing
    "^queue_work_on$",
    "^lock_timer_base$",  # timer plumbing
    "timer_delete",
    "try_to_del_timer",
    "^sk_stop_timer",
    "^__mod_timer",
    "^mod_timer",
    "^put_device$",
    "^trace_hardirqs",  # IRQ state tracing
    "^vprintk",  # printing
    "^ref_tracker",  # reference tracker debugging
    "^(?:cleanup|init)_srcu_struct$",  # SRCU teardown checks its user's state
    # Crypto API layers: the cipher and its templates run on the caller's data.
    "^aes(?:ti|ni)?_(?:en|de)crypt",
    "^crypto_",
    "^(?:xts|ecb|cbc|ctr|cts|gcm|ccm|lrw)_(?:en|de)crypt",
    "^cipher_crypt",
    "^skcipher_",
    # Reference drops on VFS objects: the last put runs the teardown that the
    # owner got wrong.
    "^dput$",
    "^fast_dput$",
    "^iput$",
    "^iput_final$",
    # Allocators: an allocation site is rarely the bug, its user is.
    "^kmem_cache_alloc",
    "^kmem_cache_free",
    "^_*kmalloc",
    "^alloc_page",
    "^krealloc",
    "^kvmalloc",
    "^__alloc_pages",
    "^alloc_pages",
    "^__alloc_frozen_pages",
    "^slab_free",
    "^__slab_free",
    "^kfree",
    # Page and folio lock helpers.
    "^unlock_page$",
    "^folio_unlock$",
    "^lock_page",
    "^__lock_page",
    "^folio_lock",
    "^__folio_lock",
    # Lock internals beyond the primitives above.
    "^mark_lock",
    "_dec_and_lock",
    "^rt_mutex",
    "^__rt_mutex",
    "^task_blocks_on_rt_mutex$",
    "^rwsem_",
    "^__rwsem_",
    "^percpu_down",
    "^raw_spin_rq_(?:un)?lock",  # scheduler runqueue lock wrappers
    "^__seqprop",  # seqcount/seqlock helpers and their assertions
    "^seqcount_",
    "^write_seqcount",
    "^read_seqcount",
    "^percpu_up",
    # Object debugging: reports misuse found by debugobjects, not the misuser.
    "debug_object",
    "timer_is_static_object",
    "work_is_static_object",
    # Lock debugging and lock primitives: the lock user is to blame.
    "lockdep",
    "lock_acquire",
    "lock_release",
    "lock_class",
    "reacquire_held_locks",
    "spin_lock",
    "spin_trylock",
    "spin_unlock",
    "raw_read_lock",
    "raw_read_trylock",
    "raw_write_lock",
    "raw_write_trylock",
    "^down$",
    "down_read",
    "down_write",
    "down_interruptible",
    "down_killable",
    "up_read",
    "up_write",
    "mutex_lock",
    "mutex_trylock",
    "mutex_unlock",
    "mutex_remove_waiter",
    "osq_lock",
    "osq_unlock",
    "__wake_up",
    # Tracing glue around the real event.
    "perf_trace",
    # Reference counting helpers: they detect the bad count, the caller made it.
    "refcount_add",
    "refcount_sub",
    "refcount_inc",
    "refcount_dec",
    "refcount_set",
    "refcount_read",
    "refcount_warn",
    # String and memory helpers: they access what the caller handed them.
    "memcpy",
    "memcmp",
    "memset",
    "memchr",
    "memmove",
    "strcmp",
    "strncmp",
    "strcpy",
    "strlcpy",
    "strncpy",
    "strscpy",
    "strlen",
    "strnstr",
    "strnlen",
    "strchr",
    "string",  # vsprintf's string()/string_nocheck()
    "pointer",  # vsprintf's pointer()
    "snprintf",
    "scnprintf",
    "kasprintf",
    "kvasprintf",
    "va_format",
    # User copy helpers: the caller chose the buffer and length.
    "copy_to_user",
    "copy_from_user",
    "put_user",
    "get_user",
    "might_fault",
    "might_sleep",
    # List debugging and list helpers: they find the corruption, not cause it.
    "list_add",
    "list_del",
    "list_replace",
    "list_move",
    "list_splice",
    "__list_",
    # Retpoline thunks: an indirect call, the caller is the interesting frame.
    "_indirect_thunk_",
    # printk and device printing: report output.
    "printk",
    "dev_info",
    "dev_notice",
    "dev_warn",
    "dev_err",
    "dev_alert",
    "dev_crit",
    "dev_emerg",
    # powerpc trap entry.
    "program_check_exception",
    "program_check_common",
    # Teardown helpers that wait for or destroy what the caller owns.
    "del_timer",
    "flush_work",
    "__cancel_work_timer",
    "cancel_work_sync",
    "try_to_grab_pending",
    "flush_workqueue",
    "drain_workqueue",
    "destroy_workqueue",
    "finish_wait",
    "kthread_stop",
    # Device model and sysfs teardown: generic, the driver calling them is to blame.
    "kobject_del",
    "kobject_put",
    "^kobject_cleanup$",  # kobject_put's release path
    "^kobject_release$",
    "kobject_uevent_env",
    "add_uevent_var",
    "get_device_parent",
    "device_add",
    "device_del",
    "device_unregister",
    "device_destroy",
    "device_release",
    "devres_release_all",
    "hwrng_unregister",
    "i2c_del_adapter",
    "__unregister_client",
    "device_for_each_child",
    "rollback_registered",
    "unregister_netdev",
    "sysfs_remove",
    "device_remove_file",
    "tty_unregister_device",
    # USB core plumbing: a WARNING here is the driver's misuse.
    "dummy_urb_enqueue",
    "usb_kill_urb",
    "usb_kill_anchored_urbs",
    "usb_control_msg",
    "usb_hcd_submit_urb",
    "usb_submit_urb",
    # Completion and free helpers: generic, the caller owns the object.
    "^complete$",
    "wait_for_completion",
    "^kfree$",
    "kfree_skb",
    # Rust panic machinery (names as demangled).
    "^rust_helper_BUG$",
    "rust_begin_unwind",
    "^core::panicking",
    "^core::result::unwrap_failed",
    "^core::option::expect_failed",
)
"""Functions never to blame, for every format."""

STALL_ANCHORS: tuple[str, ...] = (
    # Generic dispatchers: the frame just above one of these names the work.
    "process_one_work",  # workqueue callback
    "do_syscall_",  # syscall entry
    "do_fast_syscall_",
    "sysenter_dispatch",
    "tracesys_phase2",
    "netif_receive_skb",  # network receive entry
    "do_softirq",
    "call_timer_fn",
    "^__hrtimer_run_queues$",  # hrtimer callbacks
    "^ret_fast_syscall$",  # arm syscall entry
    "^ret_from_syscall$",
    "^el0_svc",  # arm64 syscall entry
    "^do_el0_svc",
    "^invoke_syscall",
    "_run_timers",
    "run_timer_softirq",
    "run_ksoftirqd",
    "smpboot_thread_fn",
    "^kthread$",
    "start_secondary",
    "cpu_startup_entry",
    "ret_from_fork",
    # File operations: the frame above names the file type.
    "vfs_write",
    "vfs_read",
    "vfs_iter_read",
    "vfs_iter_write",
    "do_iter_read",
    "do_iter_write",
    "vfs_ioctl",
    "ksys_ioctl",
    "compat_ioctl",
    "compat_sys_ioctl",
    "blkdev_driver_ioctl",
    "blkdev_ioctl",
    "^call_read_iter",
    "^call_write_iter",
    "do_iter_readv_writev",
    "^call_mmap",
    "mmap_region",
    "do_mmap",
    "do_dentry_open",
    "vfs_open",
    # Socket operations: the frame above names the protocol.
    "^sock_sendmsg",
    "^sock_recvmsg",
    "^sock_release",
    "^__sock_release",
    "__sys_setsockopt",
    "kernel_setsockopt",
    "sock_common_setsockopt",
    "__sys_listen",
    "kernel_listen",
    "sk_common_release",
    "^sock_mmap",
    "__sys_accept",
    "kernel_accept",
    "^sock_do_ioctl",
    "^sock_ioctl",
    "^compat_sock_ioctl",
    "^nfnetlink_rcv_msg",
    "^rtnetlink_rcv_msg",
    "^netlink_dump",
    "^(compat_)?(SYSC|SyS|sys|__sys|___sys|__do_sys|__se_sys|__x64_sys)_(socketpair|connect|ioctl)",
    "^(socketpair|connect|ioctl)$",  # the same, prefix already stripped
    # File mapping faults: the frame above names the file system.
    "__do_fault",
    # Work done on the way back to user space.
    "__fput",
    "task_work_run",
    "exit_to_usermode",
    "smp_call_function",
)
"""Anchor frames for stalls: the guilty frame is the one called just before."""

FRAME_PREFIXES: tuple[str, ...] = (
    # Per-architecture syscall wrapper prefixes: "__x64_sys_read" and
    # "__arm64_sys_read" are the same function "sys_read" for triage.
    "__x64_",
    "__ia32_",
    "__arm64_",
    "__riscv_",
    "__s390x_",
    "__s390_",
    # Old-style syscall wrappers (before 4.17): "SyS_pause" is pause().
    "compat_SYSC_",
    "compat_SyS_",
    "SYSC_",
    "SyS_",
)
"""Prefixes removed from every frame name before it is used."""

STALL_PREFIXES: tuple[str, ...] = (
    # Syscall implementation helpers: "ksys_mount", "do_sys_openat2" and the
    # arm "sys_openat2" name the syscall itself.
    "ksys_",
    "__do_sys_",
    "do_sys_",
    "sys_",
)
"""Prefixes removed from a stall's representative frame."""

HUNG_TASK_ANCHORS: dict[str, str] = {
    # Hangs on RTNL are one bucket whatever waits for it.
    "rtnl_lock": "rtnl_lock",
    # Hangs waiting for an RCU grace period are one bucket.
    "synchronize_rcu": "synchronize_rcu",
    "synchronize_srcu": "synchronize_rcu",
    "synchronize_net": "synchronize_rcu",
    "synchronize_sched": "synchronize_rcu",
}
"""Frames that name a hung task's bucket directly (substring -> bucket)."""

HUNG_TASK_SKIP: tuple[str, ...] = (
    # The scheduler and sleeping primitives a blocked task always sits in.
    "sched",
    "_lock",
    "_slowlock",
    "down",
    "rwsem",
    "completion",
    "kthread",
    "wait",
    "synchronize",
    "context_switch",
    "__switch_to",
    "cancel_delayed_work",
    "rcu_barrier",
)
"""Substrings of frames skipped in hung-task stacks: where every task sleeps."""
