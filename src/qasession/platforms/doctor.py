"""`qa doctor` checks: for each platform the plan uses, credentials, identity and rate budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qasession.errors import AuthError, ExitCode, PlanError, QAError


@dataclass(slots=True)
class Check:
    platform: str
    name: str
    ok: bool
    detail: str
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "check": self.name,
            "ok": self.ok,
            "detail": self.detail,
        }


def check_platform(
    name: str, settings: dict[str, Any], home: Path, account: str | None
) -> list[Check]:
    """Create the adapter (credentials, settings), ask who we are, read the rate budget."""
    from qasession.platforms import registry

    checks: list[Check] = []
    try:
        platform = registry.create(name, settings, home=home, account=account)
    except AuthError as exc:
        return [Check(name, "credentials", False, str(exc), ExitCode.AUTH)]
    except (PlanError, QAError) as exc:
        return [Check(name, "settings", False, str(exc), exc.exit_code)]
    checks.append(Check(name, "credentials", True, "present"))
    try:
        handle = platform.me()
        checks.append(Check(name, "account", True, f"signed in as {handle}"))
        for label, value in platform.describe().items():
            checks.append(Check(name, label, True, value))
        budget = platform.rate_budget()
        if budget is not None:
            checks.append(
                Check(
                    name,
                    "rate budget",
                    budget.remaining > 0,
                    f"{budget.remaining}/{budget.limit} calls left, resets "
                    f"{budget.reset_at:%H:%M:%S} UTC",
                )
            )
        else:
            checks.append(Check(name, "rate budget", True, "not reported by this platform"))
    except AuthError as exc:
        checks.append(Check(name, "account", False, str(exc), ExitCode.AUTH))
    except QAError as exc:
        checks.append(Check(name, "reachability", False, str(exc), ExitCode.PLATFORM))
    finally:
        platform.close()
    return checks


def run_checks(sessions: list[Any], home: Path) -> list[Check]:
    """One set of checks per distinct (platform, account, settings) in the plan."""
    seen: set[str] = set()
    checks: list[Check] = []
    for session in sessions:
        key = f"{session.platform}|{session.account}|{sorted(session.platform_settings.items())}"
        if key in seen:
            continue
        seen.add(key)
        checks.extend(
            check_platform(session.platform, session.platform_settings, home, session.account)
        )
    return checks
