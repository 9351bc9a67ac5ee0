"""The platforms by name, listed without importing their SDKs; only the one used is imported."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qasession.errors import ConfigError, PlanError

if TYPE_CHECKING:
    from qasession.clock import Clock
    from qasession.platforms.base import Capabilities, Platform

# name -> (module, class, the package that brings its SDK)
BUILTIN: dict[str, tuple[str, str, str | None]] = {
    "local": ("qasession.platforms.local", "LocalPlatform", None),
    "x": ("qasession.platforms.x", "XPlatform", "tweepy"),
    "mastodon": ("qasession.platforms.mastodon", "MastodonPlatform", "Mastodon.py"),
    "bluesky": ("qasession.platforms.bluesky", "BlueskyPlatform", "atproto"),
}


# `local:NAME`: a local platform standing in for NAME (its length rule and capabilities), for
# rehearsing a session on several platforms without accounts; "bsky" is Bluesky's short name.
STAND_IN_PREFIX = "local:"
STAND_IN_ALIASES: dict[str, str] = {"bsky": "bluesky"}
# how people call each platform in a post ("Q from a Bluesky user: ...")
LABELS: dict[str, str] = {"local": "local", "x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky"}


def stands_for(name: str) -> str | None:
    """The platform `local:NAME` stands in for (None when `name` is not a stand-in)."""
    if not name.startswith(STAND_IN_PREFIX):
        return None
    target = name[len(STAND_IN_PREFIX) :]
    target = STAND_IN_ALIASES.get(target, target)
    return target if target in BUILTIN and target != "local" else None


def base_platform(name: str) -> str:
    """The platform a source name is on, for people: `local:bsky` is (a rehearsal of) bluesky."""
    return stands_for(name) or name


def label(name: str) -> str:
    """The platform's name as people write it (X, Mastodon, Bluesky)."""
    base = base_platform(name)
    return LABELS.get(base, base)


def is_known(name: str) -> bool:
    """A built-in name, a stand-in (`local:x`) or a plug-in's."""
    return name in BUILTIN or stands_for(name) is not None or name in names()


def names() -> list[str]:
    """The known platform names (built in first, then plug-ins' entry points)."""
    known = list(BUILTIN)
    for name in _entry_points():
        if name not in known:
            known.append(name)
    return known


def available() -> list[str]:
    """The built-in platforms whose adapter ships with this version."""
    return [name for name, (module, *_) in BUILTIN.items() if _module_exists(module)]


def _module_exists(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def capabilities_for(name: str, settings: dict[str, Any] | None = None) -> Capabilities:
    """What the `name` adapter can do with a plan's `settings`, before connecting (its length
    limit and counting among them). Settings that do not validate give the class's own."""
    from pydantic import ValidationError

    cls = load_class(name)
    try:
        validated = cls.Settings.model_validate(settings or {})
    except ValidationError:
        return cls.CAPABILITIES
    return cls.capabilities_for(validated)


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="qasession.platforms")}


def load_class(name: str) -> type[Platform]:
    """Import the adapter class of `name`; an unknown name lists the known ones."""
    target = stands_for(name)
    if target is not None:
        from qasession.platforms.local import stand_in

        return stand_in(name, load_class(target))
    if name in BUILTIN:
        module_name, class_name, package = BUILTIN[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise ConfigError(
                    f"the {name} platform is not available in this version of qasession",
                    hint=f"available: {', '.join(available())}",
                ) from None
            raise ConfigError(
                f"the {name} platform needs the {package} package",
                hint=f"pip install '{package}'",
            ) from None
        cls: type[Platform] = getattr(module, class_name)
        return cls
    points = _entry_points()
    if name not in points:
        raise ConfigError(f"unknown platform {name!r}", hint=f"known: {', '.join(names())}")
    loaded: type[Platform] = points[name].load()
    return loaded


def create(
    name: str,
    settings: dict[str, Any] | None,
    *,
    home: Path,
    clock: Clock | None = None,
    account: str | None = None,
    source: str | None = None,
    settings_at: tuple[str, int | None] = ("sessions.yaml", None),
) -> Platform:
    """Build the adapter for a session; bad settings are plan errors pointing at where they
    were written, `settings_at` (the plan file, the line of the settings section)."""
    from pydantic import ValidationError

    cls = load_class(name)
    try:
        return cls(settings, home=home, clock=clock, account=account, source=source)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PlanError(
            first["msg"],
            path=settings_at[0],
            line=settings_at[1],
            field=f"{name}.{where}" if where else name,
            hint=f"see the {name} settings in the README",
        ) from None


def adapter_class(name: str) -> type[Platform] | None:
    """The adapter class of `name`, or None when this installation cannot load it (an
    archive's platform, a plug-in not installed): for what only asks the class."""
    from qasession.errors import QAError

    try:
        return load_class(name)
    except QAError:
        return None


def default_settings(cls: type[Platform], settings: dict[str, Any] | None) -> Any:
    """`settings` validated by the adapter's model, or its defaults when they do not validate."""
    from pydantic import ValidationError

    try:
        return cls.Settings.model_validate(settings or {})
    except ValidationError:
        return cls.Settings.model_validate({})
