"""A small population of cases for the closure report's tests, built through the services:
see tests/integration/test_closure_report.py for each case's story and the figures by hand."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flows import services
from flows.context import Bureau

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 12, 31, 12, tzinfo=SH)
START, END = date(2024, 4, 1), date(2024, 6, 30)
ONE, TWO = "复议一科", "复议二科"


def _open(bureau: Bureau, ref: str, on: date, department: str, handler: str,
          type_name: str = "reconsideration") -> None:
    services.open_case(bureau, type_name, on=on, ref=ref, by=handler, now=NOW,
                       attrs={"department": department, "handler": handler})


def _do(bureau: Bureau, ref: str, trigger: str, on: date, **attrs: object) -> None:
    reason = "理由" if trigger in ("reject",) else None
    services.advance(bureau, ref, trigger, on=on, attrs=attrs or None, reason=reason,
                     by="clerk", now=NOW)


def _accepted(bureau: Bureau, ref: str, opened: date, accepted: date, department: str,
              handler: str) -> None:
    _open(bureau, ref, opened, department, handler)
    _do(bureau, ref, "accept", accepted)
    _do(bureau, ref, "send_copy", accepted.replace(day=accepted.day + 1))


def build_population(bureau: Bureau) -> None:
    _accepted(bureau, "A", date(2024, 3, 1), date(2024, 3, 4), ONE, "王")
    _do(bureau, "A", "extend", date(2024, 4, 1), days=30)
    _do(bureau, "A", "decide", date(2024, 4, 15), decision="maintain")
    _accepted(bureau, "B", date(2024, 2, 1), date(2024, 2, 2), ONE, "王")
    _do(bureau, "B", "decide", date(2024, 3, 20), decision="maintain")
    _accepted(bureau, "C", date(2024, 3, 11), date(2024, 3, 12), ONE, "李")
    _do(bureau, "C", "extend", date(2024, 3, 15), days=10)
    _do(bureau, "C", "decide", date(2024, 7, 10), decision="revoke")
    _accepted(bureau, "D", date(2024, 4, 1), date(2024, 4, 2), ONE, "李")
    _do(bureau, "D", "withdraw", date(2024, 4, 20))
    _accepted(bureau, "E", date(2024, 6, 3), date(2024, 6, 4), TWO, "张")
    _open(bureau, "F", date(2024, 4, 8), TWO, "张")
    _do(bureau, "F", "reject", date(2024, 4, 9))
    _open(bureau, "G", date(2024, 5, 6), TWO, "张")
    _do(bureau, "G", "send_copy", date(2024, 5, 20))  # deemed accepted 05-11 first
    _accepted(bureau, "H", date(2024, 3, 18), date(2024, 3, 19), TWO, "王")
    _do(bureau, "H", "suspend", date(2024, 3, 25), ground=1)
    _do(bureau, "H", "terminate", date(2024, 5, 27), ground=5)
    _accepted(bureau, "J", date(2024, 1, 15), date(2024, 1, 16), TWO, "王")
    _do(bureau, "J", "decide", date(2024, 4, 10), decision="change")
    # legal aid, approved 03-04, terminated 05-10 with its assignment (3 days) long missed,
    # then reopened on 07-05 by an upheld objection (order_correction): closed at the end of
    # the period, although not closed now
    _open(bureau, "L", date(2024, 3, 1), "法援科", "钱", "legal_aid")
    _do(bureau, "L", "approve", date(2024, 3, 4))
    _do(bureau, "L", "terminate", date(2024, 5, 10), ground=1)
    _do(bureau, "L", "file_objection", date(2024, 7, 1))
    _do(bureau, "L", "order_correction", date(2024, 7, 5))
    # a complaint, admitted when opened on 06-20; its 10 working days run to 07-04
    _open(bureau, "K", date(2024, 6, 20), "投诉科", "赵", "complaint")
