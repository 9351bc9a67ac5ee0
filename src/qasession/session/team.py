"""Who may do what in a session run by a team: the plan's `team:` list gives each person one
or more roles (host, moderator, approver); a session without one has a single host, who may do
everything, whatever the actor's name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qasession.errors import ExitCode, QAError

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.store import OutboxItem, Store
    from qasession.store.team import Draft

# what each role may do; `view` (queue, drafts, log) is everyone's on the team
ABILITIES: dict[str, frozenset[str]] = {
    "host": frozenset(
        {"run", "post", "answer", "claim", "triage", "approve", "close", "note", "view"}
    ),
    "moderator": frozenset({"answer", "claim", "triage", "note", "view"}),
    "approver": frozenset({"approve", "note", "view"}),
}
WHAT = {
    "run": "run the live loop or post the plan",
    "post": "post the recap's drafts or settle the outbox",
    "answer": "answer questions",
    "claim": "claim questions",
    "triage": "skip, pin or block",
    "approve": "approve or reject drafts",
    "close": "close the session",
    "note": "jot notes",
    "view": "see the session",
}


def default_actor() -> str:
    """Who is at the keyboard: `QA_ACTOR`, else the operating-system user."""
    import getpass
    import os

    name = os.environ.get("QA_ACTOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


class NotAllowed(QAError):
    """The actor is not on the session's team, or their role may not do this."""

    exit_code = ExitCode.AUTH


def roles_of(session: Session, actor: str) -> tuple[str, ...]:
    """The actor's roles in the session ((): not on its team); everyone hosts without a team."""
    if not session.team:
        return ("host",)
    for member in session.team:
        if member.name.lower() == actor.lower():
            return tuple(member.role)
    return ()


def may(session: Session, actor: str, ability: str) -> bool:
    return any(ability in ABILITIES[role] for role in roles_of(session, actor))


def require(session: Session, actor: str, ability: str) -> str:
    """The role under which `actor` may do `ability` (e.g. "moderator"); raises NotAllowed
    (exit 4) naming who may."""
    roles = roles_of(session, actor)
    for role in roles:
        if ability in ABILITIES[role]:
            return role
    who = [m.name for m in session.team if any(ability in ABILITIES[r] for r in m.role)]
    where = f"{session.id} (plan line {session.line})"
    if not roles:
        raise NotAllowed(
            f"{actor} is not on the team of session {where}",
            hint="give your name with --as NAME (or QA_ACTOR), or add yourself to `team:`",
        )
    raise NotAllowed(
        f"{actor} ({', '.join(roles)}) may not {WHAT[ability]} in session {session.id}",
        hint=f"ask {', '.join(who)}" if who else "give a team member the role for it",
    )


def other_approvers(session: Session, actor: str) -> list[str]:
    """Team members other than `actor` who may approve: a draft's author may approve it only
    when there is nobody else to."""
    return [
        m.name
        for m in session.team
        if m.name.lower() != actor.lower() and any("approve" in ABILITIES[r] for r in m.role)
    ]


def hold_for_approval(
    session: Session, store: Store, intents: list[OutboxItem]
) -> list[OutboxItem]:
    """With `answers.approve_planned`, the planned posts that may go out: those approved, with
    the text as approved (the draft's exact preview, or the approver's edit). Every planned post
    gets its draft ahead of time (`planned_drafts`), so approvers can decide before it is due;
    one rejected is never posted."""
    if not session.answers.approve_planned:
        return intents
    drafts = planned_drafts(session, store)
    kept = []
    for item in intents:
        draft = drafts.get(item.key)
        if draft is None or draft.state != "approved":
            continue
        item.text = draft.final_text if draft.final_text is not None else draft.preview[0]["text"]
        kept.append(item)
    return kept


def planned_drafts(session: Session, store: Store) -> dict[str, Draft]:
    """The drafts of the session's planned posts by outbox key, made (once each) for those
    not yet drafted nor posted (nor announcements already missed)."""
    from qasession.plan import timeline
    from qasession.session.schedule import DEFAULT_GRACE, outbox_key

    found = {d.key: d for d in store.drafts(session.id) if d.kind == "planned"}
    missed = store.database_now() - DEFAULT_GRACE  # an announcement this late never goes out
    for item in timeline(session):
        key = outbox_key(session, item)
        if key in found or store.outbox_item(key) is not None:
            continue
        if item.kind == "announcement" and item.at < missed:
            continue
        store.add_planned_draft(
            session.id, key, [{"kind": item.kind, "text": item.text}], item.kind
        )
        draft = store.planned_draft(session.id, key)
        if draft is not None:
            found[key] = draft
    return found
