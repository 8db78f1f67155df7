"""The hot path's own conversions store exactly what SQLAlchemy's would, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.prepared import Prepared
from models.types import UTCDateTime


def test_dates_and_timestamps_round_trip_like_sqlalchemy(engine: Engine) -> None:
    table = sa.Table("conv", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("day", sa.Date), sa.Column("at", UTCDateTime()))
    table.create(engine)
    try:
        moments = [datetime(2024, 10, 11, 0, 0, tzinfo=UTC),
                   datetime(2024, 10, 11, 8, 30, 15, 123456,
                            tzinfo=timezone(timedelta(hours=8)))]
        with engine.begin() as connection:
            fast = Prepared(sa.insert(table), connection.dialect, ["id", "day", "at"])
            for i, moment in enumerate(moments):
                fast.execute(connection, {"id": i, "day": date(2024, 2, 29), "at": moment})
                connection.execute(sa.insert(table), {"id": 10 + i, "day": date(2024, 2, 29),
                                                      "at": moment})
        with engine.connect() as connection:
            raw = connection.exec_driver_sql("SELECT id, day, at FROM conv ORDER BY id").all()
            by_id = {r[0]: (r[1], r[2]) for r in raw}
            assert by_id[0] == by_id[10] and by_id[1] == by_id[11]  # the same stored values
            select = Prepared(sa.select(table).order_by(table.c.id), connection.dialect)
            rows = select.all(connection, {})
        assert [r[2] for r in rows] == [m.astimezone(UTC) for m in moments] * 2
        assert all(r[2].tzinfo is not None for r in rows)
        assert [r[1] for r in rows] == [date(2024, 2, 29)] * 4
    finally:
        table.drop(engine)
