"""
The JSON schema against the facts contract: every object the schema describes for a
facts record has exactly that record's fields, so a field added to ``ktriage.facts``
without a schema update fails here with its name (instead of as a validation error
on a dump).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ktriage.facts import (
    AddressFacts,
    Backtrace,
    CpuContext,
    DebuginfoFacts,
    ExceptionFrame,
    Frame,
    LogRecord,
    OopsReport,
    PanicFacts,
    StackHealth,
    SystemFacts,
    TaintFlag,
    TaskFacts,
)
from ktriage.facts.classes import CrashClass
from ktriage.findings.model import Culprit, Evidence
from ktriage.report.schema import OOPS_JSON_SCHEMA, REPORT_JSON_SCHEMA

jsonschema = pytest.importorskip("jsonschema")


def _props(schema: dict[str, Any]) -> dict[str, Any]:
    """Properties of an object schema, looking through ``anyOf`` with null."""
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") == "object")
    assert schema["additionalProperties"] is False
    props: dict[str, Any] = schema["properties"]
    return props


def _names(record: type) -> set[str]:
    return {f.name for f in dataclasses.fields(record) if not f.name.startswith("_")}


TOP = _props(REPORT_JSON_SCHEMA)
BACKTRACE = _props(TOP["backtrace"])

CASES: list[tuple[str, dict[str, Any], type, dict[str, str]]] = [
    ("debuginfo", TOP["debuginfo"], DebuginfoFacts, {}),
    ("system", TOP["system"], SystemFacts, {}),
    ("system.taint_flags", _props(TOP["system"])["taint_flags"]["items"], TaintFlag, {}),
    ("panic", TOP["panic"], PanicFacts, {}),
    ("backtrace", TOP["backtrace"], Backtrace, {}),
    ("backtrace.frames", BACKTRACE["frames"]["items"], Frame, {}),
    ("backtrace.exception", BACKTRACE["exception"], ExceptionFrame, {}),
    ("cpus", TOP["cpus"]["items"], CpuContext, {}),
    ("blocked", TOP["blocked"]["items"], Backtrace, {}),
    ("processes", TOP["processes"]["items"], TaskFacts, {}),
    ("addresses", TOP["addresses"]["items"], AddressFacts, {}),
    ("stack_health", TOP["stack_health"]["items"], StackHealth, {}),
    ("log.all", _props(TOP["log"])["all"]["items"], LogRecord, {}),
    ("oopses", TOP["oopses"]["items"], OopsReport, {"crash_class": "class"}),
    (
        "oops.crashes",
        OOPS_JSON_SCHEMA["items"]["properties"]["crashes"]["items"],
        OopsReport,
        {"crash_class": "class"},
    ),
    ("verdict.culprit", _props(TOP["verdict"])["culprit"], Culprit, {}),
    ("verdict.evidence", _props(TOP["verdict"])["evidence"]["items"], Evidence, {}),
]


@pytest.mark.parametrize(("where", "schema", "record", "renamed"), CASES, ids=[c[0] for c in CASES])
def test_schema_objects_match_facts_records(
    where: str, schema: dict[str, Any], record: type, renamed: dict[str, str]
) -> None:
    fields = {renamed.get(name, name) for name in _names(record)}
    props = set(_props(schema))
    assert props == fields, f"{where}: missing {fields - props}, extra {props - fields}"


def test_schema_lists_every_crash_class() -> None:
    classes = {c.value for c in CrashClass}
    assert set(_props(TOP["verdict"])["class"]["enum"]) == classes
    assert set(TOP["oopses"]["items"]["properties"]["class"]["enum"]) == classes


def test_schemas_are_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(REPORT_JSON_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(OOPS_JSON_SCHEMA)


def test_dump_and_ident_objects_match_dump_identity() -> None:
    from ktriage.facts import DumpIdentity
    from ktriage.report.schema import IDENT_JSON_SCHEMA

    fields = _names(DumpIdentity)
    assert set(_props(IDENT_JSON_SCHEMA)) == fields | {"schema"}
    assert set(_props(TOP["dump"])) == fields - {"release", "build_id", "arch"}
