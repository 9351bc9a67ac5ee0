"""The recap's charts (matplotlib): inline SVG for the HTML page, PNG files for slides, and
the terminal's bars, with the answers, opening, cues and closing marked."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from qasession.cli.recap_terminal import show
from qasession.errors import UsageError
from qasession.plan import load_plan
from qasession.recap import Contributor, build_recap
from qasession.recap.charts import svgs
from qasession.recap.render import to_html
from qasession.store import Store
from tests.test_recap import PLAN, SCRIPT, P, at, cli, fill_store


def _recap(tmp_path: Path, home: Path, script: list[P] = SCRIPT, cue: bool = True) -> Any:
    path = tmp_path / "sessions.yaml"
    path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(path)
    store = Store.open(home)
    fill_store(store, "t", script)
    if cue:
        store.add_event("t", "cue", {"cue": "half-time"}, at(30))
    return build_recap(store, plan.get("t"), plan=plan)


def test_svg_charts_inline_and_marked(tmp_path: Path, home: Path) -> None:
    recap = _recap(tmp_path, home)
    kinds = [(m.kind, m.label) for m in recap.marks]
    assert kinds == [("answer", "answer 1"), ("answer", "answer 2"), ("cue", "half-time"),
                     ("closing", "closing")]  # fmt: skip
    charts = svgs(recap)
    assert set(charts) == {"activity", "time_to_answer", "contributors"}  # one language
    for name, svg in charts.items():
        assert svg.startswith("<svg"), name
        assert "<script" not in svg and "<?xml" not in svg and "<metadata" not in svg
        assert "<image" not in svg  # nothing embedded or fetched
    activity = charts["activity"]
    assert "half-time" in activity and "closing" in activity and "answer" in activity
    assert "17:00" in activity and "17:30" in activity  # the plan's wall clock (UTC here)
    assert "median 15.0 min" in charts["time_to_answer"]
    assert "1. @alice" in charts["time_to_answer"] and "2. @bob" in charts["time_to_answer"]
    contributors = charts["contributors"]
    assert "likes + reposts received" in contributors and "@alice" in contributors
    # the same recap draws the same charts (fixed ids: diffs of a report stay readable)
    assert svgs(recap) == charts


def test_chart_labels_are_inert(tmp_path: Path, home: Path) -> None:
    recap = _recap(tmp_path, home)
    recap.top_contributors.by_questions = [
        Contributor("@<script>x</script>\x1b[2J", 3, 3, 1),
        Contributor("@$\\frac{a}{b}$", 2, 2, 0),
    ]
    svg = svgs(recap)["contributors"]
    assert "<script" not in svg and "&lt;script&gt;" in svg and "\x1b" not in svg
    assert "$\\frac{a}{b}$" in svg  # no mathtext: the dollars are text


def test_languages_chart_when_there_are_several(tmp_path: Path, home: Path) -> None:
    script = [
        *SCRIPT,
        P("q10", "@claire", 12, "Est-ce que l'interface sera disponible en français ? #AskAcme",
          "queued", True),
        P("q11", "@hugo", 13, "Pourquoi les prix ont-ils augmenté cette année ? #AskAcme",
          "queued", True),
    ]  # fmt: skip
    recap = _recap(tmp_path, home, script)
    assert [(x.code, x.questions) for x in recap.languages] == [("en", 9), ("fr", 2)]
    svg = svgs(recap)["languages"]
    assert "English" in svg and "French" in svg
    assert to_html(recap).count("<svg") == 4


def test_png_files(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "sessions.yaml"
    path.write_text(PLAN, encoding="utf-8")
    fill_store(Store.open(home))
    folder = tmp_path / "charts"
    result = cli("-f", str(path), "recap", "t", "--format", "png", "-o", str(folder))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["activity.png", "contributors.png", "time_to_answer.png"]
    with Image.open(io.BytesIO((folder / "activity.png").read_bytes())) as image:
        assert image.format == "PNG" and image.size == (1350, 510)  # 9 x 3.4 in at 150 dpi
    # --charts beside another format
    other = tmp_path / "more"
    result = cli("-f", str(path), "recap", "t", "--format", "md", "-o",
                 str(tmp_path / "r.md"), "--charts", str(other))  # fmt: skip
    assert result.exit_code == 0 and (other / "activity.png").exists()
    assert (tmp_path / "r.md").exists()
    with pytest.raises(UsageError, match="--format png writes files"):
        cli("-f", str(path), "recap", "t", "--format", "png")


def test_terminal_marks_and_waits(tmp_path: Path, home: Path) -> None:
    from rich.console import Console

    recap = _recap(tmp_path, home)
    console = Console(width=100, record=True, color_system=None)
    show(recap, console)
    text = console.export_text()
    assert "time to answer" in text
    waits = text.split("time to answer")[-1]
    assert "1. @alice" in waits and "11 min" in waits and "19 min" in waits
    assert "▼" in text and "half-time" in text and "closing" in text
