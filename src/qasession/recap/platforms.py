"""The recap of a session on several platforms, split by platform and combined: participants,
questions, answers (where asked, and community answers elsewhere), time to answer, activity
by platform over time (what a stacked chart draws), and each platform's calls and cost."""

from __future__ import annotations

import json
from datetime import datetime
from statistics import median
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.store import Store

BUCKET_MINUTES = 10  # the activity's step


def qualify(platform: str | None, post_id: Any) -> Any:
    """A post id told apart by its platform, for the combined recap of several platforms
    (local:x and local:bsky both have a post 3)."""
    if post_id is None or not platform:
        return post_id
    return f"{platform}/{post_id}"


def _minutes(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() / 60


def _start(store: Store, session: Session) -> str:
    """When the session started: a rehearsal's own (shifted) start, else the plan's."""
    row = store.session_row(session.id) or {}
    if row.get("clock"):
        try:
            return str(json.loads(row["clock"])["start"])
        except (ValueError, KeyError, TypeError):
            pass
    return session.start.isoformat()


def _one(store: Store, session: Session, name: str, buckets: int) -> dict[str, Any]:
    sid = session.id
    posts = store.posts(sid, where="platform = ?", params=(name,))
    people = {p["author"].lower() for p in posts if p["status"] not in ("own",)}
    questions = [p for p in posts if p["is_question"]]
    asked = {p["id"]: p for p in questions}
    sent = [i for i in store.outbox(sid, ("sent",)) if i.platform == name]
    answered: dict[str, str] = {}  # op -> when its first answer step went out
    for item in sent:
        if item.kind in ("answer", "dm") and item.question_id and item.sent_at:
            answered.setdefault(item.op, item.sent_at)
    start = _start(store, session)
    end_minute = session.duration.total_seconds() / 60
    waits = []
    for item in sent:
        question = asked.get(item.question_id or "")
        late = _minutes(item.sent_at or start, start) >= end_minute  # apart, as in the recap
        if question is not None and answered.get(item.op) == item.sent_at and not late:
            waits.append(max(0.0, _minutes(item.sent_at or "", question["created_at"])))
    activity = [0] * buckets
    for p in posts:
        at = _minutes(p["created_at"], start)
        if 0 <= at < buckets * BUCKET_MINUTES and p["status"] != "own":
            activity[int(at // BUCKET_MINUTES)] += 1
    row = store.source_row(sid, name) or {}
    counters = json.loads(row["counters"]) if row.get("counters") else {}
    return {
        "platform": name,
        "participants": len(people),
        "posts": sum(1 for p in posts if p["status"] != "own"),
        "questions": len(questions),
        "merged_into_other_platforms": sum(1 for p in questions if p["duplicate_platform"]),
        "answered": len(answered),
        "community_answers": sum(1 for i in sent if i.kind == "community"),
        "median_minutes_to_answer": round(median(waits), 1) if waits else None,
        "activity": activity,
        "spend_usd": counters.get("spend_usd", 0.0),
        "state": row.get("state") or "ok",
        "degraded": len(
            [e for e in store.events(sid, "platform_degraded") if e.get("platform") == name]
        ),
    }


def platform_breakdown(store: Store, session: Session) -> dict[str, Any] | None:
    """The recap split by platform and combined; None for a session on one platform."""
    if not session.multi:
        return None
    buckets = max(1, int(session.duration.total_seconds() // 60) // BUCKET_MINUTES + 1)
    rows = [_one(store, session, name, buckets) for name in session.platform_names]
    answered_ops = {
        item.op.split("@", 1)[0]
        for item in store.outbox(session.id, ("sent",))
        if item.kind in ("answer", "dm") and item.question_id
    }
    canonical = store.posts(session.id, where="is_question = 1 AND duplicate_of IS NULL")
    combined = {
        "participants": sum(r["participants"] for r in rows),
        "posts": sum(r["posts"] for r in rows),
        "questions": len(canonical),  # a question asked on two platforms counts once
        "answered": len(answered_ops),
        "community_answers": sum(r["community_answers"] for r in rows),
        "activity": [sum(r["activity"][i] for r in rows) for i in range(buckets)],
        "spend_usd": round(sum(r["spend_usd"] for r in rows), 4),
    }
    return {"bucket_minutes": BUCKET_MINUTES, "platforms": rows, "combined": combined}
