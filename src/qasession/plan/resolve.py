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
    PLATFORM_ENTRY_KEYS,
    AnnouncementSpec,
    AnswerSettings,
    CrisisPlan,
    LabelledPattern,
    ModerationSettings,
    PlatformEntry,
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
    """A post of the timeline; `key` is its idempotency key in the outbox. On a session of
    several platforms each item is there once per platform (`platform`, its key `...@NAME`)."""

    key: str
    kind: PlannedKind
    at: datetime
    text: str
    image: str | None
    platform: str = ""  # the source it goes out on ("": the session's one platform)


@dataclass(frozen=True, slots=True)
class PlatformPlan:
    """One platform of a session written with `platforms:`: the source name (`x`, `local:bsky`),
    the host's account and the hashtag there, the adapter's settings, and the texts that
    replace the session's there (item key -> template: "opening", "announcement:-1d")."""

    name: str
    account: str | None
    hashtag: str
    settings: dict[str, Any]
    settings_line: int | None
    texts: dict[str, str] = field(default_factory=dict)


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
    # the platforms of a session written with `platforms:` (empty: the one `platform:`)
    platforms: tuple[PlatformPlan, ...] = ()

    @property
    def multi(self) -> bool:
        """Whether the session names its platforms with `platforms:` (its planned posts go out
        once per platform, keyed by platform)."""
        return bool(self.platforms)

    @property
    def platform_names(self) -> list[str]:
        return [p.name for p in self.platforms] if self.platforms else [self.platform]

    def views(self) -> list[Session]:
        """The session as seen on each of its platforms (itself when it has one)."""
        return [self.on(p.name) for p in self.platforms] if self.platforms else [self]

    def on(self, name: str) -> Session:
        """The session on its platform `name`: that platform's account, hashtag, settings and
        texts (`{hashtag}`, `{account}` and `{platform}` filled for it), as a one-platform
        session; the session itself when it has one platform."""
        if not self.platforms:
            return self
        found = next((p for p in self.platforms if p.name == name), None)
        if found is None:
            raise UsageError(
                f"session {self.id} has no platform {name!r}",
                hint="its platforms: " + ", ".join(self.platform_names),
            )
        view = dataclasses.replace(
            self,
            platform=found.name,
            account=found.account,
            hashtag=found.hashtag,
            platform_settings=found.settings,
            platform_settings_line=found.settings_line,
            platforms=(),
        )
        values = placeholder_values(view.facts)

        def post(item: PlannedPost | None, key: str) -> PlannedPost | None:
            if item is None:
                return None
            template = found.texts.get(key, item.template)
            return dataclasses.replace(item, text=render(template, values), template=template)

        return dataclasses.replace(
            view,
            announcements=[
                dataclasses.replace(
                    a,
                    text=render(found.texts.get(a.key, a.template), values),
                    template=found.texts.get(a.key, a.template),
                )
                for a in self.announcements
            ],
            opening=post(self.opening, "opening"),
            closing=post(self.closing, "closing"),
            after_party=post(self.after_party, "after_party"),
        )

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
    # `platforms:` as validated: name -> (its entry, the adapter's settings)
    platforms: dict[str, tuple[PlatformEntry, dict[str, Any]]] | None = None

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
    if isinstance(own, dict) and "platforms" in own:
        own = dict(own)
        given.platforms = _validate_platforms(given, own.pop("platforms"), own, sections, catalog)
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


_PLATFORMS_HINT = (
    "e.g. platforms: {x: {account: '@acme'}, bluesky: {account: '@acme.com'}}; "
    "see the README's 'Several platforms'"
)


def _validate_platforms(
    given: SessionInput,
    value: Any,
    own: dict[Any, Any],
    sections: dict[str, Any],
    catalog: Catalog,
) -> dict[str, tuple[PlatformEntry, dict[str, Any]]] | None:
    """`platforms:` checked: a mapping of known platform names, each with its entry and its
    adapter's settings; every problem recorded with where it is."""
    where: PathT = ("platforms",)
    if not isinstance(value, dict) or not value:
        given.fail(where, "expected a mapping of platform names to their settings", _PLATFORMS_HINT)
        return None
    raw_own = given.raw if isinstance(given.raw, dict) else {}
    if "platform" in raw_own:
        given.fail(
            ("platform",),
            "give either `platform:` (one platform) or `platforms:` (several), not both",
            "remove `platform:`",
            at_key=True,
        )
    own.pop("platform", None)  # a default `platform:` gives way to the session's `platforms:`
    for name in sections:
        given.fail(
            (name,),
            f"with `platforms:` the {name} settings go under `platforms: {{{name}: ...}}`",
            at_key=True,
        )
    found: dict[str, tuple[PlatformEntry, dict[str, Any]]] = {}
    for name, entry in value.items():
        checked = _validate_platform(given, name, entry, catalog)
        if checked is not None:
            found[str(name)] = checked
    return found if len(found) == len(value) else None


def _validate_platform(
    given: SessionInput, name: Any, entry: Any, catalog: Catalog
) -> tuple[PlatformEntry, dict[str, Any]] | None:
    where: PathT = ("platforms", name)
    if not isinstance(name, str) or not catalog.knows(name):
        known = [n for n in catalog.names] + ["local:x", "local:bsky", "local:mastodon"]
        maybe = suggest(str(name), known) if isinstance(name, str) else None
        given.fail(
            where,
            f"unknown platform '{clip(name)}'; known: {', '.join(known)}",
            maybe or "a plug-in adapter must be installed to be named",
            at_key=True,
        )
        return None
    if entry is None:
        entry = {}
    if not isinstance(entry, dict):
        given.fail(
            where,
            f"expected the {name} settings as a mapping (key: value), got {type(entry).__name__}",
            "e.g. " + name + ": {account: '@acme'}",
        )
        return None
    mine = {k: v for k, v in entry.items() if k in PLATFORM_ENTRY_KEYS}
    settings = {k: v for k, v in entry.items() if k not in PLATFORM_ENTRY_KEYS}
    ok = True
    for path, message, hint, at_key in section_problems(name, settings, catalog):
        given.fail(("platforms", *path), message, hint, at_key)
        ok = False
    try:
        spec = PlatformEntry.model_validate(mine)
    except ValidationError as exc:
        for err in exc.errors():
            message, hint, at_key = explain(err, PlatformEntry)
            given.fail((*where, *err["loc"]), message, hint, at_key)
        return None
    return (spec, settings) if ok else None


def _platform_plans(
    given: SessionInput, spec: SessionSpec, facts: SessionFacts, session: Session
) -> tuple[PlatformPlan, ...]:
    """The resolved platforms of a session written with `platforms:`; per-platform texts are
    rendered once here so that a bad one is reported with its line."""
    if not given.platforms:
        return ()
    plans = []
    keys = {a.offset: a.key for a in session.announcements if a.offset}
    keys.update({a.key.split(":", 1)[1]: a.key for a in session.announcements})
    for name, (entry, settings) in given.platforms.items():
        texts: dict[str, str] = {}
        for kind in ("opening", "closing", "after_party"):
            text = getattr(entry, kind)
            if text is not None:
                texts[kind] = text
        for at, text in entry.announcements.items():
            key = keys.get(str(at).strip())
            if key is None:
                given.fail(
                    ("platforms", name, "announcements", at),
                    f"the session has no announcement at {clip(at)}",
                    "its announcements: " + (", ".join(k for k in keys if k) or "none"),
                    at_key=True,
                )
                continue
            texts[key] = text
        plan = PlatformPlan(
            name=name,
            account=entry.account or spec.account,
            hashtag=entry.hashtag or spec.hashtag,
            settings=settings,
            settings_line=given.source.locate(given.index, ("platforms", name))[2].key_line,
            texts=texts,
        )
        values = placeholder_values(
            facts._replace(hashtag=plan.hashtag, account=plan.account, platform=name)
        )
        _check_platform_texts(given, session, plan, values)
        plans.append(plan)
    return tuple(plans)


def _check_platform_texts(
    given: SessionInput, session: Session, plan: PlatformPlan, values: dict[str, str | None]
) -> None:
    """Every text as it goes out on `plan`'s platform can be rendered there: its own texts
    where it has them, the session's elsewhere (`{account}` needs an account there)."""
    templates: list[tuple[str, str]] = [(a.key, a.template) for a in session.announcements]
    for kind in ("opening", "closing", "after_party"):
        post = getattr(session, kind)
        if post is not None:
            templates.append((kind, post.template))
    for key, base in templates:
        template = plan.texts.get(key, base)
        try:
            render(template, values)
        except TemplateError as exc:
            path: PathT = ("platforms", plan.name)
            if key in plan.texts:
                at = key.split(":", 1)[1] if key.startswith("announcement:") else None
                path = (*path, key) if at is None else (*path, "announcements", at)
            given.fail(path, f"on {plan.name}: {exc.message}", exc.hint)


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
    if given.platforms:  # the session's texts as on its first platform (each is checked after)
        name, (entry, _) = next(iter(given.platforms.items()))
        facts = facts._replace(
            hashtag=entry.hashtag or spec.hashtag,
            account=entry.account or spec.account,
            platform=name,
        )
    texts = _Texts(given, placeholder_values(facts))
    settings = sections.get(spec.platform)
    settings_line = None
    if settings is not None:
        settings_line = given.source.locate(given.index, (spec.platform,))[2].key_line
    session = Session(
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
    platforms = _platform_plans(given, spec, facts, session)
    if not platforms:
        return session
    first = platforms[0]
    return dataclasses.replace(
        session,
        platform=first.name,
        account=first.account,
        platform_settings=first.settings,
        platform_settings_line=first.settings_line,
        platforms=platforms,
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
    start, the closing at the end, the after-party line a minute later. A session on several
    platforms posts each once per platform, with that platform's texts."""
    if session.platforms:
        order = {name: i for i, name in enumerate(session.platform_names)}
        items = [
            dataclasses.replace(item, key=f"{item.key}@{view.platform}", platform=view.platform)
            for view in session.views()
            for item in timeline(view)
        ]
        return sorted(items, key=lambda i: (i.at, _KIND_ORDER[i.kind], order[i.platform]))
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
