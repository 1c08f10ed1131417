"""
Report JSON schemas
-------------------

JSON Schema (draft 2020-12) of what the JSON renderer writes: the analysis report
(``ktriage.report/1``), the ``ktriage oops`` list and the ``ktriage ident`` object.
Plain dicts, so ktriage itself needs no validator; tests validate with
``jsonschema``. Addresses are ``"0x..."`` strings, absent values ``null``.
"""

from typing import Any

__all__ = (
    "IDENT_JSON_SCHEMA",
    "OOPS_JSON_SCHEMA",
    "REPORT_JSON_SCHEMA",
)

_DRAFT = "https://json-schema.org/draft/2020-12/schema"

_HEX: dict[str, Any] = {"type": "string", "pattern": "^0x[0-9a-f]+$"}
_HEX_OR_NULL: dict[str, Any] = {"anyOf": [_HEX, {"type": "null"}]}
_STR_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}
_INT_OR_NULL: dict[str, Any] = {"type": ["integer", "null"]}
_BOOL_OR_NULL: dict[str, Any] = {"type": ["boolean", "null"]}
_NUM_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
_REGISTERS: dict[str, Any] = {"type": "object", "additionalProperties": _HEX}


def _object(
    properties: dict[str, Any], *, required: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """A closed object; every property is required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        "additionalProperties": False,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_FRAME = _object(
    {
        "index": {"type": "integer", "minimum": 0},
        "function": _STR_OR_NULL,
        "offset": _INT_OR_NULL,
        "size": _INT_OR_NULL,
        "address": _HEX,
        "module": _STR_OR_NULL,
        "sp": _HEX_OR_NULL,
        "source": _STR_OR_NULL,
        "inline": {"type": "boolean"},
        "recovered": {"type": "boolean"},
        "in_code": {"type": "boolean"},
        "note": _STR_OR_NULL,
    }
)

_EXCEPTION = _object(
    {
        "rip": _HEX,
        "rip_kind": {
            "enum": [
                "kernel-text",
                "module-text",
                "direct-map",
                "vmalloc",
                "user",
                "non-canonical",
                "null-page",
                "kernel-data",
                "unknown",
            ]
        },
        "rip_symbol": _STR_OR_NULL,
        "registers": _REGISTERS,
        "cr2": _HEX_OR_NULL,
        "error_code": _INT_OR_NULL,
    }
)

_BACKTRACE = _object(
    {
        "pid": _INT_OR_NULL,
        "comm": _STR_OR_NULL,
        "task": _HEX_OR_NULL,
        "cpu": _INT_OR_NULL,
        "frames": {"type": "array", "items": _FRAME},
        "exception": _nullable(_EXCEPTION),
        "user_registers": _nullable(_REGISTERS),
        "error": _STR_OR_NULL,
    }
)

_CPU = _object(
    {
        "cpu": {"type": "integer", "minimum": 0},
        "backtrace": _nullable(_BACKTRACE),
        "error": _STR_OR_NULL,
    }
)

_PROCESS = _object(
    {
        "pid": {"type": "integer", "minimum": 0},
        "tgid": {"type": "integer", "minimum": 0},
        "ppid": {"type": "integer", "minimum": 0},
        "cpu": {"type": "integer", "minimum": 0},
        "task": _HEX,
        "state": {"type": "string"},
        "comm": {"type": "string"},
        "active": {"type": "boolean"},
        "kernel_thread": {"type": "boolean"},
        "rss_bytes": {"type": "integer", "minimum": 0},
        "vsz_bytes": {"type": "integer", "minimum": 0},
        "mem_percent": {"type": "number", "minimum": 0},
        "stack_base": _HEX_OR_NULL,
    }
)

_ADDRESS = _object(
    {
        "address": _HEX,
        "source": {"type": "string"},
        "kind": {"type": "string"},
        "description": {"type": "string"},
        "symbol": _STR_OR_NULL,
        "module": _STR_OR_NULL,
        "slab_cache": _STR_OR_NULL,
        "object_address": _HEX_OR_NULL,
        "object_size": _INT_OR_NULL,
        "allocated": _BOOL_OR_NULL,
        "page": _HEX_OR_NULL,
        "page_flags": _STRINGS,
        "task": _HEX_OR_NULL,
        "pid": _INT_OR_NULL,
        "comm": _STR_OR_NULL,
        "error": _STR_OR_NULL,
    }
)

_STACK_HEALTH = _object(
    {
        "pid": {"type": "integer"},
        "comm": {"type": "string"},
        "task": _HEX,
        "ok": {"type": "boolean"},
        "problem": _STR_OR_NULL,
    }
)

_LOG_RECORD = _object(
    {
        "text": {"type": "string"},
        "timestamp_ns": _INT_OR_NULL,
        "level": _INT_OR_NULL,
        "seq": _INT_OR_NULL,
        "caller": _STR_OR_NULL,
    }
)

_CRASH_CLASSES = [
    "bad-pointer-dereference",
    "bug-assertion",
    "divide-error",
    "double-fault",
    "explicit-panic",
    "general-protection-fault",
    "hard-lockup",
    "hung-task",
    "invalid-opcode",
    "machine-check",
    "memory-corruption",
    "null-pointer-dereference",
    "nx-execute",
    "out-of-memory",
    "rcu-stall",
    "soft-lockup",
    "stack-overflow",
    "sysrq-crash",
    "unknown",
    "use-after-free",
    "warning-panic",
    "write-to-readonly",
]

_OOPS_REPORT = _object(
    {
        "title": {"type": "string"},
        "class": {"enum": _CRASH_CLASSES},
        "frame": _STR_OR_NULL,
        "kind": {"type": "string"},
        "alt_titles": _STRINGS,
        "corrupted": {"type": "boolean"},
        "corrupted_reason": _STR_OR_NULL,
        "start_line": {"type": "integer", "minimum": 0},
        "end_line": {"type": "integer", "minimum": 0},
        "lines": _STRINGS,
        "registers": _REGISTERS,
        "stack": {"type": "array", "items": _FRAME},
        "cpu": _INT_OR_NULL,
        "pid": _INT_OR_NULL,
        "comm": _STR_OR_NULL,
        "tainted": _STR_OR_NULL,
        "release": _STR_OR_NULL,
        "fault_address": _HEX_OR_NULL,
    }
)

_IDENT_FIELDS: dict[str, Any] = {
    "path": {"type": "string"},
    "format": {"enum": ["elf", "kdump-compressed", "flattened", "live", "text"]},
    "producer": _STR_OR_NULL,
    "compression": _STR_OR_NULL,
    "dump_level": _INT_OR_NULL,
    "partial": {"type": "boolean"},
    "incomplete": {"type": "boolean"},
    "file_size": {"type": "integer", "minimum": 0},
    "release": _STR_OR_NULL,
    "build_id": _STR_OR_NULL,
    "arch": _STR_OR_NULL,
    "page_size": _INT_OR_NULL,
    "kaslr_offset": _HEX_OR_NULL,
    "crash_time": _INT_OR_NULL,
    "cpus": _INT_OR_NULL,
    "vmcoreinfo": _nullable({"type": "object", "additionalProperties": {"type": "string"}}),
}

_DUMP = _object(
    {k: v for k, v in _IDENT_FIELDS.items() if k not in ("release", "build_id", "arch")}
)

_TAINT_FLAG = _object(
    {
        "bit": {"type": "integer", "minimum": 0},
        "letter": {"type": "string"},
        "meaning": {"type": "string"},
    }
)

_SYSTEM = _object(
    {
        "nodename": _STR_OR_NULL,
        "release": _STR_OR_NULL,
        "version": _STR_OR_NULL,
        "machine": _STR_OR_NULL,
        "cpus": _INT_OR_NULL,
        "cpus_online": _INT_OR_NULL,
        "date": _INT_OR_NULL,
        "uptime_s": _NUM_OR_NULL,
        "load_avg": _nullable(
            {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
        ),
        "tasks": _INT_OR_NULL,
        "memory_bytes": _INT_OR_NULL,
        "tainted": {"type": "integer", "minimum": 0},
        "taint_flags": {"type": "array", "items": _TAINT_FLAG},
    }
)

_PANIC = _object(
    {
        "message": _STR_OR_NULL,
        "oops": _STR_OR_NULL,
        "cpu": _INT_OR_NULL,
        "pid": _INT_OR_NULL,
        "comm": _STR_OR_NULL,
        "task": _HEX_OR_NULL,
        "state": _STR_OR_NULL,
    }
)

_DEBUGINFO = _object(
    {
        "tier": {"enum": ["dwarf", "btf", "symbols", "none"]},
        "source": {"type": "string"},
        "vmlinux": _STR_OR_NULL,
        "build_id": _STR_OR_NULL,
        "build_id_match": _BOOL_OR_NULL,
        "modules": _STRINGS,
        "notes": _STRINGS,
    }
)

_VERDICT = _object(
    {
        "class": {"enum": _CRASH_CLASSES},
        "title": {"type": "string"},
        "culprit": _object(
            {
                "function": _STR_OR_NULL,
                "module": _STR_OR_NULL,
                "task_caused": _BOOL_OR_NULL,
                "pid": _INT_OR_NULL,
                "comm": _STR_OR_NULL,
                "explanation": {"type": "string"},
            }
        ),
        "summary": {"type": "string"},
        "evidence": {
            "type": "array",
            "items": _object(
                {
                    "claim": {"type": "string"},
                    "fact": {"type": "string"},
                    "source": {"type": "string"},
                }
            ),
        },
        "next_steps": _STRINGS,
        "confidence": {"enum": ["high", "medium", "low"]},
        "confidence_reason": {"type": "string"},
    }
)

REPORT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "$id": "ktriage.report/1",
    "title": "ktriage analysis report",
    **_object(
        {
            "schema": {"const": "ktriage.report/1"},
            "tool": _object({"name": {"const": "ktriage"}, "version": {"type": "string"}}),
            "kernel": _object(
                {
                    "release": _STR_OR_NULL,
                    "version": _STR_OR_NULL,
                    "build_id": _STR_OR_NULL,
                    "arch": _STR_OR_NULL,
                }
            ),
            "dump": _DUMP,
            "debuginfo": _DEBUGINFO,
            "system": _nullable(_SYSTEM),
            "panic": _nullable(_PANIC),
            "backtrace": _nullable(_BACKTRACE),
            "cpus": {"type": "array", "items": _CPU},
            "blocked": {"type": "array", "items": _BACKTRACE},
            "processes": {"type": "array", "items": _PROCESS},
            "addresses": {"type": "array", "items": _ADDRESS},
            "disassembly": _STRINGS,
            "stack_health": {"type": "array", "items": _STACK_HEALTH},
            "log": _object(
                {
                    "records": {"type": "integer", "minimum": 0},
                    "before": _STRINGS,
                    "oops": _STRINGS,
                    "tail": _STRINGS,
                    "all": {"type": "array", "items": _LOG_RECORD},
                }
            ),
            "oopses": {"type": "array", "items": _OOPS_REPORT},
            "unreadable": _STRINGS,
            "verdict": _VERDICT,
            "signature": {"type": "string"},
        }
    ),
}
"""Schema of ``render(analysis, "json")``."""

OOPS_JSON_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "$id": "ktriage.oops/1",
    "title": "ktriage oops: crash reports per input file",
    "type": "array",
    "items": _object(
        {"file": {"type": "string"}, "crashes": {"type": "array", "items": _OOPS_REPORT}}
    ),
}
"""Schema of ``render_oops(results, "json")``."""

IDENT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "$id": "ktriage.ident/1",
    "title": "ktriage ident: dump identification",
    **_object({"schema": {"const": "ktriage.ident/1"}, **_IDENT_FIELDS}),
}
"""Schema of ``render_ident(ident, "json")``."""
