"""Quote cards: a PNG per answered question in X's, Mastodon's and Bluesky's sizes, made from
the masked recap (no private data), none for a question answered in private."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from qasession.plan import load_plan
from qasession.recap import build_recap
from qasession.recap.cards import SIZES, cards_of, draw_card, render_cards
from qasession.store import OutboxItem, Store
from tests.test_recap import PLAN, SCRIPT, P, at, cli, fill_store

PRIVATE = "+33 6 12 34 56 78"


def _store(home: Path) -> Store:
    script = [*SCRIPT, P("q10", "@kim", 12, f"Can I call {PRIVATE} about dark mode? #AskAcme",
                         "answered", True)]  # fmt: skip
    store = Store.open(home)
    fill_store(store, "t", script)
    (item,) = store.add_intents("t", [OutboxItem(
        key="t:answer:3:0:answer", op="t:answer:3", kind="answer", question_id="q10",
        text=f".@kim dark mode ships in March; no need to call {PRIVATE} #AskAcme")])  # fmt: skip
    store.mark_sent(item.id, "A3", at(25))
    return store


def test_cards_masked_and_sized(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "sessions.yaml"
    path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(path)
    recap = build_recap(_store(home), plan.get("t"), plan=plan)
    cards = cards_of(recap)
    # q1 (public answer) and q10; q2 was answered in a direct message: no card
    assert [c.question_id for c in cards] == ["q1", "q10"]
    for card in cards:
        for text in (card.question, card.answer, card.asker, card.host, card.title):
            assert "12 34 56" not in text
    assert cards[1].host == "@acme" and cards[1].hashtag == "#AskAcme"
    assert "dark mode ships in March" in cards[1].answer
    files = dict(render_cards(recap))
    assert sorted(files) == sorted(
        f"card-{n:02d}-{p}.png" for n in (1, 3) for p in ("x", "mastodon", "bluesky")
    )
    for name, data in files.items():
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"
            assert image.size == SIZES[name.split("-")[-1].removesuffix(".png")]
            # something is drawn: the card is not one flat colour
            assert len(image.getcolors(maxcolors=100_000) or []) > 10


def test_long_and_hostile_texts_fit(tmp_path: Path) -> None:
    from qasession.recap.cards import Card

    card = Card(1, "q", "@x\x1b[2J", "word " * 400, "@acme", "y" * 900, "#AskAcme", "T")
    image = draw_card(card, SIZES["bluesky"])
    assert image.size == (1200, 1200)


def test_cli_cards(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "sessions.yaml"
    path.write_text(PLAN, encoding="utf-8")
    _store(home).close()
    folder = tmp_path / "cards"
    result = cli("-f", str(path), "recap", "t", "--format", "html", "-o",
                 str(tmp_path / "r.html"), "--cards", str(folder))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(list(folder.glob("card-*.png"))) == 6
