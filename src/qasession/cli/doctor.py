"""`qa doctor`: check credentials and reachability of the platforms the plan uses."""

import typer

from qasession.cli.common import HomeOpt, JsonOpt, PlanFileOpt, resolve


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    json: JsonOpt = False,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Check credentials and reachability of the configured platforms (exit 4 or 5 on failure)."""
    from qasession.cli import render
    from qasession.errors import QAError
    from qasession.plan import load_plan
    from qasession.platforms.doctor import run_checks

    plan_file, home_dir = resolve(ctx, file, home)
    checks = run_checks(load_plan(plan_file).sessions, home_dir)
    if json:
        render.print_json([c.to_json() for c in checks])
    else:
        render.checks(checks)
    failed = [c for c in checks if not c.ok]
    if failed:
        error = QAError(f"{len(failed)} check(s) failed")
        error.exit_code = max(c.exit_code for c in failed)
        raise error
