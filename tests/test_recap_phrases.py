"""Key phrases (yake, English and French) grouped with their questions: the demo crowd's real
themes come out, filler words never do, and a phrase shows only when it carries signal."""

from __future__ import annotations

from pathlib import Path

import yaml

from qasession.plan import load_plan
from qasession.recap import build_recap
from qasession.recap.phrases import QuestionText, guess_language, key_phrases, language_of
from qasession.store import Store
from tests.conftest import ROOT
from tests.test_recap import PLAN, SCRIPT, P, fill_store

FILLER_SEEN = {"acme", "call", "look", "plans", "question", "thanks", "anyone", "please"}


def _demo_questions() -> list[QuestionText]:
    crowd = yaml.safe_load((ROOT / "examples" / "crowd.yaml").read_text(encoding="utf-8"))
    return [
        QuestionText(str(i), c["text"], language_of(None, c["text"]), 1,
                     c.get("likes", 0) + c.get("reposts", 0))
        for i, c in enumerate(crowd)
        if "question" in c.get("tags", []) and not {"sensitive", "troll"} & set(c["tags"])
    ]  # fmt: skip


def test_demo_crowd_themes() -> None:
    phrases = key_phrases(_demo_questions(), brand=["acme"])
    shown = [p.phrase.lower() for p in phrases]
    for theme in ("webhooks", "free tier", "eu data", "offline mode"):
        assert any(theme in p for p in shown), (theme, shown)
    words = {w for p in shown for w in p.split()}
    assert not words & FILLER_SEEN, words & FILLER_SEEN
    # offline mode was asked three times (two merged duplicates in the demo): first
    assert phrases[0].phrase == "offline mode" and phrases[0].count == 3
    assert len(phrases[0].questions) == 3


def test_french_questions_get_french_phrases() -> None:
    assert guess_language("Pourquoi les prix ont-ils augmenté cette année ?") == "fr"
    assert guess_language("When will the mobile app support offline mode?") == "en"
    assert guess_language("CLI?") == "und"
    assert language_of("fr-CA", "anything") == "fr"
    questions = [
        QuestionText("1", "Est-ce que l'interface sera bientôt disponible en français ?", "fr"),
        QuestionText("2", "L'interface sera-t-elle disponible en français cette année ?", "fr"),
    ]
    shown = [p.phrase for p in key_phrases(questions)]
    assert "français" in shown and not {"est", "que", "cette"} & set(shown)


def test_no_signal_no_phrase() -> None:
    # one question nobody engaged with: nothing recurs, nothing to show
    lone = [QuestionText("1", "Do you support SSO with Okta and Azure AD?", "en")]
    assert key_phrases(lone) == []
    liked = [QuestionText("1", "Do you support SSO with Okta and Azure AD?", "en", 1, 9)]
    assert key_phrases(liked)


def test_store_recap_phrases_and_private_data(tmp_path: Path, home: Path) -> None:
    script = [
        *SCRIPT,
        P("q10", "@kim", 12, "Will dark mode reach the web app too? #AskAcme", "queued", True,
          likes=6),
        P("q11", "@lee", 13, "Call me on +33 6 12 34 56 78 about dark mode please #AskAcme",
          "queued", True, ("sensitive",), likes=9),
    ]  # fmt: skip
    path = tmp_path / "sessions.yaml"
    path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(path)
    store = Store.open(home)
    fill_store(store, "t", script)
    recap = build_recap(store, plan.get("t"), plan=plan)
    dark = next(p for p in recap.phrases if "dark mode" in p.phrase)
    assert "q2" in dark.questions and "q10" in dark.questions
    assert "q11" not in dark.questions  # a question with private data gives no phrase
    data = str(recap.to_json())
    assert "12 34 56" not in data
