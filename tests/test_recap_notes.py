"""The host's notes: `qa note TEXT` from any shell and the live UI's `n` key, stamped with the
session clock; the recap shows them beside the numbers, masked like every shared text."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from qasession.errors import UsageError
from qasession.plan import load_plan
from qasession.recap import build_recap
from qasession.recap.render import to_html, to_markdown
from qasession.session.notes import add_note
from qasession.store import Store
from tests.test_recap import PLAN, at, cli, fill_store
from tests.test_tui import SIZE, World, ready, until
from tests.test_tui import world as world  # the live UI's fixture


def _world(tmp_path: Path, home: Path) -> tuple[Path, Any, Store]:
    path = tmp_path / "sessions.yaml"
    path.write_text(PLAN, encoding="utf-8")
    store = Store.open(home)
    fill_store(store)
    return path, load_plan(path), store


def test_notes_in_the_recap_with_the_session_clock(tmp_path: Path, home: Path) -> None:
    _, plan, store = _world(tmp_path, home)
    session = plan.get("t")
    add_note(store, session, "great question on pricing", now=at(23) + timedelta(seconds=10))
    add_note(store, session, "the audit answer was weak; call +33 6 12 34 56 78", now=at(41))
    recap = build_recap(store, session, plan=plan)
    assert [(n.clock, n.text[:9]) for n in recap.notes] == [
        ("+23:10", "great que"),
        ("+41:00", "the audit"),
    ]
    assert "12 34 56" not in str(recap.to_json())  # masked like every shared text
    html = to_html(recap)
    assert 'id="notes"' in html and "great question on pricing" in html and "+23:10" in html
    assert "12 34 56" not in html and "12 34 56" not in to_markdown(recap)


def test_qa_note_from_any_shell(tmp_path: Path, home: Path) -> None:
    path, plan, _ = _world(tmp_path, home)
    result = cli("-f", str(path), "note", "the <b>demo</b> worked \x1b[31m", "-s", "t")
    assert result.exit_code == 0, result.output
    assert "note kept at" in result.output and "session clock" in result.output
    recap = build_recap(Store.open(home), plan.get("t"), plan=plan)
    assert [n.text for n in recap.notes] == ["the <b>demo</b> worked"]
    assert "&lt;b&gt;demo&lt;/b&gt;" in to_html(recap) and "\x1b" not in to_html(recap)
    with pytest.raises(UsageError, match="the note is empty"):
        cli("-f", str(path), "note", "   ", "-s", "t")


async def test_the_live_ui_n_key(world: World) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await pilot.press("n")
        for key in "loved the API question":
            await pilot.press(key if key != " " else "space")
        await pilot.press("enter")
        store = world.store()
        await until(pilot, lambda: bool(store.events("t", "note")))
        (note,) = store.events("t", "note")
        assert note["text"] == "loved the API question"
        # stamped with the loop's clock: two to three minutes into the session (the plan
        # holds its start to the minute)
        recap = build_recap(store, world.session)
        minutes = int(recap.notes[0].clock.lstrip("+").split(":")[0])
        assert recap.notes[0].clock.startswith("+") and 2 <= minutes <= 4
