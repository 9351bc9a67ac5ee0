"""The recap's charts, drawn with matplotlib: one figure each, written as inline SVG for the
HTML page (text kept as text, no script, nothing fetched) or as PNG for slides and posts.

- `activity`: posts per bucket over the session, with the opening, cues, closing and each
  answer marked on it (late answers past the end);
- `time_to_answer`: how long each answered question waited, in answer order, with the median;
- `contributors`: the top contributors' questions beside the likes and reposts they received
  (ties in questions are ranked by the latter);
- `languages`: question posts by language;
- `platforms`: a session on several platforms: its posts per bucket, stacked by platform.

Every label from a platform is made inert and cut; matplotlib's mathtext is off, so a `$` in a
handle is a dollar. Figures come from `matplotlib.figure.Figure` (no pyplot, no global state).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from qasession.text.safe import inert

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qasession.recap import Recap

INK = "#1d2430"
MUTED = "#5d6675"
BLUE = "#3867a8"
ORANGE = "#d9822b"
GREEN = "#5b9a68"
RED = "#b5473a"
NAMES = ("activity", "time_to_answer", "contributors", "languages", "platforms")
PLATFORM_COLORS = (BLUE, ORANGE, GREEN, RED, MUTED, INK)
RC: Any = {
    "svg.fonttype": "none",  # text stays text: small, selectable, the page's font
    "svg.hashsalt": "qasession",  # the same recap gives the same SVG
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # shipped with matplotlib: no system font needed
    "font.size": 10,
    "axes.edgecolor": "#c5ccd6",
    "axes.labelcolor": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "figure.facecolor": "white",
}
_XML_HEAD = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*", re.S)


def _label(text: str, limit: int = 24) -> str:
    return inert(text, limit, single_line=True)


def _zone(recap: Recap) -> ZoneInfo:
    try:
        return ZoneInfo(recap.meta.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _minutes(recap: Recap, instant: str) -> float:
    start = recap.activity.window_start or recap.meta.window_start
    assert start is not None
    return (datetime.fromisoformat(instant) - datetime.fromisoformat(start)).total_seconds() / 60


def activity(recap: Recap) -> Figure | None:
    """Posts per bucket, answers marked above the bars, opening/cues/closing as lines."""
    a = recap.activity
    if not a.during or not a.during_posts or a.window_start is None:
        return None
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = _figure(9, 3.4)
    ax = fig.add_subplot()
    width = a.bucket_seconds / 60
    xs = [_minutes(recap, b.start) for b in a.during]
    ax.bar(xs, [b.posts for b in a.during], width=width * 0.9, align="edge", color=BLUE)
    top = max(b.posts for b in a.during)
    answers = [m for m in recap.marks if m.kind == "answer"]
    for mark in recap.marks:
        x = _minutes(recap, mark.at)
        if mark.kind in ("opening", "closing", "cue"):
            style = "--" if mark.kind != "cue" else ":"
            ax.axvline(x, color=MUTED, linestyle=style, linewidth=1)
            ax.annotate(
                _label(mark.label, 20), (x, 1), xycoords=("data", "axes fraction"),
                xytext=(3, -2), textcoords="offset points", va="top", fontsize=8, color=MUTED,
            )  # fmt: skip
    if answers:
        xs_on = [_minutes(recap, m.at) for m in answers if not m.late]
        xs_late = [_minutes(recap, m.at) for m in answers if m.late]
        y = top * 1.12 + 0.3
        if xs_on:
            ax.plot(xs_on, [y] * len(xs_on), "v", color=GREEN, label="answer", markersize=7)
        if xs_late:
            ax.plot(xs_late, [y] * len(xs_late), "v", color=ORANGE, label="late answer")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False, fontsize=8)
        ax.set_ylim(0, y * 1.15)
    zone = _zone(recap)
    origin = datetime.fromisoformat(a.window_start)

    def clock(x: float, _pos: int) -> str:
        from datetime import timedelta

        return (origin + timedelta(minutes=x)).astimezone(zone).strftime("%H:%M")

    ax.xaxis.set_major_formatter(FuncFormatter(clock))
    ax.xaxis.set_major_locator(MaxNLocator(10, steps=[1, 2, 3, 5, 6, 10]))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("posts per minute" if width == 1 else f"posts per {width:g} minutes")
    return fig


def time_to_answer(recap: Recap) -> Figure | None:
    """One bar per answered question (answer order): minutes it waited; the median dashed."""
    entries = recap.transcript[:40]
    if not entries:
        return None
    from matplotlib.ticker import MaxNLocator

    fig = _figure(9, max(1.6, 0.32 * len(entries) + 0.9))
    ax = fig.add_subplot()
    late_ids = {m.label for m in recap.marks if m.kind == "answer" and m.late}
    labels, values, colors = [], [], []
    for number, entry in enumerate(entries, 1):
        labels.append(f"{number}. {_label(entry.question.author, 20)}")
        values.append((entry.seconds_to_answer or 0) / 60)
        colors.append(ORANGE if f"answer {number}" in late_ids else GREEN)
    ys = list(range(len(entries)))[::-1]
    ax.barh(ys, values, color=colors, height=0.7)
    ax.set_yticks(ys, labels)
    median = recap.time_to_answer.median_s
    if median is not None:
        ax.axvline(median / 60, color=INK, linestyle="--", linewidth=1)
        ax.annotate(
            f"median {median / 60:.1f} min", (median / 60, 1), xycoords=("data", "axes fraction"),
            xytext=(4, 0), textcoords="offset points", va="top", fontsize=8, color=INK,
        )  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("minutes waited")
    return fig


def contributors(recap: Recap) -> Figure | None:
    """Questions asked and likes + reposts received, side by side, one row per person."""
    from qasession.recap.render import ranked_contributors

    people = ranked_contributors(recap)
    if not people:
        return None
    from matplotlib.ticker import MaxNLocator

    fig = _figure(9, max(1.6, 0.34 * len(people) + 0.9))
    left, right = fig.subplots(1, 2, sharey=True)
    ys = list(range(len(people)))[::-1]
    left.barh(ys, [c.questions for c in people], color=BLUE, height=0.7)
    right.barh(ys, [c.engagement for c in people], color=ORANGE, height=0.7)
    left.set_yticks(ys, [_label(c.handle) for c in people])
    left.set_title("questions asked", fontsize=10, color=MUTED, loc="left")
    right.set_title("likes + reposts received", fontsize=10, color=MUTED, loc="left")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def languages(recap: Recap) -> Figure | None:
    """Question posts by language (only when there is more than one to compare)."""
    langs = recap.languages[:8]
    if len(langs) < 2:
        return None
    from matplotlib.ticker import MaxNLocator

    fig = _figure(9, max(1.4, 0.34 * len(langs) + 0.8))
    ax = fig.add_subplot()
    ys = list(range(len(langs)))[::-1]
    ax.barh(ys, [lang.questions for lang in langs], color=GREEN, height=0.7)
    ax.set_yticks(ys, [_label(lang.name, 20) for lang in langs])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("questions")
    return fig


def platforms(recap: Recap) -> Figure | None:
    """A session on several platforms: posts per bucket of the session, one stacked colour
    per platform (the split `recap.by_platform` holds), each platform's total in the legend."""
    split = recap.by_platform
    if not split or not any(sum(p["activity"]) for p in split["platforms"]):
        return None
    from matplotlib.ticker import MaxNLocator

    step = split["bucket_minutes"]
    fig = _figure(9, 3.2)
    ax = fig.add_subplot()
    buckets = len(split["combined"]["activity"])
    xs = [i * step for i in range(buckets)]
    bottom = [0] * buckets
    for i, platform in enumerate(split["platforms"]):
        counts = platform["activity"]
        label = f"{_label(platform['platform'], 20)} ({sum(counts)})"
        color = PLATFORM_COLORS[i % len(PLATFORM_COLORS)]
        ax.bar(xs, counts, width=step * 0.9, align="edge", bottom=bottom, color=color, label=label)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=4, frameon=False, fontsize=8)
    ax.set_xticks(xs, [f"+{x}m" for x in xs])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"posts per {step} minutes")
    return fig


DRAW: dict[str, Callable[[Recap], Figure | None]] = {
    "activity": activity,
    "time_to_answer": time_to_answer,
    "contributors": contributors,
    "languages": languages,
    "platforms": platforms,
}


def figures(recap: Recap) -> dict[str, Figure]:
    """The charts this recap has data for, by name."""
    import matplotlib

    out = {}
    with matplotlib.rc_context(RC):
        for name, draw in DRAW.items():
            fig = draw(recap)
            if fig is not None:
                out[name] = fig
    return out


def svg(fig: Figure) -> str:
    """The figure as an inline `<svg>` element (no XML prolog, no metadata)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "qasession"})
    return _XML_HEAD.sub("", buffer.getvalue())


def png(fig: Figure, *, dpi: int = 150) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": "qasession"})
    return buffer.getvalue()


def svgs(recap: Recap) -> dict[str, str]:
    return {name: svg(fig) for name, fig in figures(recap).items()}


def write_pngs(recap: Recap, folder: Path) -> list[Path]:
    """Each chart as `<folder>/<name>.png` (the folder is made); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures(recap).items():
        path = folder / f"{name}.png"
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(png(fig))
        partial.replace(path)
        written.append(path)
    return written
