"""The plan's `platform:` and each platform's settings section, checked against the registry:
built-in adapters and those registered under the `qasession.platforms` entry point."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationInfo

from qasession.errors import QAError
from qasession.plan.messages import clip, describe, invalid, suggest


def platform_names() -> list[str]:
    """Every platform a plan may name (built-ins first), without importing the adapters."""
    from qasession.platforms import registry

    return registry.names()


def _builtin_names() -> frozenset[str]:
    from qasession.platforms import registry

    return frozenset(getattr(registry, "BUILTIN", ()))


class Catalog:
    """The platforms known while one plan is read: built-in names at once, the plug-ins'
    entry points listed only when a name is not a built-in one (listing them reads every
    installed package's metadata), settings models imported once per platform."""

    def __init__(self, names: list[str] | None = None) -> None:
        self._names = list(names) if names is not None else None
        self._builtin = _builtin_names()
        self._models: dict[str, type[BaseModel] | None] = {}

    @property
    def names(self) -> list[str]:
        """Every known platform name, built-ins first."""
        if self._names is None:
            self._names = platform_names()
        return self._names

    def knows(self, name: str) -> bool:
        from qasession.platforms.registry import stands_for

        return name in self._builtin or stands_for(name) is not None or name in self.names

    def settings_model(self, name: str) -> type[BaseModel] | None:
        """The adapter's `Settings` model, or None when the adapter can't be imported here
        (its SDK is missing, or it is not in this version: `qa plan` says so as a lint)."""
        if name not in self._models:
            self._models[name] = _load_settings_model(name)
        return self._models[name]


def _load_settings_model(name: str) -> type[BaseModel] | None:
    from qasession.platforms import registry

    try:
        cls = registry.load_class(name)
    except (QAError, ImportError, AttributeError):
        return None
    model = getattr(cls, "Settings", None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model
    return None


def check_platform(value: object, info: ValidationInfo) -> str:
    """`platform:` names a registered platform; the error lists the known ones."""
    context = info.context if isinstance(info.context, dict) else {}
    found = context.get("catalog")
    catalog = found if isinstance(found, Catalog) else Catalog()
    name = value.strip() if isinstance(value, str) else None
    if name is not None and catalog.knows(name):
        return name
    known = catalog.names
    listing = "known: " + ", ".join(known)
    if name is None:
        raise invalid(f"expected a platform name, got {describe(value)}", listing)
    if name.lower() in known:
        hint = f"names are lowercase: '{name.lower()}'"
    elif name.lower() == "twitter":
        hint = "X/Twitter is 'x'"
    else:
        hint = suggest(name, known) or "a plug-in adapter must be installed to be named"
    raise invalid(f"unknown platform '{clip(value)}'; {listing}", hint)


SectionProblem = tuple[tuple[Any, ...], str, str | None, bool]


def section_problems(name: str, value: object, catalog: Catalog) -> list[SectionProblem]:
    """What is wrong with the settings section `name:` of a session, as (path inside the
    session, message, hint, points at the key) — validated by the adapter's own model."""
    from pydantic import ValidationError

    from qasession.plan.explain import explain

    if value is None:
        value = {}
    if not isinstance(value, dict):
        return [
            (
                (name,),
                f"expected a mapping (key: value lines), got {describe(value)}",
                f"the {name} platform's settings go under `{name}:`, one per line",
                False,
            )
        ]
    model = catalog.settings_model(name)
    if model is None:
        return []
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return [((name, *err["loc"]), *explain(err, model)) for err in exc.errors()]
    return []
