"""The plan file (`sessions.yaml`): read it, validate it, resolve it, lint it.

Where things happen:
- `reading`: the file from disk, within limits (size, special files, UTF-8);
- `yaml_marks`: YAML with file:line marks, duplicate keys, invalid characters, YAML's errors;
- `values`: one value at a time (times, durations, offsets, hashtags, handles, ids, zones);
- `models`: the Pydantic models of what the user writes; `adapters`: `platform:` and each
  platform's settings section, against the platform registry;
- `explain`, `errors`: validation errors as one-line file:line messages, all at once;
- `resolve`: Session, Plan, the timeline; `texts`: default texts and placeholders;
- `load`: the whole of it, from a path to a Plan; `limits`: what a plan may hold;
- `lints`: the product's rules as warnings; `template`: what `qa init` writes;
- `comms`: the calendar, blog and e-mail texts of a session.

Names are imported on first use (PEP 562), like `qasession.triage`'s: a command that only
loads the plan does not pay for the lints or the `qa init` template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qasession.lazy import lazy_attributes

if TYPE_CHECKING:
    from qasession.plan.adapters import platform_names
    from qasession.plan.errors import PlanErrors
    from qasession.plan.lints import (
        HASHTAG_MAX,
        NIGHT_END,
        NIGHT_START,
        QUIET_MARGIN,
        CapabilitiesFor,
        LengthRules,
        Lint,
        default_capabilities,
        lint_plan,
    )
    from qasession.plan.load import load_plan, parse_plan
    from qasession.plan.models import (
        AnnouncementSpec,
        AnswerSettings,
        CrisisPlan,
        Handle,
        LabelledPattern,
        ModerationSettings,
        PostSpec,
        QuietDate,
        RankingWeights,
        SensitivePatternSpec,
        SessionSpec,
        ranking_defaults,
    )
    from qasession.plan.resolve import (
        DEFAULT_ANNOUNCEMENTS,
        Announcement,
        Plan,
        PlannedItem,
        PlannedKind,
        PlannedPost,
        Session,
        placeholders,
        render_text,
        timeline,
    )
    from qasession.plan.template import INIT_TEMPLATE, render_init
    from qasession.plan.texts import DEFAULT_TEXTS, PLACEHOLDERS, human_duration
    from qasession.plan.values import (
        RelativeTime,
        local_timezone_name,
        normalize_handle,
        normalize_hashtag,
    )

_HOMES = {
    "adapters": ("platform_names",),
    "errors": ("PlanErrors",),
    "lints": (
        "HASHTAG_MAX", "NIGHT_END", "NIGHT_START", "QUIET_MARGIN", "CapabilitiesFor",
        "LengthRules", "Lint", "default_capabilities", "lint_plan",
    ),
    "load": ("load_plan", "parse_plan"),
    "models": (
        "AnnouncementSpec", "AnswerSettings", "CrisisPlan", "Handle", "LabelledPattern",
        "ModerationSettings", "PostSpec", "QuietDate", "RankingWeights", "SensitivePatternSpec",
        "SessionSpec", "ranking_defaults",
    ),
    "resolve": (
        "DEFAULT_ANNOUNCEMENTS", "Announcement", "Plan", "PlannedItem", "PlannedKind",
        "PlannedPost", "Session", "placeholders", "render_text", "timeline",
    ),
    "template": ("INIT_TEMPLATE", "render_init"),
    "texts": ("DEFAULT_TEXTS", "PLACEHOLDERS", "human_duration"),
    "values": ("RelativeTime", "local_timezone_name", "normalize_handle", "normalize_hashtag"),
}  # fmt: skip
__getattr__ = lazy_attributes(__name__, _HOMES, globals())


__all__ = [
    "DEFAULT_ANNOUNCEMENTS",
    "DEFAULT_TEXTS",
    "HASHTAG_MAX",
    "INIT_TEMPLATE",
    "NIGHT_END",
    "NIGHT_START",
    "PLACEHOLDERS",
    "QUIET_MARGIN",
    "Announcement",
    "AnnouncementSpec",
    "AnswerSettings",
    "CapabilitiesFor",
    "CrisisPlan",
    "Handle",
    "LabelledPattern",
    "LengthRules",
    "Lint",
    "ModerationSettings",
    "Plan",
    "PlanErrors",
    "PlannedItem",
    "PlannedKind",
    "PlannedPost",
    "PostSpec",
    "QuietDate",
    "RankingWeights",
    "RelativeTime",
    "SensitivePatternSpec",
    "Session",
    "SessionSpec",
    "default_capabilities",
    "human_duration",
    "lint_plan",
    "load_plan",
    "local_timezone_name",
    "normalize_handle",
    "normalize_hashtag",
    "parse_plan",
    "placeholders",
    "platform_names",
    "ranking_defaults",
    "render_init",
    "render_text",
    "timeline",
]
