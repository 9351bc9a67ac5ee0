"""Turning one Pydantic validation error into a message a host can act on, with a hint."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from datetime import date
from typing import Any, cast, get_args

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from qasession.plan.messages import clip, describe, suggest

# (message, hint, whether the error points at the key rather than the value)
Explained = tuple[str, str | None, bool]

_FIELD_HINTS: dict[str, str] = {
    "hashtag": "e.g. hashtag: '#AskAcme'",
    "start": "e.g. start: 2026-12-03 18:00",
    "at": "e.g. at: -1d",
    "date": "e.g. date: 2026-12-01",
    "pattern": "e.g. pattern: 'CUST-\\d{6}'",
}


def model_keys_at(model: type[BaseModel], loc: Iterable[Hashable]) -> list[str] | None:
    """The keys allowed where `loc` points inside `model` (for "did you mean")."""
    for part in loc:
        if not isinstance(part, str):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        sub = _find_model(info.annotation)
        if sub is None:
            return None
        model = sub
    return list(model.model_fields)


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _unknown_key(err: ErrorDetails, model: type[BaseModel], extra_keys: Iterable[str]) -> Explained:
    loc = tuple(err["loc"])
    name = loc[-1] if loc else ""
    allowed = model_keys_at(model, loc[:-1]) or []
    if len(loc) == 1:
        allowed = [*allowed, *extra_keys]
    hint = suggest(name, allowed)
    if hint is None and allowed:
        hint = "known keys: " + ", ".join(allowed)
    return f"unknown key '{clip(name)}'", hint, True


def _literal(err: ErrorDetails) -> Explained:
    ctx = err.get("ctx") or {}
    value = err.get("input")
    choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
    got = f"'{clip(value)}'" if isinstance(value, str) else describe(value)
    hint = suggest(value, choices) if isinstance(value, str) else None
    return f"expected one of {', '.join(choices)}; got {got}", hint, False


def _got(expected: str, hint: str | None = None) -> Callable[[ErrorDetails], Explained]:
    def explain_one(err: ErrorDetails) -> Explained:
        return f"expected {expected}, got {describe(err.get('input'))}", hint, False

    return explain_one


def _missing(err: ErrorDetails) -> Explained:
    loc = tuple(err["loc"])
    name = loc[-1] if loc else ""
    return f"missing required key '{clip(name)}'", _FIELD_HINTS.get(str(name)), False


def _plan(err: ErrorDetails) -> Explained:
    ctx = err.get("ctx") or {}
    return str(ctx.get("message")), cast("str | None", ctx.get("hint")), False


def _pydantic_words(err: ErrorDetails) -> Explained:
    message = err["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:], None, False


def _bound(word: str, key: str) -> Callable[[ErrorDetails], Explained]:
    def explain_one(err: ErrorDetails) -> Explained:
        limit = (err.get("ctx") or {}).get(key)
        value = err.get("input")
        if isinstance(value, date) or isinstance(limit, date):
            later = "later" if key.startswith("g") else "earlier"
            return f"expected a date of {limit} or {later}, got {describe(value)}", None, False
        return f"expected a number {word} {limit}, got {describe(value)}", None, False

    return explain_one


_MAPPING = _got("a mapping (key: value lines)")
_LIST = _got("a list", "write [a, b] or one '- item' per line")
_BY_TYPE: dict[str, Callable[[ErrorDetails], Explained]] = {
    "plan": _plan,
    "missing": _missing,
    "literal_error": _literal,
    "invalid_key": lambda err: (
        f"a key must be text, got {describe(err.get('input'))}",
        None,
        True,
    ),
    "model_type": _MAPPING,
    "dict_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "dataclass_type": _MAPPING,
    "list_type": _LIST,
    "tuple_type": _LIST,
    "iterable_type": _LIST,
    "string_type": _got("text", "put it in quotes"),
    "finite_number": _got("a finite number"),
    "greater_than_equal": _bound("of at least", "ge"),
    "greater_than": _bound("above", "gt"),
    "less_than_equal": _bound("of at most", "le"),
    "less_than": _bound("below", "lt"),
}
# Families of Pydantic error types, by prefix.
_BY_PREFIX: tuple[tuple[str, Callable[[ErrorDetails], Explained]], ...] = (
    ("string_", _pydantic_words),
    ("bool", _got("true or false")),
    ("int", _got("a whole number")),
    ("float", _got("a number")),
    ("date", _got("a date", "write it like 2026-12-01")),
)


def explain(err: ErrorDetails, model: type[BaseModel], extra_keys: Iterable[str] = ()) -> Explained:
    """(message, hint, points at the key) for one Pydantic error of validating `model`;
    `extra_keys` are keys also allowed at the top of it (platform settings sections)."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return _unknown_key(err, model, extra_keys)
    handler = _BY_TYPE.get(kind)
    if handler is None:
        handler = next((h for prefix, h in _BY_PREFIX if kind.startswith(prefix)), _pydantic_words)
    return handler(err)
