"""What a platform can do in a session, and the host's handle there: as the connected adapter
reported them (stored by the live loop), else as the plan gives them.

A light module: `qa plan` needs the capabilities (lengths, limits) without the operator's
commands of `session.control`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import TYPE_CHECKING

from qasession.platforms.base import Capabilities

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.store import Store


def capabilities_of(session: Session, store: Store | None, platform: str) -> Capabilities:
    """The capabilities of `platform` in this session: as the connected adapter reported them
    (stored by the live loop: a Mastodon instance's own limit), else as the plan's settings
    give them before connecting."""
    if store is not None:
        row = store.source_row(session.id, platform)
        if row and row.get("capabilities"):
            try:
                data = json.loads(row["capabilities"])
                known = {f.name for f in fields(Capabilities)}
                return Capabilities(**{k: v for k, v in data.items() if k in known})
            except (ValueError, TypeError):
                pass
    from qasession.platforms import registry

    if session.multi and platform in session.platform_names:
        session = session.on(platform)
    registered = registry.is_known(platform)  # a built-in name without reading entry points
    adapter = platform if registered else platform.split(":", 1)[0]
    return registry.capabilities_for(adapter, session.platform_settings)


def capabilities_json(capabilities: Capabilities) -> str:
    return json.dumps(asdict(capabilities))


def host_of(session: Session, store: Store | None, platform: str) -> str | None:
    """The host's handle on `platform`: as the platform said, else as the plan says."""
    if store is not None:
        row = store.source_row(session.id, platform)
        if row and row.get("account"):
            return str(row["account"])
    if session.multi and platform in session.platform_names:
        return session.on(platform).account
    return session.account
