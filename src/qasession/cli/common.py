"""What every command shares: the global options, loading the plan, the store, the platform."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from qasession.clock import Clock
    from qasession.plan import Plan, Session
    from qasession.platforms.base import Platform
    from qasession.store import Store

# No envvar on the options themselves: an option given anywhere on the command line (before or
# after the command's name) beats the environment, which beats the default (see `resolve`).
PlanFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="The plan file (env QA_FILE; default: ./sessions.yaml).",
        show_default=False,
    ),
]
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Where state lives (env QA_HOME; default: the user data directory).",
        show_default=False,
    ),
]
RehearsalOpt = Annotated[
    bool,
    typer.Option(
        "--rehearsal",
        help="Work on the rehearsal's state (kept apart from the real session's; env "
        "QA_REHEARSAL=1).",
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="A team's shared database, postgresql://USER@HOST:PORT/NAME (env "
        "QA_DATABASE_URL; default: the home's own SQLite file). The password comes from "
        "PGPASSWORD or ~/.pgpass.",
        show_default=False,
        metavar="URL",
    ),
]
ActorOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Who you are on the plan's team (env QA_ACTOR; default: your login name).",
        show_default=False,
        metavar="NAME",
    ),
]
REHEARSAL_DIR = "rehearsal"  # under the home: a rehearsal's own store and local platform
JsonOpt = Annotated[bool, typer.Option("--json", help="Print data as JSON.")]
SessionArg = Annotated[
    str | None,
    typer.Argument(
        help="Session id (env QA_SESSION; default: the only or the next session).",
        show_default=False,
    ),
]


@dataclass
class GlobalState:
    file: Path | None = None
    home: Path | None = None
    rehearsal: bool = False
    db: str | None = None
    actor: str | None = None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def rehearsing(ctx: typer.Context) -> bool:
    """Whether this command works on the rehearsal's state (`--rehearsal`, QA_REHEARSAL)."""
    state = ctx.find_root().obj if ctx.find_root().obj else GlobalState()
    return state.rehearsal or os.environ.get("QA_REHEARSAL", "") not in ("", "0")


def real_home(ctx: typer.Context, home: Path | None) -> Path:
    """The home directory: the command's option, then the global one, then QA_HOME, then the
    user data directory."""
    state = ctx.find_root().obj if ctx.find_root().obj else GlobalState()
    home_dir = home or state.home or _env_path("QA_HOME")
    if home_dir is None:
        from platformdirs import user_data_dir

        home_dir = Path(user_data_dir("qasession", appauthor=False))
    if home_dir.exists() and not home_dir.is_dir():
        from qasession.errors import ConfigError

        raise ConfigError(
            f"the home directory {home_dir} is a file",
            hint="point --home (or QA_HOME) at a folder",
        )
    return home_dir


def resolve(
    ctx: typer.Context, file: Path | None, home: Path | None, *, rehearsal: bool | None = None
) -> tuple[Path, Path]:
    """The plan file and the home directory of this command's state: an option (given before
    or after the command's name) beats the environment, which beats the default. A rehearsal
    keeps its state in its own folder under the home, apart from the real session's."""
    state = ctx.find_root().obj if ctx.find_root().obj else GlobalState()
    plan_file = file or state.file or _env_path("QA_FILE") or Path("sessions.yaml")
    home_dir = real_home(ctx, home)
    rehearsed = rehearsal if rehearsal is not None else rehearsing(ctx)
    if rehearsed:
        home_dir = home_dir / REHEARSAL_DIR
    choose_database(state, rehearsed)
    return plan_file, home_dir


def choose_database(state: GlobalState, rehearsal: bool) -> None:
    """Where this command's stores live: --db beats QA_DATABASE_URL; a rehearsal keeps its
    state in its own folder's SQLite file whatever they say (a team's real session is never
    touched by one)."""
    if state.db is None and not os.environ.get("QA_DATABASE_URL"):
        return  # the home's SQLite file, as ever: the store is not even imported for this
    from qasession.store import engine

    if rehearsal:
        engine.use_database(None)
    elif state.db is not None:
        engine.use_database(state.db)
    else:
        engine.use_database(engine.database_url())


@dataclass
class Context:
    """A command's loaded world: the plan, one session, the home and the store."""

    plan: Plan
    session: Session
    home: Path
    writes: bool = True  # False: a command that only reads works on a read-only home too
    actor: str = ""  # who issues the command (--as, QA_ACTOR, the login name)
    _store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            from qasession.errors import StoreError
            from qasession.store import Store

            try:
                self._store = Store.open(self.home)
            except StoreError as exc:
                if self.writes or "corrupt" in exc.message or exc.retryable:
                    raise
                self._store = Store.open(self.home, readonly=True)
        return self._store

    def platform(self, clock: Clock | None = None) -> Platform:
        from qasession.platforms import registry

        return registry.create(
            self.session.platform,
            self.session.platform_settings,
            home=self.home,
            clock=clock,
            account=self.session.account,
            settings_at=(str(self.plan.path), self.session.platform_settings_line),
        )

    def platforms(self, clock: Clock | None = None) -> dict[str, Platform]:
        """One adapter per platform of the session (its one platform: `platform()`)."""
        from qasession.session.sources import create_adapters

        return create_adapters(self.session, self.home, str(self.plan.path), clock)


def session_wanted(session_id: str | None) -> str | None:
    """The session a command works on: its `--session`, else QA_SESSION, else None (the
    plan's default: the only session, or the next one)."""
    return session_id or os.environ.get("QA_SESSION") or None


def load(
    ctx: typer.Context,
    file: Path | None,
    home: Path | None,
    session_id: str | None,
    *,
    rehearsal: bool | None = None,
    writes: bool = True,
    actor: str | None = None,
) -> Context:
    from qasession.plan import load_plan

    plan_file, home_dir = resolve(ctx, file, home, rehearsal=rehearsal)
    plan = load_plan(plan_file)
    return Context(
        plan=plan,
        session=plan.get(session_wanted(session_id)),
        home=home_dir,
        writes=writes,
        actor=actor_of(ctx, actor),
    )


def actor_of(ctx: typer.Context, given: str | None) -> str:
    """Who issues this command: the command's --as, the global one, QA_ACTOR, the login."""
    state = ctx.find_root().obj if ctx.find_root().obj else GlobalState()
    name = (given or state.actor or "").strip()
    if name:
        from qasession.plan.models import ACTOR_NAME

        if not ACTOR_NAME.fullmatch(name):
            from qasession.errors import UsageError

            raise UsageError(
                f"--as {name[:40]!r} is not a name",
                hint="letters, digits and . _ - @, at most 64 (the names of the plan's team:)",
            )
        return name
    from qasession.session.team import default_actor  # a light module: start-up stays fast

    return default_actor()


def out(text: str) -> None:
    """Data to stdout."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def say(text: str) -> None:
    """A message to stderr (made inert: it may quote platform text)."""
    from qasession.text.safe import inert

    sys.stderr.write(inert(text) + "\n")
    sys.stderr.flush()


def out_json(data: Any) -> None:
    import json

    out(json.dumps(data, ensure_ascii=True, indent=2, default=str))


def is_ci() -> bool:
    return bool(os.environ.get("CI"))
