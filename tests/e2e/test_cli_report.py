"""`caseflow report closure` through the console script, on the population of
tests/report_population.py (figures by hand in tests/integration/test_closure_report.py), and
the files and chart it writes."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from report_population import build_population

from flows.context import Bureau
from models.engine import create_engine
from models.schema import upgrade
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path = tmp_path_factory.mktemp("report") / "caseflow.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    build_population(Bureau(engine, CASE_TYPES, default_calendar()))
    engine.dispose()
    return {"CASEFLOW_DB_URL": f"sqlite:///{path}"}


PERIOD = ["report", "closure", "--from", "2024-04-01", "--to", "2024-06-30"]


def test_json_is_the_contract_document(cli, db) -> None:
    done = cli([*PERIOD, "--type", "reconsideration", "--json"], env=db)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc) == {"from", "to", "rows"}
    (row,) = doc["rows"]
    contract = ("type", "carried_over", "accepted", "handled", "closed", "closure_rate",
                "withdrawn", "withdrawn_share", "closed_on_time", "on_time_rate", "open_at_end",
                "overdue_open")
    assert [row[k] for k in contract] == ["reconsideration", 4, 3, 7, 4, 0.5714, 1, 0.25, 3,
                                          0.75, 3, 1]


def test_people_get_a_table(cli, db) -> None:
    done = cli([*PERIOD, "--by", "department"], env=db)
    assert done.returncode == 0, done.stderr
    assert "结案率" in done.stdout and "57.14%" in done.stdout
    assert "复议一科" in done.stdout and "66.67%" in done.stdout


def test_csv_by_month(cli, db) -> None:
    done = cli([*PERIOD, "--type", "reconsideration", "--by", "month", "--csv"], env=db)
    assert done.returncode == 0, done.stderr
    lines = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(x["month"], x["closure_rate"]) for x in lines] == [
        ("", "0.5714"), ("2024-04", "0.6"), ("2024-05", "0.3333"), ("2024-06", "0.0")]


def test_out_writes_the_files_and_the_chart(cli, db, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = cli([*PERIOD, "--json", "--out", str(out)], env=db)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((out / "closure-report.json").read_text())
    assert (out / "closure-report.csv").read_text().startswith("type,group,carried_over")
    assert (out / "closure-report.png").read_bytes().startswith(PNG_MAGIC)
    svg = (out / "closure-report.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    # one line per rate and type, three months each
    for rate in ("closure_rate", "on_time_rate"):
        for type_name in ("reconsideration", "legal_aid", "complaint"):
            assert f'id="{rate}-{type_name}"' in svg
    assert f"wrote {out / 'closure-report.svg'}" in done.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["--from", "2024-07-01", "--to", "2024-06-30"], "ends before it starts"),
    (["--from", "2024-02-30", "--to", "2024-06-30"], "--from '2024-02-30' is not a date"),
    (["--from", "2024-04-01", "--to", "2024-06-30", "--type", "divorce"], "not a case type"),
    (["--from", "2024-04-01", "--to", "2024-06-30", "--by", "week"], "not a breakdown"),
    (["--from", "2024-04-01", "--to", "2024-06-30", "--json", "--csv"], "choose one"),
])
def test_bad_input_is_one_line_and_exit_2(cli, db, args: list[str], says: str) -> None:
    done = cli(["report", "closure", *args], env=db)
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_svg_series_follow_the_months(db, tmp_path: Path) -> None:
    """The chart's lines carry the month breakdown's rates: reconsideration's closure rate is
    0.6, 0.3333, 0.0 in April, May and June (test_closure_report.py), so its three points
    fall, then reach the axis."""
    from flows.chart import draw_rates
    from flows.reports import closure_report

    engine = create_engine(db["CASEFLOW_DB_URL"])
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    report = closure_report(bureau, date(2024, 4, 1), date(2024, 6, 30), by="month")
    engine.dispose()
    svg_path = tmp_path / "chart.svg"
    assert draw_rates(report, [svg_path], font=None) == []  # English labels, no warning
    svg = svg_path.read_text()
    group = re.search(r'<g id="closure_rate-reconsideration">(.*?)</g>', svg, re.S)
    assert group is not None
    points = re.search(r'd="M [\d.]+ ([\d.]+)\s+L [\d.]+ ([\d.]+)\s+L [\d.]+ ([\d.]+)\s+"',
                       group[1])
    assert points is not None
    april, may, june = (float(points[i]) for i in (1, 2, 3))
    # SVG's y grows downwards, from June's 0.0 on the axis: 0.6 and 0.3333 above it, in ratio
    assert june > may > april
    assert (june - april) / (june - may) == pytest.approx(0.6 / 0.3333, rel=1e-3)


def test_chinese_labels_need_a_cjk_font(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from flows import chart
    from states.report import ClosureReport

    empty = ClosureReport(date(2024, 4, 1), date(2024, 4, 30), (), "month", ())
    monkeypatch.setattr(chart, "cjk_font", lambda: None)
    assert chart.draw_rates(empty, [tmp_path / "a.png"]) == [chart.NO_CJK_FONT]
    monkeypatch.undo()
    if chart.cjk_font() is None:
        pytest.skip("no CJK font on this machine (apt-get install fonts-noto-cjk)")
    assert chart.draw_rates(empty, [tmp_path / "b.png"]) == []
