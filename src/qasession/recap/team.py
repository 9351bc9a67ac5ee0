"""The recap's credits for the team: who answered, drafted, approved, rejected, skipped and
claimed what, and how long drafts waited for approval — all read from the audit log.

In the JSON recap under `team` (null when nobody acted): `members` (one per actor, most
answers first: `name, roles, answered, drafted, approved, rejected, skipped, claimed,
took_over`), `approval` (`count, median_s, p90_s`: seconds from a draft to its approval) and
`actions` (lines of the audit log). An answer is credited to whoever wrote it: the drafter
when it was approved, not the approver."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qasession.store import Store

COUNTED = ("answered", "drafted", "approved", "rejected", "skipped", "claimed", "took_over")
_BY_ACTION = {
    "answer": "answered",
    "draft": "drafted",
    "approve": "approved",
    "reject": "rejected",
    "skip": "skipped",
    "claim": "claimed",
    "take_over": "took_over",
}


@dataclass(slots=True)
class Member:
    name: str
    roles: list[str] = field(default_factory=list)
    answered: int = 0
    drafted: int = 0
    approved: int = 0
    rejected: int = 0
    skipped: int = 0
    claimed: int = 0
    took_over: int = 0


@dataclass(slots=True)
class ApprovalTimes:
    count: int = 0
    median_s: float | None = None
    p90_s: float | None = None


@dataclass(slots=True)
class TeamCredits:
    members: list[Member]
    approval: ApprovalTimes
    actions: int


def credits_from(entries: Iterable[dict[str, Any]], team: Iterable[Any] = ()) -> TeamCredits | None:
    """The credits of the audit log `entries` (oldest first); `team` is the plan's list."""
    members: dict[str, Member] = {}
    roles = {m.name.lower(): list(m.role) for m in team}
    drafter: dict[int, str] = {}
    waits: list[float] = []
    count = 0

    def member(name: str) -> Member:
        key = name.lower()
        if key not in members:
            members[key] = Member(name, roles.get(key, []))
        return members[key]

    for entry in entries:
        count += 1
        actor, action = str(entry["actor"]), str(entry["action"])
        if actor == "plan":
            continue  # a planned post waiting for approval: nobody's work
        counted = _BY_ACTION.get(action)
        if counted is None:
            continue
        who = member(actor)
        setattr(who, counted, getattr(who, counted) + 1)
        if action == "draft" and entry.get("draft") is not None:
            drafter[int(entry["draft"])] = actor
        if action == "approve":
            author = drafter.get(int(entry.get("draft") or 0)) or entry.get("by")
            if author and author != "plan":
                member(str(author)).answered += 1
            if entry.get("waited_s") is not None:
                waits.append(float(entry["waited_s"]))
    if not count:
        return None
    ordered = sorted(members.values(), key=lambda m: (-m.answered, -m.approved, m.name.lower()))
    return TeamCredits(ordered, _times(waits), count)


def _times(waits: list[float]) -> ApprovalTimes:
    if not waits:
        return ApprovalTimes()
    ordered = sorted(waits)
    p90 = ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]  # nearest rank
    return ApprovalTimes(len(ordered), round(statistics.median(ordered), 1), round(p90, 1))


def team_credits(store: Store, session: Any) -> TeamCredits | None:
    """The session's credits from its audit log (None when nobody did anything)."""
    return credits_from(store.audit_log(session.id), getattr(session, "team", ()))


def lines(credits: TeamCredits | None) -> list[str]:
    """The credits as plain lines for the terminal recap (names made inert: `--as` takes any)."""
    from qasession.text.safe import inert

    if credits is None:
        return []
    out = ["Team"]
    for m in credits.members:
        done = ", ".join(f"{getattr(m, k)} {k.replace('_', ' ')}" for k in COUNTED if getattr(m, k))
        role = f" ({', '.join(m.roles)})" if m.roles else ""
        name = inert(m.name, single_line=True, max_length=64)
        out.append(f"  {name}{role}: {done or 'nothing counted'}")
    a = credits.approval
    if a.count:
        out.append(
            f"  draft to approval: median {a.median_s:.0f} s, 90th percentile {a.p90_s:.0f} s "
            f"({a.count} approved)"
        )
    return out
