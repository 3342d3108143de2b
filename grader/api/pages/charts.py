"""The TA overview's plots, drawn server-side with matplotlib as SVG.

Each plot is its own ``matplotlib.figure.Figure`` rendered through the Agg-free SVG canvas: no pyplot,
so no global figure registry or state shared between requests in a threaded server.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta

from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from grader.api.pages.overview import CheckRate

# Colours with at least 4.5:1 contrast against white (WCAG AA for the labels they carry).
_BAR = "#1f5fa8"
_FAIL = "#b3261e"
_TEXT = "#1a1a1a"


def _svg(fig: Figure) -> bytes:
    FigureCanvasSVG(fig)
    buffer = io.BytesIO()
    # No date in the metadata: the SVG depends only on the data (and matplotlib's random clip-path ids).
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def _figure(height: float = 3.0, width: float = 5.5) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    fig.patch.set_facecolor("white")
    return fig


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", color=_TEXT, transform=ax.transAxes)
    ax.set_axis_off()


def submissions_over_time(times: list[datetime]) -> bytes:
    """Uploads per hour (per day when they span more than three days)."""
    fig = _figure()
    ax = fig.add_subplot()
    if not times:
        _empty(ax, "No submissions yet")
        return _svg(fig)
    span = max(times) - min(times)
    daily = span > timedelta(days=3)
    hours = [t.replace(minute=0, second=0, microsecond=0) for t in times]
    buckets = Counter(h.replace(hour=0) if daily else h for h in hours)
    keys = sorted(buckets)
    width = 0.8 if daily else 0.8 / 24
    ax.bar(keys, [buckets[k] for k in keys], width=width, align="edge", color=_BAR)  # type: ignore[arg-type]
    ax.set_ylabel("uploads per " + ("day" if daily else "hour"), color=_TEXT)
    ax.set_xlabel("received (UTC)", color=_TEXT)
    ax.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    fig.autofmt_xdate()
    return _svg(fig)


def score_histogram(scores: list[float], max_score: float | None) -> bytes:
    """Latest score per student; one bin per point when the maximum is small."""
    fig = _figure()
    ax = fig.add_subplot()
    if not scores:
        _empty(ax, "No graded student submissions yet")
        return _svg(fig)
    top = max_score if max_score else max(scores) or 1.0
    bins = int(top) if 1 <= top <= 40 and float(top).is_integer() else 20
    ax.hist(scores, bins=bins, range=(0, top), color=_BAR, edgecolor="white")
    ax.set_xlabel(f"score (of {top:g})", color=_TEXT)
    ax.set_ylabel("students", color=_TEXT)
    ax.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    return _svg(fig)


def pass_rate_per_check(rates: list[CheckRate]) -> bytes:
    """Share of students' latest submissions passing each check; the most failed check on top."""
    fig = _figure(height=max(2.0, 0.26 * len(rates) + 1.0), width=9.0)
    ax = fig.add_subplot()
    if not rates:
        _empty(ax, "No graded student submissions yet")
        return _svg(fig)
    ordered = sorted(rates, key=lambda r: (-r.rate, r.label))  # barh draws bottom-up: lowest rate last = top
    labels = [r.label if len(r.label) <= 60 else r.label[:57] + "..." for r in ordered]
    values = [100 * r.rate for r in ordered]
    colours = [_FAIL if r.rate < 0.5 else _BAR for r in ordered]
    bars = ax.barh(range(len(ordered)), values, color=colours)
    # The share as text too: a check nobody passes has no bar to see.
    ax.bar_label(bars, labels=[f"{v:.0f}%" for v in values], padding=3, fontsize=7, color=_TEXT)
    ax.set_yticks(range(len(ordered)), labels, fontsize=8, color=_TEXT)
    ax.set_xlim(0, 112)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.set_xlabel("students passing (%)", color=_TEXT)
    return _svg(fig)
