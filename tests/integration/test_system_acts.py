"""Lapses applied in a batch: a refused one changes nothing and the others still land."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flows import services
from flows.context import Bureau
from states.errors import TriggerNotAllowed

NOW = datetime(2024, 10, 14, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_a_refused_act_leaves_its_case_alone_and_the_batch_goes_on(bureau: Bureau) -> None:
    # Both received Fri 2024-09-27: acceptance review due 10-10 (5 working days; 10-01..10-07
    # off, 09-29 and 09-30 worked). The second was accepted on 10-08, so its deemed acceptance
    # is refused; the first is deemed accepted on 10-10.
    first = services.open_case(bureau, "reconsideration", on=date(2024, 9, 27), by="c",
                               now=NOW).case.ref
    second = services.open_case(bureau, "reconsideration", on=date(2024, 9, 27), by="c",
                                now=NOW).case.ref
    services.advance(bureau, second, "accept", on=date(2024, 10, 8), by="c", now=NOW)
    before = services.get_case(bureau, second).case
    acts = [services.SystemAct(second, "deem_accepted", date(2024, 10, 10)),
            services.SystemAct(first, "deem_accepted", date(2024, 10, 10))]
    refused, applied = services.apply_system_acts(bureau, acts, now=NOW)
    assert isinstance(refused, TriggerNotAllowed)
    assert not isinstance(applied, Exception)
    assert applied.case.state == "under_review" and applied.case.version == 2
    assert services.get_case(bureau, second).case == before
    assert [r.trigger for r in services.timeline(bureau, second)] == ["open", "accept"]
    assert all(check.ok for check in services.verify(bureau))
