"""The resolved plan that the rest of the tool reads: sessions with UTC instants, rendered
texts and defaults applied; how a validated session is resolved; its timeline."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from qasession.errors import PlanError, UsageError
from qasession.plan.adapters import Catalog, section_problems
from qasession.plan.errors import Problems, Source
from qasession.plan.explain import explain
from qasession.plan.messages import PathT, clip, suggest
from qasession.plan.models import (
    AnnouncementSpec,
    AnswerSettings,
    CrisisPlan,
    LabelledPattern,
    ModerationSettings,
    PostSpec,
    QuietDate,
    RankingWeights,
    SessionSpec,
    TeamMember,
)
from qasession.plan.texts import (
    DEFAULT_TEXTS,
    SessionFacts,
    TemplateError,
    placeholder_values,
    render,
)
from qasession.plan.values import (
    SESSION_ID,
    GapError,
    RelativeTime,
    image_path,
    local_timezone_name,
    parse_at,
    resolve_at,
    to_instant,
)

# The best-practice schedule: days ahead (twice, to collect questions early), on the day.
DEFAULT_ANNOUNCEMENTS: tuple[str, ...] = ("-3d", "-1d", "-1h")


@dataclass(frozen=True, slots=True)
class PlannedPost:
    """The opening, closing or after-party post: rendered text, image path, and template."""

    text: str
    image: str | None
    template: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Announcement:
    """One announcement: when (UTC), the rendered text, and a key stable across loads."""

    at: datetime
    text: str
    image: str | None
    key: str
    template: str = field(repr=False)
    offset: str | None = None  # the relative spec ("-3d"), None when an absolute time


PlannedKind = Literal["announcement", "opening", "closing", "after_party"]


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """A post of the timeline; `key` is its idempotency key in the outbox."""

    key: str
    kind: PlannedKind
    at: datetime
    text: str
    image: str | None


@dataclass(frozen=True)
class Session:
    """One session, resolved: instants are aware UTC datetimes (compare them with any clock;
    show them with `local()`), texts are rendered, defaults applied."""

    id: str
    title: str
    platform: str
    account: str | None
    hashtag: str
    timezone: str
    start: datetime
    duration: timedelta
    announcements: list[Announcement]
    opening: PlannedPost | None
    closing: PlannedPost | None
    after_party: PlannedPost | None
    answers: AnswerSettings
    moderation: ModerationSettings
    ranking: RankingWeights
    # (regular expression, label of what it finds): what triage.compile_patterns takes
    sensitive_patterns: list[LabelledPattern]
    quiet_dates: list[QuietDate]
    crisis_plan: CrisisPlan | None
    next: str | None
    platform_settings: dict[str, Any]
    line: int
    platform_settings_line: int | None = None
    team: tuple[TeamMember, ...] = ()  # empty: one host, who may do everything
    index: int = 0
    _source: Source | None = field(default=None, repr=False, compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    @property
    def facts(self) -> SessionFacts:
        return SessionFacts(
            self.hashtag,
            self.title,
            self.start,
            self.tz,
            self.duration,
            self.account,
            self.platform,
        )

    def local(self, instant: datetime) -> datetime:
        """`instant` on the plan's wall clock."""
        return instant.astimezone(self.tz)

    def line_of(self, *where: Hashable) -> int | None:
        """The file line of a key of this session (e.g. "announcements", 0, "at"), falling
        back to the nearest enclosing key, then to the session's own line."""
        if self._source is None:
            return self.line
        return self._source.locate(self.index, tuple(where))[2].line

    def settings_error(self, exc: ValidationError) -> PlanError:
        """An adapter's validation error of `platform_settings`, pointing into the file."""
        from pydantic import BaseModel

        err = min(exc.errors(), key=lambda e: self.line_of(self.platform, *e["loc"]) or 0)
        message, hint, at_key = explain(err, BaseModel)
        where = (self.platform, *err["loc"])
        if self._source is None:
            return PlanError(message, line=self.platform_settings_line, hint=hint)
        return self._source.error(self.index, where, message, hint, at_key=at_key)

    def with_start(self, new_start: datetime) -> Session:
        """A copy that starts at `new_start` (naive: in the plan's zone), everything planned
        moved by the same delta and re-rendered (rehearsals with --start-now)."""
        start = to_instant(new_start, self.tz)
        delta = start - self.start
        shifted = dataclasses.replace(self, start=start)
        values = placeholder_values(shifted.facts)

        def post(item: PlannedPost | None) -> PlannedPost | None:
            if item is None:
                return None
            return dataclasses.replace(item, text=render(item.template, values))

        return dataclasses.replace(
            shifted,
            announcements=[
                dataclasses.replace(a, at=a.at + delta, text=render(a.template, values))
                for a in self.announcements
            ],
            opening=post(self.opening),
            closing=post(self.closing),
            after_party=post(self.after_party),
        )


@dataclass(frozen=True)
class Plan:
    """The sessions of one plan file, in file order."""

    path: Path
    sessions: list[Session]

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sessions]

    def get(self, session_id: str | None = None, now: datetime | None = None) -> Session:
        """The session `session_id`; without one, the only session, else the first one not
        yet ended by `now` (the last one when all have ended, so recaps find it)."""
        if session_id is None:
            if len(self.sessions) == 1:
                return self.sessions[0]
            moment = now or datetime.now(UTC)
            upcoming = [s for s in self.sessions if s.end > moment]
            if upcoming:
                return min(upcoming, key=lambda s: s.start)
            return max(self.sessions, key=lambda s: s.start)
        for session in self.sessions:
            if session.id == session_id:
                return session
        known = ", ".join(self.ids)
        maybe = suggest(session_id, self.ids)
        raise UsageError(
            f"no session '{clip(session_id)}' in {self.path}",
            hint=(maybe + " " if maybe else "") + f"known sessions: {known}",
        )


# --------------------------------------------------------------------------------------------
# Texts of a resolved session


def placeholders(session: Session) -> dict[str, str | None]:
    """The values of {hashtag} {title} {date} {time} ... for `session`."""
    return placeholder_values(session.facts)


def render_text(template: str, session: Session) -> str:
    """Fill the placeholders of `template` for `session`; `{{` writes a literal `{`."""
    try:
        return render(template, placeholders(session))
    except TemplateError as exc:
        where = session._source.path if session._source else "sessions.yaml"
        raise PlanError(exc.message, path=where, hint=exc.hint) from exc


# --------------------------------------------------------------------------------------------
# Resolving one session


def deep_merge(base: Any, over: Any) -> Any:
    """`defaults` under a session: mappings merge key by key (session wins), the rest is
    replaced whole (a session's list of announcements replaces the default list)."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return over


@dataclass
class SessionInput:
    """One session of the file on its way to a Session: where it is, what it says."""

    index: int
    raw: Any
    defaults: dict[Any, Any]
    source: Source
    problems: Problems
    base_dir: Path

    def fail(
        self, where: PathT, message: str, hint: str | None = None, at_key: bool = False
    ) -> None:
        self.problems.add(self.source.error(self.index, where, message, hint, at_key=at_key))


def _split_sections(merged: Any, catalog: Catalog) -> tuple[Any, dict[str, Any]]:
    """(the session's own keys, its platform settings sections by platform name)."""
    if not isinstance(merged, dict):
        return merged, {}
    own: dict[Any, Any] = {}
    sections: dict[str, Any] = {}
    for key, value in merged.items():
        if isinstance(key, str) and key not in SessionSpec.model_fields and catalog.knows(key):
            sections[key] = value
        else:
            own[key] = value
    return own, sections


class DefaultsMemo:
    """Values of `defaults` as validated for an earlier session: a value every session takes
    from `defaults` unchanged (a list of a thousand quiet dates) is validated once."""

    def __init__(self, defaults: dict[Any, Any]) -> None:
        self.defaults = defaults
        self.validated: dict[str, Any] = {}

    def substitute(self, own: Any) -> Any:
        if not isinstance(own, dict) or not self.validated:
            return own
        return {
            key: self.validated[key]
            if key in self.validated and value is self.defaults.get(key)
            else value
            for key, value in own.items()
        }

    def remember(self, own: Any, spec: SessionSpec) -> None:
        if not isinstance(own, dict):
            return
        for key in SessionSpec.model_fields:
            taken = key in own and key in self.defaults and own[key] is self.defaults[key]
            if taken and key not in self.validated:
                self.validated[key] = getattr(spec, key)


def validate_session(
    given: SessionInput, catalog: Catalog, memo: DefaultsMemo
) -> tuple[SessionSpec, dict[str, Any]] | None:
    """The session's spec and platform sections; every problem of either is recorded (and
    None returned when the spec itself is invalid)."""
    merged = deep_merge(given.defaults, given.raw) if isinstance(given.raw, dict) else given.raw
    own, sections = _split_sections(merged, catalog)
    for name, section in sections.items():
        for where, message, hint, at_key in section_problems(name, section, catalog):
            given.fail(where, message, hint, at_key)
    try:
        spec = SessionSpec.model_validate(memo.substitute(own), context={"catalog": catalog})
    except ValidationError as exc:
        seen: set[tuple[Any, ...]] = set()
        for err in exc.errors():
            loc = tuple(err["loc"])
            if loc in seen:  # one problem per place (a union reports each of its branches)
                continue
            seen.add(loc)
            top_key = err["type"] == "extra_forbidden" and len(loc) == 1
            message, hint, at_key = explain(err, SessionSpec, catalog.names if top_key else ())
            given.fail(loc, message, hint, at_key)
        return None
    memo.remember(own, spec)
    return spec, sections


@dataclass
class _Texts:
    """Renders a session's texts, recording (not raising) what can't be rendered."""

    given: SessionInput
    values: dict[str, str | None]

    def render(self, template: str, where: PathT) -> str:
        try:
            return render(template, self.values)
        except TemplateError as exc:
            self.given.fail(where, exc.message, exc.hint)
            return template


def _resolve_start(given: SessionInput, spec: SessionSpec, tz: ZoneInfo) -> datetime:
    try:
        return to_instant(spec.start, tz, strict=True)
    except GapError:
        given.fail(
            ("start",),
            f"{spec.start:%Y-%m-%d %H:%M} does not exist in {tz.key} (the clocks skip it)",
            "pick a time outside the daylight-saving change",
        )
        return to_instant(spec.start, tz)


def _announcement_specs(given: SessionInput, spec: SessionSpec) -> list[AnnouncementSpec]:
    if spec.announcements is not None:
        return spec.announcements
    own = given.raw if isinstance(given.raw, dict) else {}
    if "announcements" in own or "announcements" in given.defaults:
        return []  # `announcements:` left empty on purpose
    return [AnnouncementSpec(at=parse_at(at)) for at in DEFAULT_ANNOUNCEMENTS]


def _default_announcement_text(at: datetime, start: datetime, tz: ZoneInfo) -> str:
    if at >= start:
        return DEFAULT_TEXTS["start"]
    day, start_day = at.astimezone(tz).date(), start.astimezone(tz).date()
    if day == start_day:
        return DEFAULT_TEXTS["day"]
    if day == start_day - timedelta(days=1):
        return DEFAULT_TEXTS["tomorrow"]
    return DEFAULT_TEXTS["ahead"]


def _announcements(
    given: SessionInput, spec: SessionSpec, facts: SessionFacts, texts: _Texts
) -> list[Announcement]:
    announcements: list[Announcement] = []
    used_keys: dict[str, int] = {}
    for i, item in enumerate(_announcement_specs(given, spec)):
        at = resolve_at(item.at, facts.start, facts.tz)
        offset = item.at.spec if isinstance(item.at, RelativeTime) else None
        base_key = "announcement:" + (
            offset or at.astimezone(facts.tz).isoformat(timespec="minutes")
        )
        used_keys[base_key] = used_keys.get(base_key, 0) + 1
        key = base_key if used_keys[base_key] == 1 else f"{base_key}~{used_keys[base_key]}"
        if item.text is not None and not item.text.strip():
            given.fail(
                ("announcements", i, "text"), "the text is empty", "remove `text:` for the default"
            )
        template = item.text or _default_announcement_text(at, facts.start, facts.tz)
        announcements.append(
            Announcement(
                at=at,
                text=texts.render(template, ("announcements", i, "text")),
                image=image_path(item.image, given.base_dir),
                key=key,
                template=template,
                offset=offset,
            )
        )
    return announcements


def _planned(item: PostSpec | None, name: str, texts: _Texts) -> PlannedPost | None:
    if item is None:
        return None
    if item.text is not None and not item.text.strip():
        return None  # `text: ""` switches the post off, like `false`
    template = item.text if item.text is not None else DEFAULT_TEXTS[name]
    return PlannedPost(
        text=texts.render(template, (name, "text")),
        image=image_path(item.image, texts.given.base_dir),
        template=template,
    )


def _session_id(spec: SessionSpec, facts: SessionFacts) -> str:
    day = facts.start.astimezone(facts.tz).date().isoformat()
    session_id = spec.id or f"{facts.hashtag[1:].lower()}-{day}"
    return session_id if SESSION_ID.fullmatch(session_id) else f"session-{day}"


def build_session(given: SessionInput, spec: SessionSpec, sections: dict[str, Any]) -> Session:
    """The resolved session; problems (a skipped wall time, a text that can't be rendered)
    are recorded in `given.problems`."""
    tzname = spec.timezone or local_timezone_name()
    tz = ZoneInfo(tzname)
    start = _resolve_start(given, spec, tz)
    title = spec.title if spec.title is not None else f"{spec.hashtag} live Q&A"
    facts = SessionFacts(spec.hashtag, title, start, tz, spec.duration, spec.account, spec.platform)
    texts = _Texts(given, placeholder_values(facts))
    settings = sections.get(spec.platform)
    settings_line = None
    if settings is not None:
        settings_line = given.source.locate(given.index, (spec.platform,))[2].key_line
    return Session(
        id=_session_id(spec, facts),
        title=title,
        platform=spec.platform,
        account=spec.account,
        hashtag=spec.hashtag,
        timezone=tzname,
        start=start,
        duration=spec.duration,
        announcements=_announcements(given, spec, facts, texts),
        opening=_planned(spec.opening, "opening", texts),
        closing=_planned(spec.closing, "closing", texts),
        after_party=_planned(spec.after_party, "after_party", texts),
        answers=spec.answers,
        moderation=spec.moderation,
        ranking=spec.ranking,
        sensitive_patterns=[LabelledPattern(p.pattern, p.label) for p in spec.sensitive_patterns],
        quiet_dates=list(spec.quiet_dates),
        crisis_plan=spec.crisis_plan,
        next=spec.next,
        platform_settings=dict(settings) if isinstance(settings, dict) else {},
        line=given.source.locate(given.index, ())[2].line,
        platform_settings_line=settings_line,
        team=tuple(spec.team),
        index=given.index,
        _source=given.source,
    )


def check_unique_ids(sessions: list[Session], source: Source, problems: Problems) -> None:
    """Each session id once in the plan (commands and the state name sessions by id)."""
    first: dict[str, Session] = {}
    for session in sessions:
        if session.id in first:
            problems.add(
                source.error(
                    session.index,
                    ("id",),
                    f"session id '{session.id}' is used twice "
                    f"(also on line {first[session.id].line})",
                    "give each session its own `id:`",
                )
            )
        else:
            first[session.id] = session


# --------------------------------------------------------------------------------------------
# Timeline


_KIND_ORDER: dict[str, int] = {"announcement": 0, "opening": 1, "closing": 2, "after_party": 3}


def timeline(session: Session) -> list[PlannedItem]:
    """Everything the plan posts for `session`, by time: announcements, the opening at the
    start, the closing at the end, the after-party line a minute later."""
    items = [
        PlannedItem(a.key, "announcement", a.at, a.text, a.image) for a in session.announcements
    ]
    posts: tuple[tuple[PlannedKind, PlannedPost | None, datetime], ...] = (
        ("opening", session.opening, session.start),
        ("closing", session.closing, session.end),
        ("after_party", session.after_party, session.end + timedelta(minutes=1)),
    )
    for kind, post, at in posts:
        if post is not None:
            items.append(PlannedItem(kind, kind, at, post.text, post.image))
    return sorted(items, key=lambda item: (item.at, _KIND_ORDER[item.kind]))
