"""Loading a plan: the file, its YAML, its top level, then every session; every problem of
the file is reported at once, sorted by line (a YAML syntax error stops at itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qasession.errors import PlanError
from qasession.plan.adapters import Catalog
from qasession.plan.errors import Problems, Source
from qasession.plan.limits import MAX_PLAN_BYTES, MAX_SESSIONS, MAX_VALUES
from qasession.plan.messages import PathT, clip, describe, suggest
from qasession.plan.models import SessionSpec
from qasession.plan.reading import decode_plan, read_plan_bytes
from qasession.plan.resolve import (
    DefaultsMemo,
    Plan,
    Session,
    SessionInput,
    build_session,
    check_unique_ids,
    validate_session,
)
from qasession.plan.yaml_marks import (
    bad_scalars,
    collect_marks,
    compose,
    construct,
    duplicate_keys,
    expanded_size,
)

_SESSION_KEYS_HINT = (
    "a session's keys go in a list under `sessions:`, e.g. `sessions:` then `  - hashtag: '#AskUs'`"
)


def load_plan(path: Path) -> Plan:
    """Read and validate a plan file. Every problem is a one-line `PlanError` with the file,
    line, column, field path and a hint (several at once: `PlanErrors`); nothing else
    escapes."""
    shown = str(path)
    return parse_plan(decode_plan(read_plan_bytes(Path(path)), shown), Path(path))


def parse_plan(text: str, path: Path = Path("sessions.yaml")) -> Plan:
    """`load_plan` on text already read; `path` names the file in errors and anchors
    relative image paths."""
    shown = str(path)
    if len(text) > MAX_PLAN_BYTES:  # characters: at least as many bytes
        raise PlanError(f"the plan is larger than {MAX_PLAN_BYTES:,} bytes", path=shown)
    try:
        return _parse(text, path)
    except RecursionError:
        raise PlanError("the plan is nested too deeply", path=shown, line=1) from None


def _document(text: str, shown: str, problems: Problems) -> tuple[Any, Source]:
    root = compose(text, shown)
    problems.extend(duplicate_keys(root, shown))
    if expanded_size(root) > MAX_VALUES:
        problems.stop(
            PlanError(
                f"the plan holds more than {MAX_VALUES:,} values once aliases are expanded",
                path=shown,
                line=1,
            )
        )
    try:
        document = construct(root, text, shown)
    except PlanError as stop:
        problems.stop(stop)
    problems.extend(bad_scalars(root, shown))
    return document, Source(shown, collect_marks(root), document, None)


def _top_level(document: Any, source: Source, catalog: Catalog, problems: Problems) -> None:
    """The top level holds `sessions:` and `defaults:`; other keys are recorded."""
    if not isinstance(document, dict):
        raise source.at(
            (),
            f"the plan must be a mapping with a `sessions:` list, got {describe(document)}",
            "start the file with `sessions:`",
        )
    for key in document:
        if key in ("sessions", "defaults"):
            continue
        if key in SessionSpec.model_fields or (isinstance(key, str) and catalog.knows(key)):
            message, hint = (
                f"'{clip(key)}' is a session key, not a top-level one",
                _SESSION_KEYS_HINT,
            )
        else:
            message = f"unknown key '{clip(key)}'"
            hint = (
                suggest(key, ("sessions", "defaults"))
                or "the top level holds `sessions:` and `defaults:`"
            )
        problems.add(source.at((key,), message, hint, at_key=True))


def _defaults(document: dict[Any, Any], source: Source, problems: Problems) -> dict[Any, Any]:
    defaults = document.get("defaults")
    if defaults is None:
        return {}
    if not isinstance(defaults, dict):
        problems.add(
            source.at(
                ("defaults",),
                f"expected a mapping of session keys, got {describe(defaults)}",
                "e.g. defaults: {platform: local, timezone: Europe/Paris}",
            )
        )
        return {}
    return defaults


def _sessions(document: dict[Any, Any], source: Source) -> list[Any]:
    """The list of sessions; a problem here makes every later check meaningless."""
    where: PathT = ("sessions",)
    if "sessions" not in document:
        raise source.at((), "missing `sessions:`", _SESSION_KEYS_HINT)
    sessions = document["sessions"]
    if isinstance(sessions, dict):
        raise source.at(
            where, "expected a list of sessions, got a mapping", "put '- ' before each session"
        )
    if not isinstance(sessions, list):
        raise source.at(where, f"expected a list of sessions, got {describe(sessions)}")
    if not sessions:
        raise source.at(where, "the plan has no sessions", "add one: `- hashtag: '#AskUs'`")
    if len(sessions) > MAX_SESSIONS:
        raise source.at(
            where,
            f"{len(sessions):,} sessions; a plan may hold at most {MAX_SESSIONS}",
            "split the series into several plan files",
        )
    return sessions


def _parse(text: str, path: Path) -> Plan:
    shown = str(path)
    problems = Problems(shown)
    document, source = _document(text, shown, problems)
    catalog = Catalog()
    try:
        _top_level(document, source, catalog, problems)
        defaults = _defaults(document, source, problems)
        sessions = _sessions(document, source)
    except PlanError as stop:
        problems.stop(stop)
    source.defaults = defaults
    resolved: list[Session] = []
    memo = DefaultsMemo(defaults)
    for index, raw in enumerate(sessions):
        given = SessionInput(index, raw, defaults, source, problems, path.parent)
        validated = validate_session(given, catalog, memo)
        if validated is not None:
            resolved.append(build_session(given, *validated))
    check_unique_ids(resolved, source, problems)
    problems.check()
    return Plan(path=path, sessions=resolved)
