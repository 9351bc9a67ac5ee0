"""The operator's commands — answer, skip, unskip, pin, unpin, block, mute, close — one API for
`qa answer` and friends, the terminal UI and the loop.

An answer is accepted only when its question moves from queued (or skipped) to `answering` in
the same transaction that writes its outbox steps, so two `qa answer` for one question never
both get posted: the second is refused, naming the first, unless it asks for a follow-up.
A question carrying private data is never reposted or quoted. Every command records who
issued it (an actor name, by default the operating-system user).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from qasession import triage
from qasession.compose import AnswerSpec, Question, compose_answer
from qasession.errors import Hint, QAError, UsageError
from qasession.platforms.base import Billing, Capabilities
from qasession.session.capabilities import capabilities_of, host_of
from qasession.session.team import (
    NotAllowed,
    default_actor,
    other_approvers,
    planned_drafts,
    require,
)
from qasession.store.control import AnswerTerms
from qasession.store.team import Who
from qasession.text.length import has_url

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.store import OutboxItem, Store
    from qasession.store.team import Claim, ClaimResult, Draft

ANSWER_MODES = ("dot", "reply", "quote", "dm")


@dataclass(slots=True)
class Target:
    """A question as the host addresses it: its number, and where it lives."""

    number: int
    platform: str
    post_id: str
    author: str
    author_id: str | None
    text: str
    status: str
    flags: frozenset[str]
    pinned: bool = False

    @property
    def private(self) -> bool:
        return "sensitive" in self.flags

    @property
    def question(self) -> Question:
        return Question(self.post_id, self.author, self.text, self.author_id)


def target_of(row: Any) -> Target:
    return Target(
        number=int(row["number"]),
        platform=row["platform"],
        post_id=row["id"],
        author=row["author"],
        author_id=row["author_id"],
        text=row["text"],
        status=row["status"],
        flags=frozenset(f for f in row["flags"].split(",") if f),
        pinned=bool(row["pinned"]),
    )


def find_question(session: Session, store: Store, ref: str | int) -> Target:
    """The question numbered `ref` (as `qa queue` shows it: `12` or `#12`)."""
    text = str(ref).strip().lstrip("#")
    row = store.question_row(session.id, int(text)) if text.isdigit() else None
    if row is None:
        raise UsageError(
            f"no question {str(ref)!r} in session {session.id}",
            hint="use the number `qa queue` shows in its first column",
        )
    return target_of(row)


def bills(platform: str) -> bool:
    from qasession.platforms import registry

    try:
        return issubclass(registry.load_class(platform.split(":", 1)[0]), Billing)
    except (QAError, ImportError, AttributeError, TypeError):  # an adapter that cannot load
        return False


# -- answers ----------------------------------------------------------------------------------


@dataclass(slots=True)
class AnswerRequest:
    """What the host asked for."""

    text: str
    mode: str = "dot"
    thread: bool = False
    follow_up: bool = False  # a second answer to an answered question, on purpose
    post_private_data: bool = False  # the answer's own text may carry what looks private
    public_without_repost: bool = False  # answer a private question in public, never reposted
    # also post it as a community answer on the session's platforms where it was not asked
    everywhere: bool = False


@dataclass(slots=True)
class AnswerPlan:
    """The outbox steps of an answer and the notes for the operator."""

    steps: list[OutboxItem]
    notes: list[str] = field(default_factory=list)


def check_text(text: str) -> str:
    """The host's own answer text, refused when it carries terminal controls (ESC, bidi
    overrides, other invisible controls): they would be posted to the world verbatim."""
    from qasession.text.safe import control_characters

    if not text.strip():
        raise UsageError("the answer is empty")
    found = control_characters(text)
    if found:
        raise UsageError(
            f"the answer contains control characters ({', '.join(found)})",
            hint="remove them: they would be posted as they are",
        )
    return text


def plan_answer(
    session: Session,
    target: Target,
    request: AnswerRequest,
    *,
    op: str,
    capabilities: Capabilities,
    host: str | None,
) -> AnswerPlan:
    """The steps of an answer under the session's settings and the private-data rules —
    what `qa answer` checks, the terminal UI previews and the loop sends. Raises UsageError
    (with what to do) when it cannot go out as asked."""
    check_text(request.text)
    mode = request.mode
    notes: list[str] = []
    repost_first = session.answers.repost_first
    if mode not in ANSWER_MODES:
        raise UsageError(
            f"unknown answer mode {mode!r}", hint=f"use one of: {', '.join(ANSWER_MODES)}"
        )
    if target.private and mode != "dm":
        refused = private_refusal(session, target, request)
        if refused is not None:
            raise refused
        kinds = private_kinds(session, target.text)
        mode, repost_first = "dot", False
        notes.append(
            f"question {target.number} carries private data ({kinds}): answered with a "
            "stand-alone post, without repost or quote"
        )
    if mode != "dm" and not request.post_private_data:
        findings = triage.find_sensitive(
            request.text, triage.compile_patterns(session.sensitive_patterns)
        )
        if findings:
            kinds = ", ".join(sorted({f.label or triage.LABELS[f.kind] for f in findings}))
            raise UsageError(
                f"the answer contains what looks like private data ({kinds})",
                hint=Hint(
                    "answer by direct message ({dm}), remove it, or allow it with "
                    "{post_private_data}"
                ),
            )
    spec = AnswerSpec(
        op=op,
        question=target.question,
        text=request.text,
        mode=mode,
        thread=request.thread,
        repost_first=repost_first,
        append_hashtag=session.answers.append_hashtag,
        dm_notice=session.answers.dm_notice,
    )
    steps, composed = compose_answer(
        spec, hashtag=session.hashtag, host=host, capabilities=capabilities
    )
    for step in steps:
        step.platform = target.platform
    notes.extend(composed)
    if bills(target.platform) and has_url(request.text):
        notes.append(
            f"this answer contains a link: {target.platform} bills a post with a link at a much "
            "higher price (see the platform's price_post_url setting)"
        )
    return AnswerPlan(steps, notes)


def private_refusal(session: Session, target: Target, request: AnswerRequest) -> UsageError | None:
    """Why `request` cannot go out on `target` as asked because the question carries private
    data (any mode but dm, unless answered in public without repost), or None."""
    if not target.private or request.mode == "dm" or request.public_without_repost:
        return None
    kinds = private_kinds(session, target.text)
    return UsageError(
        f"question {target.number} carries private data ({kinds}): it is never "
        "reposted, quoted or replied to in public",
        hint=Hint(
            "answer it by direct message ({dm}), or with {public_without_repost} for a "
            "stand-alone public answer that does not show the question"
        ),
    )


def private_kinds(session: Session, text: str) -> str:
    findings = triage.find_sensitive(text, triage.compile_patterns(session.sensitive_patterns))
    kinds = sorted({f.label or triage.LABELS.get(f.kind, "private data") for f in findings})
    return ", ".join(kinds) or "private data"


@dataclass(slots=True)
class Accepted:
    """An answer accepted: its question, command and outbox steps."""

    number: int
    command_id: int
    op: str
    steps: list[OutboxItem]
    notes: list[str]
    draft_id: int | None = None  # under approval: the draft waiting for an approver
    took_over: str | None = None  # whose live claim this answer took over


class Control:
    """The operator's commands on one session, from any shell, the terminal UI or the loop."""

    def __init__(self, session: Session, store: Store, *, actor: str | None = None) -> None:
        self.session = session
        self.store = store
        self.actor = actor or default_actor()

    def allow(self, ability: str) -> str:
        """The actor's role for `ability` under the plan's `team:` (NotAllowed, exit 4)."""
        return require(self.session, self.actor, ability)

    def _ensure(self) -> None:
        s = self.session
        self.store.ensure_session(s.id, s.hashtag, s.platform)

    def question(self, ref: str | int) -> Target:
        return find_question(self.session, self.store, ref)

    def _plan_on(self, target: Target, request: AnswerRequest, op: str) -> AnswerPlan:
        view = self.session.on(target.platform) if self.session.multi else self.session
        return plan_answer(
            view,
            target,
            request,
            op=op,
            capabilities=capabilities_of(self.session, self.store, target.platform),
            host=host_of(self.session, self.store, target.platform),
        )

    def preview(self, target: Target, request: AnswerRequest, op: str = "preview") -> AnswerPlan:
        """Every post the answer makes, on every platform: where it was asked (the question,
        and the same question merged in from other platforms, each answered there once), and
        with `request.everywhere` a community answer on the session's other platforms."""
        plan = self._plan_on(target, request, op)
        if not self.session.multi:
            return plan
        for step in plan.steps:
            step.platform = target.platform
        asked = [target, *self.asked_elsewhere(target)]
        for other in asked[1:]:
            self._add_elsewhere(plan, other, request, f"{op}@{other.platform}")
        if request.everywhere:
            where = {t.platform for t in asked}
            for name in self.session.platform_names:
                if name not in where:
                    self._add_community(plan, target, request, name, f"{op}@{name}")
        return plan

    def asked_elsewhere(self, target: Target) -> list[Target]:
        """The same question asked on the session's other platforms (merged into `target`):
        the first one on each."""
        rows = self.store.posts(
            self.session.id,
            where="duplicate_of = ? AND duplicate_platform = ? AND is_question = 1",
            params=(target.post_id, target.platform),
        )
        found: dict[str, Target] = {}
        for row in rows:
            if row["platform"] != target.platform and row["platform"] not in found:
                found[row["platform"]] = target_of(row)
        return list(found.values())

    def _add_elsewhere(
        self, plan: AnswerPlan, other: Target, request: AnswerRequest, op: str
    ) -> None:
        from dataclasses import replace

        tries = [request]
        if other.private and request.mode != "dm":
            tries = [replace(request, public_without_repost=True)]
        tries.append(replace(tries[0], mode="dot", public_without_repost=other.private))
        reason = ""
        for attempt in tries:
            try:
                extra = self._plan_on(other, attempt, op)
            except UsageError as exc:
                reason = str(exc)
                continue
            for step in extra.steps:
                step.platform = other.platform
            plan.steps.extend(extra.steps)
            plan.notes.extend(f"on {other.platform}: {note}" for note in extra.notes)
            return
        plan.notes.append(f"not answered on {other.platform}: {reason}")

    def _add_community(
        self, plan: AnswerPlan, target: Target, request: AnswerRequest, name: str, op: str
    ) -> None:
        from qasession.compose import community_text
        from qasession.platforms import registry
        from qasession.store import OutboxItem

        view = self.session.on(name)
        asked_on = self.session.on(target.platform)
        try:
            text = community_text(
                None if target.private else target.text,
                request.text,
                label=registry.label(target.platform),
                hashtag=view.hashtag,
                capabilities=capabilities_of(self.session, self.store, name),
                hashtags=(asked_on.hashtag, view.hashtag),
            )
        except UsageError as exc:
            plan.notes.append(f"no community answer on {name}: {exc}")
            return
        plan.steps.append(
            OutboxItem(key=f"{op}:0:community", op=op, kind="community", text=text, platform=name)
        )

    def answer(
        self, ref: str | int, request: AnswerRequest, *, take_over: bool = False
    ) -> Accepted:
        """Accept an answer: its steps go to the outbox, and the running loop (or the next
        one) posts them; under `answers.approval` they wait as a draft for an approver.
        Refused (UsageError, exit 2) when the question is already being answered or answered,
        unless `request.follow_up`, or claimed by someone else, unless `take_over`."""
        role = self.allow("answer")
        target = self.question(ref)
        s = self.session
        if target.status in ("hidden",) and not request.follow_up:
            raise UsageError(f"question {target.number} is hidden (its author is moderated)")
        op = f"{s.id}:answer:{target.number}"
        if request.follow_up:
            op += f":f{time.time_ns()}"
        plan = self.preview(target, request, op)
        args = {
            "number": target.number,
            "platform": target.platform,
            "post_id": target.post_id,
            "text": request.text,
            "mode": request.mode,
            "thread": request.thread,
            "follow_up": request.follow_up,
            "op": op,
        }
        for step in plan.steps:
            step.actor = self.actor
        claim = self.store.claim_answer(
            s.id,
            target.platform,
            target.post_id,
            args,
            plan.steps,
            who=Who(self.actor, role),
            terms=AnswerTerms(request.follow_up, take_over, s.answers.approval),
        )
        if claim.claimed is not None:
            raise UsageError(_claimed(target, claim.claimed), hint=_TAKE_OVER_HINT)
        if not claim.accepted:
            raise UsageError(_refusal(target, claim.status, claim.first), hint=_FOLLOW_UP_HINT)
        return Accepted(
            target.number,
            claim.command_id or 0,
            op,
            plan.steps,
            plan.notes,
            draft_id=claim.draft_id,
            took_over=claim.took_over.actor if claim.took_over else None,
        )

    # -- claims ----------------------------------------------------------------------------

    def claim(self, ref: str | int, *, take_over: bool = False) -> ClaimResult:
        """Claim a question while drafting its answer (again: keeps the claim alive); the
        other seats see who holds it. Refused while someone else's claim is live, unless
        `take_over`."""
        role = self.allow("claim")
        target = self.question(ref)
        if target.status not in ("queued", "skipped"):
            raise UsageError(f"question {target.number} is {target.status}; nothing to claim")
        result = self.store.claim(
            self.session.id,
            target.platform,
            target.post_id,
            target.number,
            self.actor,
            role=role,
            take_over=take_over,
        )
        if not result.ok and result.holder is not None:
            raise UsageError(_claimed(target, result.holder), hint=_TAKE_OVER_HINT)
        if not result.ok:  # answered by another seat a moment ago
            raise UsageError(f"question {target.number} is {result.status}; nothing to claim")
        return result

    def release(self, ref: str | int) -> bool:
        """Give up one's claim on a question."""
        role = self.allow("claim")
        target = self.question(ref)
        return self.store.release(
            self.session.id,
            target.platform,
            target.post_id,
            self.actor,
            role=role,
            number=target.number,
        )

    # -- approval --------------------------------------------------------------------------

    def drafts(self, states: tuple[str, ...] = ("pending",)) -> list[Draft]:
        """The drafts (pending by default); with `answers.approve_planned`, the planned posts
        not yet posted are among them, so they can be approved ahead of time."""
        self.allow("view")
        if self.session.answers.approve_planned and not self.store.readonly:
            self._ensure()
            planned_drafts(self.session, self.store)
        return self.store.drafts(self.session.id, states or None)

    def _pending(self, draft_id: int) -> Draft:
        draft = self.store.draft(self.session.id, draft_id)
        if draft is None:
            raise UsageError(
                f"no draft {draft_id} in session {self.session.id}", hint="see `qa drafts`"
            )
        if draft.state != "pending":
            raise UsageError(f"draft {draft_id} is already {draft.state} by {draft.decided_by}")
        return draft

    def approve(self, draft_id: int, text: str | None = None) -> tuple[Draft, list[OutboxItem]]:
        """Approve a draft (with `text`, as edited by the approver): its posts enter the
        outbox and the loop sends them. A draft's author approves it only when nobody else
        on the team may."""
        role = self.allow("approve")
        draft = self._pending(draft_id)
        others = other_approvers(self.session, self.actor)
        if draft.actor.lower() == self.actor.lower() and others:
            raise NotAllowed(
                f"draft {draft_id} is {self.actor}'s own: another approver approves it",
                hint=f"ask {', '.join(others)}",
            )
        steps = self._approved_steps(draft, text)
        for step in steps:
            step.actor = draft.actor
        if not self.store.decide_draft(
            draft, approved=True, actor=self.actor, role=role, steps=steps, final_text=text
        ):
            raise UsageError(f"draft {draft_id} was decided meanwhile", hint="see `qa drafts`")
        return draft, steps

    def _approved_steps(self, draft: Draft, text: str | None) -> list[OutboxItem]:
        if draft.kind != "answer":
            if text is not None:
                check_text(text)
            return []  # a planned post: the loop posts it once approved, with the edited text
        args = draft.request
        target = self.question(int(args["number"]))
        request = AnswerRequest(
            text if text is not None else str(args["text"]),
            str(args.get("mode", "dot")),
            bool(args.get("thread")),
            follow_up=bool(args.get("follow_up")),
            post_private_data=bool(args.get("post_private_data")),
            public_without_repost=bool(args.get("public_without_repost")),
        )
        return self.preview(target, request, draft.key).steps

    def reject(self, draft_id: int, why: str) -> Draft:
        """Reject a draft with the reason its author sees; its question returns to the queue."""
        role = self.allow("approve")
        if not why.strip():
            raise UsageError("a rejection needs a reason", hint="say why with --why TEXT")
        draft = self._pending(draft_id)
        if not self.store.decide_draft(
            draft, approved=False, actor=self.actor, role=role, reason=why
        ):
            raise UsageError(f"draft {draft_id} was decided meanwhile", hint="see `qa drafts`")
        return draft

    # -- triage ----------------------------------------------------------------------------

    def _record(self, kind: str, args: dict[str, Any], result: str) -> None:
        self.store.add_command(
            self.session.id,
            kind,
            args,
            actor=self.actor,
            state="done",
            result=result,
            role=self.allow("triage"),
        )

    def skip(self, ref: str | int) -> Target:
        self.allow("triage")
        target = self.question(ref)
        if not self.store.set_status(
            self.session.id, target.post_id, "skipped", target.platform, only_from=("queued",)
        ):
            raise UsageError(f"question {target.number} is {target.status}; only queued ones skip")
        self._record("skip", {"number": target.number}, "skipped")
        return target

    def unskip(self, ref: str | int) -> Target:
        self.allow("triage")
        target = self.question(ref)
        if not self.store.set_status(
            self.session.id, target.post_id, "queued", target.platform, only_from=("skipped",)
        ):
            raise UsageError(f"question {target.number} is {target.status}, not skipped")
        self._record("unskip", {"number": target.number}, "queued")
        return target

    def pin(self, ref: str | int, pinned: bool = True) -> Target:
        self.allow("triage")
        target = self.question(ref)
        self.store.set_pinned(self.session.id, target.post_id, pinned, target.platform)
        kind = "pin" if pinned else "unpin"
        self._record(kind, {"number": target.number}, kind)
        return target

    def moderate(self, handle: str, action: str, platform: str = "") -> int:
        """Block or mute an author (on one platform, or on all with ""); returns how many of
        their queued questions left the queue."""
        if action not in ("blocked", "muted"):
            raise ValueError(f"moderation is 'blocked' or 'muted', not {action!r}")
        self.allow("triage")
        self._ensure()
        handle = handle.strip()
        handle = handle if handle.startswith("@") else "@" + handle
        hidden = self.store.add_moderation(
            self.session.id,
            handle,
            action,
            datetime.now(UTC),
            platform=platform,
            actor=self.actor,
        )
        self._record(action, {"handle": handle, "platform": platform}, f"{hidden} hidden")
        return hidden

    def close(self) -> None:
        """Ask the running loop to post the closing now (the next run does, if none runs)."""
        role = self.allow("close")
        self._ensure()
        self.store.add_command(self.session.id, "close", {}, actor=self.actor, role=role)


_FOLLOW_UP_HINT = Hint("{follow_up} posts a second answer on purpose")
_TAKE_OVER_HINT = Hint("{take_over} answers it anyway (the other seat is told)")


def _claimed(target: Target, claim: Claim) -> str:
    since = str(claim.claimed_at)[11:19]
    touched = str(claim.touched_at)[11:19]
    return (
        f"question {target.number} is claimed by {claim.actor} (since {since} UTC, "
        f"last active {touched} UTC)"
    )


def _refusal(target: Target, status: str | None, first: dict[str, Any] | None) -> str:
    if first is None:
        return f"question {target.number} is {status or 'gone'}, it cannot be answered"
    if status == "drafted":
        who = f" by {first['actor']}" if first.get("actor") else ""
        return f"question {target.number} already has a draft{who} waiting for approval"
    who = f" by {first['actor']}" if first.get("actor") else ""
    when = str(first.get("created_at", ""))[:19].replace("T", " ")
    return (
        f"question {target.number} is already {status or 'answered'}: answer {first['id']}"
        f"{who} at {when} UTC"
    )
