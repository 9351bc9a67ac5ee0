"""The same question on two platforms, in the store: refreshed likes and reposts of the post
merged from the other platform pass on to the question it was merged into (its rank counts
them), on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qasession.platforms.base import Post
from qasession.store import Store
from qasession.store.db import PostRecord

T0 = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("engine")  # each test on SQLite and on PostgreSQL
TEXT = "When will the app work offline? #AskAcme"


def post(platform: str, post_id: str, likes: int = 0, reposts: int = 0) -> Post:
    return Post(
        post_id, f"@sam_{platform}", TEXT, T0, likes=likes, reposts=reposts, platform=platform
    )


def test_refreshed_engagement_of_a_merged_post_counts_in_its_question(home: Path) -> None:
    store = Store.open(home)
    store.ensure_session("s", "#AskAcme", "x")
    store.save_page("s", [PostRecord(post("x", "7", likes=5), "queued", True)], "7",
                    seen_at=T0, source="x")  # fmt: skip
    merged = PostRecord(
        post("bluesky", "7", likes=2), "merged", True, duplicate_of="7", duplicate_platform="x"
    )
    store.save_page("s", [merged], "c1", seen_at=T0 + timedelta(minutes=1), source="bluesky")
    also = post("bluesky", "8", likes=1)  # another post of Bluesky, in no merge
    store.save_page("s", [PostRecord(also, "queued", True)], "c2", seen_at=T0, source="bluesky")

    def question() -> tuple[int, int, int]:
        row = store.post_row("s", "7", "x")
        return row["likes"], row["cross_likes"], row["cross_reposts"]

    assert question() == (5, 2, 0)
    assert store.merged_from("s", "bluesky", [("x", "7"), ("bluesky", "8")]) == ["7"]
    assert store.merged_from("s", "bluesky", [("x", "9")]) == []
    store.update_metrics("s", [post("bluesky", "7", likes=9, reposts=3), post("bluesky", "8", 4)])
    assert question() == (5, 9, 3)  # Bluesky's fresh counts, on X's question
    store.update_metrics("s", [post("x", "7", likes=6)])
    assert question() == (6, 9, 3)  # its own, and Bluesky's kept
    other = store.post_row("s", "8", "bluesky")
    assert (other["likes"], other["cross_likes"]) == (4, 0)
