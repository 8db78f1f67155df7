"""The closure report's chart: closure and on-time rates by month, one line per case type.

Drawn with matplotlib on a `Figure` of its own (no pyplot, no global state), as PNG and SVG.
Chinese labels need a CJK font: the first of `CJK_FONTS` the machine has (Debian's
fonts-noto-cjk gives the Noto ones); with none, the labels are English and a warning says so.
The SVG keeps its text as paths, so it reads the same on a machine without the font, and each
line carries an id, ``<rate>-<type>``, for programs that read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from states.report import ClosureReport

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "Source Han Sans SC",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei",
             "AR PL UMing CN")
RATES = ("closure_rate", "on_time_rate")
TITLES = {
    "closure_rate": ("结案率 closure rate", "Closure rate"),
    "on_time_rate": ("按期结案率 on-time rate", "On-time rate"),
}
NO_CJK_FONT = ("no CJK font found (install fonts-noto-cjk): the chart's labels are in English")


def cjk_font() -> str | None:
    """The name of a CJK font matplotlib can use here, or None."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in have), None)


def draw_rates(report: ClosureReport, paths: Sequence[Path], *,
               font: str | None = "auto") -> list[str]:
    """Draw the month breakdown of ``report`` (``by="month"``) into each of ``paths`` (the
    format from the suffix). ``font``: a font family, None for English labels, or "auto" to
    pick a CJK font. Returns the warnings (e.g. no CJK font)."""
    import matplotlib
    from matplotlib.figure import Figure

    warnings: list[str] = []
    if font == "auto":
        font = cjk_font()
        if font is None:
            warnings.append(NO_CJK_FONT)
    chinese = font is not None
    months = list(dict.fromkeys(str(r.group[1]) for r in report.breakdown if r.group))
    labels = {r.type: (f"{r.label} {r.type}" if chinese else r.type) for r in report.rows}
    values: dict[tuple[str, str], list[float]] = {}
    for row in report.breakdown:
        doc = row.to_json()
        for rate in RATES:
            # a month with nothing handled (or closed) has no rate: a gap, not a zero
            value = doc[rate]
            values.setdefault((rate, row.type), []).append(
                float("nan") if value is None else value)

    style: dict[str, Any] = {"svg.fonttype": "path", "svg.hashsalt": "caseflow",
                             "axes.unicode_minus": False}
    if font is not None:
        style["font.family"] = [font, "DejaVu Sans"]
    with matplotlib.rc_context(style):  # type: ignore[arg-type]
        figure = Figure(figsize=(10, 4.5), layout="constrained")
        axes = figure.subplots(1, 2, sharey=True)
        for ax, rate in zip(axes, RATES, strict=True):
            ax.set_title(TITLES[rate][0 if chinese else 1])
            for type_name, label in labels.items():
                series = values.get((rate, type_name), [])
                (line,) = ax.plot(range(len(series)), series, marker="o", label=label)
                line.set_gid(f"{rate}-{type_name}")
            # every month of the period on the axis, even one with no rate at all
            ax.set_xticks(range(len(months)), months)
            ax.set_xlim(-0.3, len(months) - 0.7)
            ax.set_ylim(0, 1.05)
            ax.set_xlabel("月份 month" if chinese else "month")
            ax.grid(True, alpha=0.3)
            ax.tick_params(axis="x", labelrotation=45)
        axes[0].set_ylabel("比率 rate" if chinese else "rate")
        if labels:
            axes[0].legend(loc="lower left", fontsize="small")
        period = f"{report.start.isoformat()} – {report.end.isoformat()}"
        figure.suptitle(f"结案情况 {period}" if chinese else f"Closure {period}")
        for path in paths:
            figure.savefig(path, dpi=110, metadata=_metadata(path))
    return warnings


def _metadata(path: Path) -> dict[str, str | None]:
    # no creation date: the same report draws the same file
    if path.suffix.lower() == ".svg":
        return {"Date": None}
    if path.suffix.lower() == ".png":
        return {"Software": "caseflow"}
    return {}
