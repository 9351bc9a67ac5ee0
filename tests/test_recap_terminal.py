"""The recap's terminal tables (`qasession.cli.recap_terminal`): the `--post-drafts` and
`--series` tables print platform texts as text, never as Rich markup or terminal escapes."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from rich.console import Console

from qasession.cli.recap_terminal import show_drafts, show_series
from qasession.recap import Draft, Series, SeriesEntry


def printed(draw: Callable[..., None], *args: Any) -> str:
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None, emoji=False)
    draw(*args, console)
    return out.getvalue()


def test_drafts_show_markup_and_escapes_as_inert_text() -> None:
    hostile = "Thanks [bold red]@eve[/] \x1b[2Jfor asking #AskAcme"
    shown = printed(show_drafts, [Draft("thanks:@eve", "thanks", hostile, 44, 280)])
    assert "[bold red]@eve[/]" in shown  # the markup printed as typed, not applied
    assert "\x1b" not in shown
    assert "thanks:@eve" in shown and "44/280" in shown


def test_the_series_table_fits_80_columns_and_shows_growth() -> None:
    entries = [
        SeriesEntry("t1", "One", "2026-11-03T17:00:00+00:00", "#AskAcme", 10, 12, 5, 0, 10, None),
        SeriesEntry("t2", "Two", "2026-12-03T17:00:00+00:00", "#AskAcme", 15, 20, 9, 4, 11, 50.0),
    ]
    shown = printed(show_series, Series(entries))
    assert max(len(line) for line in shown.splitlines()) <= 80
    rows = [line for line in shown.splitlines() if line.lstrip().startswith(("t1", "t2"))]
    assert len(rows) == 2
    assert "2026-11-03" in rows[0] and "–" in rows[0]
    assert "2026-12-03" in rows[1] and "+50.0%" in rows[1]
