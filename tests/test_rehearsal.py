"""Acceptance: a headless rehearsal of the demo plan and crowd, answered from another shell."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, qa

# The rehearsal below is run once per worker that needs it: keep its tests on one worker.
pytestmark = pytest.mark.xdist_group("rehearsal")
# The rehearsal runs on the wall clock: on a loaded machine (the tests run on every core) a step
# of its loop may start seconds late, and on the virtual clock that is SPEED times as long.
SPEED = 60.0
ON_TIME = timedelta(seconds=5 * SPEED)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rehearse", ROOT / "examples" / "rehearse.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def crowd() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / "examples" / "crowd.yaml").read_text())  # type: ignore[no-any-return]


def test_crowd_is_believable() -> None:
    entries = crowd()
    tags = Counter(tag for e in entries for tag in e.get("tags", []))
    assert len(entries) >= 30
    assert tags["question"] >= 15 and tags["duplicate"] >= 2 and tags["chatter"] >= 5
    assert tags["troll"] >= 1 and tags["sensitive"] >= 1 and tags["french"] >= 1
    assert tags["ahead"] >= 1 and any(e.get("reposts") for e in entries)
    assert any(str(e["after"]).startswith("-1d") for e in entries)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One headless rehearsal of the demo, shared by the tests below (it takes ~65 s)."""
    home = tmp_path_factory.mktemp("rehearsal")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QA_HOME", str(home))
        result: dict[str, Any] = load_example().rehearse(home, SPEED, quiet=True)
    result["home"] = home
    return result


def demo(rehearsal: dict[str, Any]) -> dict[str, str]:
    """The environment of a command on the rehearsed demo session (whatever today's date)."""
    assert rehearsal["session"] == "askacme-dec"  # the demo plan's first session
    return {"QA_SESSION": rehearsal["session"]}


def test_headless_rehearsal_with_three_answers(rehearsal: dict[str, Any]) -> None:
    result = rehearsal
    assert result["code"] == 0
    events = result["events"]
    assert events[0]["event"] == "started" and events[-1]["event"] == "ended"
    answered = result["answered"]
    assert sorted(answered.values()) == ["dm", "dot", "quote"]
    timeline = result["timeline"]
    mine = [p for p in timeline if p["author"] == "@acme"]
    start = datetime.fromisoformat(events[0]["start"])
    end = datetime.fromisoformat(events[0]["end"])

    opening = mine[0]
    assert opening["kind"] == "post" and "live" in opening["text"].lower()
    assert abs(datetime.fromisoformat(opening["created_at"]) - start) < ON_TIME

    for question_id, mode in answered.items():
        if mode == "dot":
            index = next(
                i
                for i, p in enumerate(timeline)
                if p["kind"] == "repost" and p["author"] == "@acme" and p["ref"] == question_id
            )
            asker = next(p["author"] for p in timeline if p["id"] == question_id)
            answer = timeline[index + 1]  # immediately followed by the answer
            assert answer["author"] == "@acme" and answer["text"].startswith(f".{asker} ")
            assert answer["text"].lower().count("#askacme") == 1
        if mode == "quote":
            assert any(p["kind"] == "quote" and p["ref"] == question_id for p in mine)
        if mode == "dm":
            asker = next(p["author"] for p in timeline if p["id"] == question_id)
            assert any(p["kind"] == "dm" and p["to"] == asker for p in mine)
            assert not any("ACME-482913" in p["text"] for p in mine if p["kind"] != "dm")

    closing = next(p for p in mine if "That's all for today" in p["text"])
    assert abs(datetime.fromisoformat(closing["created_at"]) - end) < ON_TIME
    assert Counter(p["text"] for p in mine if p["kind"] != "repost").most_common(1)[0][1] == 1


def test_queue_json_shape_after_rehearsal(rehearsal: dict[str, Any]) -> None:
    queue = json.loads(
        qa(
            "--rehearsal", "queue", "--json", "--home", str(rehearsal["home"]), env=demo(rehearsal)
        ).stdout
    )
    assert queue, "questions remain open after three answers"
    for row in queue:
        assert {"id", "author", "text", "score", "status", "flags", "duplicates"} <= set(row)
        assert set(row["flags"]) <= {"sensitive", "troll", "duplicate", "ahead"}
        assert row["status"] == "queued"
    scores = [row["score"] for row in queue]
    assert scores == sorted(scores, reverse=True)
    offline = next(r for r in queue if "offline mode" in r["text"])
    assert offline["duplicates"] == 2 and "duplicate" in offline["flags"]
    assert queue[0]["id"] == offline["id"]  # most liked, and asked three times


def test_recap_matches_the_crowd_script(rehearsal: dict[str, Any]) -> None:
    """The recap's numbers, derived here from the script's tags, not from the code."""
    entries = crowd()
    tagged = Counter(tag for e in entries for tag in e.get("tags", []))
    received = tagged["question"]
    merged = tagged["duplicate"]
    answered = len(rehearsal["answered"])
    result = qa(
        "recap", "--format", "json", "--home", str(rehearsal["home"]), "--rehearsal",
        env=demo(rehearsal),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    recap = json.loads(result.stdout)
    authors = {e["author"].lower() for e in entries}
    reposters = sum(e.get("reposts", 0) for e in entries)  # one account per repost
    assert recap["participants"] == len(authors) + reposters
    questions = recap["questions"]
    assert questions["received"] == received
    assert questions["merged"] == merged
    assert questions["ahead"] == tagged["ahead"]
    assert questions["answered"] == answered == 3
    assert questions["skipped"] == 0 and questions["hidden"] == 0
    assert questions["open"] == received - merged - answered
    moderation = recap["moderation"]
    assert moderation["flagged_sensitive"] == tagged["sensitive"]
    assert moderation["flagged_troll"] == tagged["troll"]
    assert len(recap["transcript"]) == answered
    assert recap["time_to_answer"]["count"] == answered


def test_demo_charts_cards_and_phrases(rehearsal: dict[str, Any], tmp_path: Any) -> None:
    """The demo's recap as a host shares it: PNG charts and quote cards of the right sizes,
    key phrases with the crowd's real themes and no private data anywhere."""
    from PIL import Image

    charts, cards = tmp_path / "charts", tmp_path / "cards"
    result = qa(
        "recap", "--format", "json", "--home", str(rehearsal["home"]), "--rehearsal",
        "--charts", str(charts), "--cards", str(cards), env=demo(rehearsal),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    recap = json.loads(result.stdout)
    sizes = {p.name: Image.open(p).size for p in charts.glob("*.png")}
    assert sizes["activity.png"] == (1350, 510)
    assert {"time_to_answer.png", "contributors.png", "languages.png"} <= set(sizes)
    card_sizes = {p.name.split("-")[-1]: Image.open(p).size for p in cards.glob("card-*.png")}
    assert card_sizes == {"x.png": (1600, 900), "mastodon.png": (1280, 720),
                          "bluesky.png": (1200, 1200)}  # fmt: skip
    # the answer sent by direct message gets no card: two public answers, three sizes each
    assert len(list(cards.glob("card-*.png"))) == 3 * sum(
        1 for e in recap["transcript"] if all(a["kind"] != "dm" for a in e["answers"])
    )
    phrases = [p["phrase"].lower() for p in recap["phrases"]]
    for theme in ("webhooks", "free tier", "eu data", "offline mode"):
        assert any(theme in p for p in phrases), (theme, phrases)
    assert {lang["code"] for lang in recap["languages"]} >= {"en", "fr"}
    assert "ACME-482913" not in result.stdout and "12 34 56" not in result.stdout
