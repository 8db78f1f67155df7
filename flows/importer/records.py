"""The import record (导入记录): one case with its events, as pydantic models of its shape.

JSON Lines holds one record per line; a CSV row holds the same fields in columns, ``attrs`` and
``events`` as JSON (`flows.importer.files`)::

    {"type": "reconsideration", "ref": "RC-2023-0412", "on": "2023-11-20",
     "attrs": {"applicant": "张三"}, "by": "clerk-wang",
     "events": [{"trigger": "accept", "on": "2023-11-27", "attrs": {"procedure": "simplified"}},
                {"trigger": "send_copy", "on": "2023-11-28", "by": "clerk-li"}]}

- ``type`` (required): a case type (reconsideration, legal_aid, complaint);
- ``ref``: the case reference; when absent one is generated as `caseflow case open` does;
- ``on`` (required): the date received, YYYY-MM-DD;
- ``attrs``: the opening attributes (as ``--set`` on `caseflow case open`): text or whole numbers;
- ``by``: who opened it (default: the import's ``by``), at most `MAX_BY_LENGTH` characters;
- ``events``: oldest first, each ``{"trigger", "on", "attrs", "reason", "by"}`` with ``trigger``
  and ``on`` required. ``by`` defaults to the record's; a system trigger (``deem_*``) is history
  and is applied as the system would have (its ``by`` defaults to ``system``).

A null, or text that is blank, is the same as leaving the field out; text is trimmed. Any other
field is an error. The models judge the record's shape only: whether the type, the triggers, the
attributes, the dates and the reference are acceptable is the case type's and the services'
business (`states`, `flows.services`), when the record is replayed.

A record that is not well-formed raises `InvalidRecord`, naming the first problem: where (the
record, or ``event N``), which field, what was wrong, and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetPydanticSchema,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, core_schema

from flows.services import check_ref
from models.chain import canonical
from states.errors import CaseflowError, InvalidInput

MAX_BY_LENGTH = 80  # events.by is VARCHAR(80)
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class InvalidRecord(InvalidInput):
    code = "invalid_record"


# The field types, checked by pydantic's core without a call back into Python for each value.
Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True)]
By = Annotated[str, StringConstraints(strict=True, strip_whitespace=True,
                                      max_length=MAX_BY_LENGTH)]
# A legal date written YYYY-MM-DD, and nothing looser (no times, no day numbers).
LegalDate = Annotated[date, GetPydanticSchema(lambda _type, _handler: core_schema.chain_schema([
    core_schema.str_schema(strict=True, strip_whitespace=True, pattern=ISO_DATE),
    core_schema.date_schema(),
]))]
# An attribute is text or a whole number, as `--set KEY=VALUE` gives it; not true/false (no
# attribute of any case type is one), though JSON's booleans are Python ints.
AttrValue = Annotated[str | int, GetPydanticSchema(lambda _type, _handler: core_schema.union_schema(
    [core_schema.str_schema(strict=True), core_schema.int_schema(strict=True)],
    custom_error_type="attr_value", custom_error_message="must be text or a whole number",
))]
Attrs = dict[str, AttrValue]


class RecordModel(BaseModel):
    """What the record and its events share: unknown fields are errors, and a null or a blank
    text is an absent field (an empty CSV cell, an exporter that writes ``null``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    texts: ClassVar[frozenset[str]]  # the fields holding text, where blank means absent

    @model_validator(mode="before")
    @classmethod
    def _absent(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data  # pydantic says what it is not
        texts = cls.texts
        for value in data.values():  # once per record and per event: kept to a plain loop
            if value is None or (type(value) is str and not value.strip()):
                return {k: v for k, v in data.items() if not (
                    v is None or (k in texts and isinstance(v, str) and not v.strip()))}
        return data


class EventRecord(RecordModel):
    """One event of a record's history: a trigger fired with legal effect ``on``."""

    texts = frozenset({"trigger", "on", "reason", "by"})
    trigger: Text
    on: LegalDate
    attrs: Attrs = {}
    reason: Text | None = None
    by: By | None = None


class CaseRecord(RecordModel):
    """One case to import: how it was opened, and its events oldest first."""

    texts = frozenset({"type", "ref", "on", "by"})
    type: Text
    ref: Text | None = None
    on: LegalDate
    attrs: Attrs = {}
    by: By | None = None
    events: tuple[EventRecord, ...] = ()


RECORD_FIELDS = tuple(CaseRecord.model_fields)  # type, ref, on, attrs, by, events
EVENT_FIELDS = tuple(EventRecord.model_fields)  # trigger, on, attrs, reason, by
_EVENT_SHAPE = '{"trigger": …, "on": …}'


def parse_record(data: object) -> CaseRecord:
    """The record in ``data`` (decoded JSON, or a CSV row's cells), checked for shape and for a
    usable reference (not yet for the rules); `InvalidRecord` names its first problem."""
    try:
        record = CaseRecord.model_validate(data)
    except ValidationError as error:
        raise _first_problem(error) from None
    if record.ref is not None:
        check_ref(record.ref)  # the services' rule for a reference: a domain error, not shape
    return record


def _first_problem(error: ValidationError) -> InvalidRecord:
    """pydantic's account of a malformed record as one `InvalidRecord`, in the words the
    importer has always used: an unknown field before anything else (a misspelt field is often
    also a missing one), then the record's own fields before its events'."""
    problems = error.errors(include_url=False)
    return _described(min(problems, key=lambda p: (p["type"] != "extra_forbidden",
                                                   len(p["loc"]))))


def _described(problem: ErrorDetails) -> InvalidRecord:
    """Where (the record, or ``event N``), which field, what was wrong, and what is allowed."""
    loc = problem["loc"]
    if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int):
        where, path, fields = f"event {loc[1] + 1}: ", loc[2:], EVENT_FIELDS
    else:
        where, path, fields = "", loc, RECORD_FIELDS
    name = ".".join(str(part) for part in path)
    kind, value = problem["type"], problem["input"]
    if kind == "extra_forbidden":
        return InvalidRecord(f"{where}unknown field {name!r}", fields)
    if kind == "model_type":  # the record itself or one event is no object
        return InvalidRecord(f"{where or 'the record '}must be a JSON object", [
            _EVENT_SHAPE if where else '{"type": …, "on": …}'])
    if kind in ("tuple_type", "list_type") and name == "events":
        return InvalidRecord(f"{where}events must be a JSON list", [f"[{_EVENT_SHAPE}]"])
    if kind == "dict_type" and name == "attrs":
        return InvalidRecord(f"{where}attrs must be a JSON object", ['{"KEY": "VALUE"}'])
    if kind == "attr_value":
        return InvalidRecord(f"{where}{name} {problem['msg']}, not {_shown(value)}",
                             [f"{path[-1]}=VALUE"])
    if kind == "string_too_long":
        most = (problem.get("ctx") or {}).get("max_length", MAX_BY_LENGTH)
        return InvalidRecord(f"{where}{name} is longer than {most} characters",
                             [f"1..{most} characters"])
    allowed = "YYYY-MM-DD" if name == "on" else f"{name}=TEXT"
    if kind == "missing":
        return InvalidRecord(f"{where}{name} is missing", [allowed])
    if kind == "string_type":
        return InvalidRecord(f"{where}{name} must be text, not {_shown(value)}", [allowed])
    if name == "on" and isinstance(value, str):  # not YYYY-MM-DD, or no such day
        return InvalidRecord(f"{where}on {value.strip()!r} is not a date", [allowed])
    return InvalidRecord(f"{where}{name or 'the record'}: {problem['msg']}")  # no other kind


def _shown(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def import_key(record: CaseRecord) -> str:
    """The record's import key: SHA-256 of its canonical content (reference included).

    The same record gives the same key in JSON Lines or CSV, with its fields in any order and
    any spacing, whoever runs the import; a record that differs in any field gives another.
    Keys are stored with the cases they made: the content hashed must not change, or a file
    imported before would no longer be recognised (a test holds it to a hand-written key).
    """
    content = {
        "type": record.type, "ref": record.ref, "on": record.on, "attrs": record.attrs,
        "by": record.by,
        "events": [{"trigger": e.trigger, "on": e.on, "attrs": e.attrs, "reason": e.reason,
                    "by": e.by} for e in record.events],
    }
    return hashlib.sha256(canonical(content)).hexdigest()


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why the record on ``line`` was not imported (or, with the code ``already_imported``,
    why it was skipped): an entry of the import's report."""

    line: int
    ref: str | None
    code: str
    message: str
    allowed: tuple[str, ...] = ()

    @classmethod
    def of(cls, line: int, ref: str | None, error: CaseflowError, where: str = "") -> RecordError:
        return cls(line, ref, error.code, where + error.message, tuple(error.allowed))

    def to_json(self) -> dict[str, object]:
        return {
            "line": self.line,
            "ref": self.ref,
            "error": {"code": self.code, "message": self.message, "allowed": list(self.allowed)},
        }
