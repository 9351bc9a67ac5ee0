"""The Pydantic models of what the user writes in the plan; unknown keys refused everywhere.

Platform settings sections (`local:`, `x:`, a plug-in's own name) are not fields here: they
are split off first and validated by each adapter's own `Settings` model (see adapters.py).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date as _date
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    PlainValidator,
    create_model,
    model_validator,
)

from qasession.plan.adapters import check_platform
from qasession.plan.limits import (
    MAX_ANNOUNCEMENTS,
    MAX_LIST,
    MAX_PATTERNS,
    MAX_QUIET_DATES,
    MAX_YEAR,
    MIN_YEAR,
)
from qasession.plan.messages import clip, invalid
from qasession.plan.values import (
    RelativeTime,
    check_id,
    check_image_path,
    check_regex,
    check_timezone,
    normalize_handle,
    parse_at,
    parse_duration,
    parse_hashtag,
    parse_start,
    pattern_shorthand,
    post_shorthand,
    quiet_shorthands,
)
from qasession.triage import Weights


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def at_most(limit: int, what: str) -> BeforeValidator:
    """A cap on a list, checked before its items are (so a huge list costs nothing)."""

    def check(value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) > limit:
            raise invalid(
                f"{len(value):,} {what}; a plan may hold at most {limit:,}",
                "see the limits in the README's plan section",
            )
        return value

    return BeforeValidator(check)


Handle = Annotated[str, AfterValidator(normalize_handle)]
Handles = Annotated[list[Handle], at_most(MAX_LIST, "handles")]
ImagePath = Annotated[str, AfterValidator(check_image_path)]


class AnswerSettings(_Strict):
    """How answers go out: `dot` (a ".@user" post), `reply`, `quote` or `dm`."""

    mode: Literal["dot", "reply", "quote", "dm"] = "dot"
    repost_first: bool = True
    append_hashtag: bool = True
    target: int = Field(default=12, ge=1, le=10_000)
    # When an answer goes out in private, tell the asker publicly that it did.
    dm_notice: bool = True
    # Team mode: answers wait as drafts until a host or an approver approves them; with
    # `approve_planned`, so do the planned posts (announcements, opening, closing, after-party).
    approval: bool = False
    approve_planned: bool = False


Role = Literal["host", "moderator", "approver"]
ROLES: tuple[Role, ...] = ("host", "moderator", "approver")


def _one_or_more(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _check_actor(value: str) -> str:
    name = value.strip()
    if not ACTOR_NAME.fullmatch(name):
        raise invalid(
            f"'{name[:40]}' is not a team member's name",
            "use what `--as NAME` or the user's login gives: letters, digits, . _ - @",
        )
    return name


ACTOR_NAME = re.compile(r"[\w.@-]{1,64}")


class TeamMember(_Strict):
    """One person of the team running a session, and what they may do."""

    name: Annotated[str, AfterValidator(_check_actor)]
    role: Annotated[list[Role], BeforeValidator(_one_or_more), Field(min_length=1)]


def _unique_members(members: list[TeamMember]) -> list[TeamMember]:
    seen: set[str] = set()
    for member in members:
        key = member.name.lower()
        if key in seen:
            raise invalid(
                f"'{member.name}' is listed twice in the team",
                "list each person once, with every role: role: [moderator, approver]",
            )
        seen.add(key)
    return members


class ModerationSettings(_Strict):
    """Who and what is kept out of the queue."""

    muted: Handles = Field(default_factory=list)
    blocked: Handles = Field(default_factory=list)
    blocked_words: Annotated[list[str], at_most(MAX_LIST, "words")] = Field(default_factory=list)
    # Posts per minute from one author beyond which they are flagged as flooding.
    flood_limit: int = Field(default=5, ge=1, le=10_000)


# -- ranking: the plan's names for the fields of the ranking's own Weights ------------------

# The plan spells `age_per_minute` as `age` (both are accepted).
_PLAN_NAMES: dict[str, str] = {"age_per_minute": "age"}


def _platform_weights(value: object) -> object:
    if isinstance(value, dict):
        for name, weight in value.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise invalid(
                    f"the weight of platform '{clip(name)}' must be a number above 0",
                    "e.g. platform: {bluesky: 1.2} (1 is neutral)",
                )
    return value


class _RankingBase(_Strict):
    """Weights of the queue's score, with the ranking's own defaults (`triage.Weights`)."""

    # a platform's factor on the engagement of its questions (likes, reposts, duplicates)
    platform: Annotated[dict[str, FiniteFloat], BeforeValidator(_platform_weights)] = Field(
        default_factory=dict
    )

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field_name, plan_name in _PLAN_NAMES.items():
                if field_name in data and plan_name in data:
                    raise invalid(
                        f"'{plan_name}' and '{field_name}' are the same weight",
                        f"keep '{plan_name}'",
                    )
        return data

    def weights(self) -> Weights:
        """The ranking's Weights with these values."""
        return Weights(
            **{f.name: getattr(self, _PLAN_NAMES.get(f.name, f.name)) for f in _WEIGHT_FIELDS}
        )


_WEIGHT_FIELDS = dataclasses.fields(Weights)


def _default(weight: dataclasses.Field[Any]) -> float:
    value = weight.default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"the ranking weight {weight.name} has no numeric default")
    return float(value)


def _ranking_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for f in _WEIGHT_FIELDS:
        name = _PLAN_NAMES.get(f.name, f.name)
        alias = AliasChoices(name, f.name) if name != f.name else None
        fields[name] = (FiniteFloat, Field(default=_default(f), validation_alias=alias))
    return fields


def ranking_defaults() -> dict[str, float]:
    """Every weight the plan accepts, by its plan name, with its default."""
    return {_PLAN_NAMES.get(f.name, f.name): _default(f) for f in _WEIGHT_FIELDS}


if TYPE_CHECKING:
    RankingWeights = _RankingBase
else:
    RankingWeights = create_model(
        "RankingWeights",
        __base__=_RankingBase,
        __module__=__name__,
        **_ranking_fields(),
    )


# -- the rest of a session ----------------------------------------------------------------


class QuietDate(_Strict):
    """A day to keep clear (an announcement, an incident), with why."""

    # bounds checked by Pydantic itself: a plan may list a thousand quiet dates per session
    date: Annotated[_date, Field(ge=_date(MIN_YEAR, 1, 1), le=_date(MAX_YEAR, 12, 31))]
    note: str = ""


class CrisisPlan(_Strict):
    """Who moderates if a session turns hostile, and what to post first."""

    moderator: Handle | None = None
    holding_statement: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.moderator and self.holding_statement and self.holding_statement.strip())


class PostSpec(_Strict):
    """A planned post as written: text (default when absent) and an optional image."""

    text: str | None = None
    image: ImagePath | None = None


class AnnouncementSpec(_Strict):
    at: Annotated[RelativeTime | datetime, PlainValidator(parse_at)]
    text: str | None = None
    image: ImagePath | None = None


def _check_label(value: str) -> str:
    label = value.strip()
    if not label or len(label) > 60:
        raise invalid(
            "a label names what the pattern finds, in 1 to 60 characters",
            'e.g. label: "contract number"',
        )
    return label


class SensitivePatternSpec(_Strict):
    """An extra pattern of private data, and the name of what it finds (the masked text
    says `[contract number removed]`)."""

    pattern: Annotated[str, AfterValidator(check_regex)]
    label: Annotated[str, AfterValidator(_check_label)] = "private data"


class LabelledPattern(NamedTuple):
    """A sensitive pattern as the triage takes it: (regular expression, label)."""

    pattern: str
    label: str


PostField = Annotated[PostSpec | None, BeforeValidator(post_shorthand)]


def _text_only(value: object) -> object:
    """A per-platform text: `opening: "..."` or `opening: {text: "..."}`."""
    if isinstance(value, dict) and set(value) == {"text"}:
        return value["text"]
    return value


PlatformText = Annotated[str | None, BeforeValidator(_text_only)]


class PlatformEntry(_Strict):
    """What `platforms: {NAME: {...}}` says of one platform besides its adapter's own settings:
    the host's account there, its own hashtag, and texts that replace the session's there
    (`announcements` by their `at:` as written, e.g. `-1d`)."""

    account: Handle | None = None
    hashtag: Annotated[str, PlainValidator(parse_hashtag)] | None = None
    opening: PlatformText = None
    closing: PlatformText = None
    after_party: PlatformText = None
    announcements: Annotated[
        dict[str, Annotated[str, BeforeValidator(_text_only)]],
        at_most(MAX_ANNOUNCEMENTS, "announcement texts"),
    ] = Field(default_factory=dict)


# the keys of a `platforms:` entry that are not the adapter's settings
PLATFORM_ENTRY_KEYS = frozenset(PlatformEntry.model_fields)


class SessionSpec(_Strict):
    """One session as written in the file (after `defaults` are merged in, and its platform
    settings sections split off)."""

    id: Annotated[str, AfterValidator(check_id)] | None = None
    title: str | None = None
    platform: Annotated[str, PlainValidator(check_platform)] = "local"
    account: Handle | None = None
    hashtag: Annotated[str, PlainValidator(parse_hashtag)]
    timezone: Annotated[str, AfterValidator(check_timezone)] | None = None
    start: Annotated[datetime, PlainValidator(parse_start)]
    duration: Annotated[timedelta, PlainValidator(parse_duration)] = timedelta(minutes=60)
    announcements: Annotated[
        list[AnnouncementSpec] | None, at_most(MAX_ANNOUNCEMENTS, "announcements")
    ] = None
    opening: PostField = Field(default_factory=PostSpec)
    closing: PostField = Field(default_factory=PostSpec)
    after_party: PostField = Field(default_factory=PostSpec)
    answers: AnswerSettings = Field(default_factory=AnswerSettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    ranking: RankingWeights = Field(default_factory=RankingWeights)
    sensitive_patterns: Annotated[
        list[Annotated[SensitivePatternSpec, BeforeValidator(pattern_shorthand)]],
        at_most(MAX_PATTERNS, "sensitive patterns"),
    ] = Field(default_factory=list)
    quiet_dates: Annotated[
        list[QuietDate],
        BeforeValidator(quiet_shorthands),
        at_most(MAX_QUIET_DATES, "quiet dates"),
    ] = Field(default_factory=list)
    crisis_plan: CrisisPlan | None = None
    next: str | None = None
    team: Annotated[
        list[TeamMember], at_most(MAX_LIST, "team members"), AfterValidator(_unique_members)
    ] = Field(default_factory=list)
