"""Replaying import records (pure: in the importing process or in its worker processes).

Each record is decoded, checked for shape (`flows.importer.records`), and its events replayed
in memory through the same rules as a clerk's `advance` (`states.machine`, `states.lapses`):
a person's act comes after the lapses due by its date; a system trigger (``deem_*``) is history,
applied as the system would have. A case that replays cleanly becomes its rows, hash chain
included (`models.bulk.make_rows`), stored later exactly as if it had been opened and advanced
one event at a time. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from flows.context import Bureau
from flows.importer.files import RawRecord, decode_json
from flows.importer.records import (
    CaseRecord,
    InvalidRecord,
    RecordError,
    import_key,
    parse_record,
)
from flows.services import not_in_future
from models.bulk import Replayed, Rows, make_rows
from states.calendar import legal_date
from states.casetype import Actor
from states.errors import CaseflowError
from states.lapses import act
from states.machine import fire, open_case

SYSTEM_BY = "system"  # who a system trigger's event names, unless the record says

# (line, the reference the record names, what became of it)
Outcome = tuple[int, str | None, RecordError | Rows]


class Replayer:
    """Decodes, checks and replays records and makes their rows; touches no database."""

    def __init__(self, bureau: Bureau, *, now: datetime, by: str) -> None:
        self.bureau = bureau
        self.now = now
        self.today = legal_date(now)
        self.by = by

    def batch(self, raws: Sequence[RawRecord]) -> list[Outcome]:
        return [self.outcome(raw) for raw in raws]

    def outcome(self, raw: RawRecord) -> Outcome:
        if raw.problem is not None:
            return raw.line, raw.problem.ref, raw.problem
        try:
            decoded = raw.data if raw.text is None else decode_json(raw.text, "the line")
            if not isinstance(decoded, Mapping):
                raise InvalidRecord("the line is not a JSON object", ['{"type": …, "on": …}'])
        except CaseflowError as error:
            return raw.line, None, RecordError.of(raw.line, None, error)
        data: Mapping[str, object] = decoded
        named = data.get("ref")
        hint = (named.strip() or None) if isinstance(named, str) else None
        try:
            record = parse_record(data)
        except CaseflowError as error:
            return raw.line, hint, RecordError.of(raw.line, hint, error)
        replayed = self.replay(raw.line, record)
        if isinstance(replayed, RecordError):
            return raw.line, record.ref, replayed
        return raw.line, record.ref, make_rows(replayed, self.now)

    def replay(self, line: int, record: CaseRecord) -> Replayed | RecordError:
        calendar = self.bureau.calendar
        try:
            case_type = self.bureau.case_type(record.type)
            not_in_future(record.on, self.now)
            opened = open_case(case_type, record.on, attrs=record.attrs,
                               by=record.by or self.by, calendar=calendar)
        except CaseflowError as error:
            return RecordError.of(line, record.ref, error)
        case, events = opened.case, [opened.event]
        for index, event in enumerate(record.events, start=1):
            specs = case_type.triggers.get(event.trigger, ())
            by_system = bool(specs) and specs[0].actor is Actor.SYSTEM
            by = event.by or (SYSTEM_BY if by_system else record.by or self.by)
            try:
                if event.on > self.today:
                    not_in_future(event.on, self.now)  # raises, naming the latest allowed date
                # a person's act comes after the lapses due by its date, as in `case advance`
                fired = (fire(case_type, case, event.trigger, event.on, attrs=event.attrs,
                              reason=event.reason, by=by, by_system=True, calendar=calendar),
                         ) if by_system else act(
                    case_type, case, event.trigger, event.on, attrs=event.attrs,
                    reason=event.reason, by=by, calendar=calendar, today=self.today)
            except CaseflowError as error:
                where = f"event {index} ({event.trigger} on {event.on.isoformat()}): "
                return RecordError.of(line, record.ref, error, where)
            case = fired[-1].case
            events.extend(f.event for f in fired)
        return Replayed(record.ref or "", case, tuple(events), import_key(record))
