"""Start-up time of `qa --help`, `qa plan`, `qa queue --limit 20` and `qa answer` against the
floor of a bare three-command Typer app.

Prints the median wall time of each over the same number of alternating runs, and its ratio
to the floor (targets: `--help` at most 1.25, the others at most 2 — heavy modules are imported
only by the commands that need them, and X's weighted count only for texts that need it); then
the same for CPU time (the child's user + system), which a loaded machine moves less.
The commands run on the demo plan (a local session) with a home holding one question.

    python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# shared/ beside the checkout, as CI lays it out, or $QA_SHARED_DIR (as the tests find it)
SHARED = Path(os.environ.get("QA_SHARED_DIR") or ROOT.parent / "shared")
FLOOR = SHARED / "bench" / "typer_floor.py"
TARGETS = {"--help": 1.25, "plan": 2.0, "queue --limit 20": 2.0, "answer": 2.0}


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the child's own) of one run: on a shared machine
    the CPU time moves less with the other processes than the wall time does."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def home_with_a_question(qa: list[str], env: dict[str, str]) -> None:
    """One question stored for the demo session, as a run would have stored it."""
    import json

    qa_env = {**env}
    subprocess.run(
        [*qa, "local", "post", "--as", "@maria", "Will you add webhooks? #AskAcme"],
        env=qa_env, check=True, capture_output=True,
    )  # fmt: skip
    code = (
        "import os; from pathlib import Path; from qasession.plan import load_plan;"
        "from qasession.platforms.local import LocalPlatform; from qasession.store import Store;"
        "from qasession.session.ingest import collect, Ingestor;"
        "s = load_plan(Path('sessions.yaml')).get(None); home = Path(os.environ['QA_HOME']);"
        "store = Store.open(home); store.ensure_session(s.id, s.hashtag, s.platform);"
        "p = LocalPlatform({}, home=home, account=s.account);"
        "collect(Ingestor(s, store, p.me()), p, p.clock.now)"
    )
    subprocess.run([sys.executable, "-c", code], env=qa_env, check=True, cwd=ROOT)
    listed = subprocess.run(
        [*qa, "queue", "--json"], env=qa_env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    assert json.loads(listed.stdout), "the question is queued"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    qa_script = Path(sys.executable).parent / "qa"
    qa = [str(qa_script)] if qa_script.exists() else [sys.executable, "-m", "qasession"]
    floor = [sys.executable, str(FLOOR)]
    if not FLOOR.exists():
        raise SystemExit(f"the floor app is missing: {FLOOR}")
    import tempfile

    env = {**os.environ, "QA_HOME": tempfile.mkdtemp(prefix="qa-startup-")}
    env["QA_FILE"] = str(ROOT / "sessions.yaml")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled modules cached, as on a user's machine
    home_with_a_question(qa, env)
    commands = {
        "--help": [*qa, "--help"],
        "plan": [*qa, "plan"],
        "queue --limit 20": [*qa, "queue", "--limit", "20"],
        "answer": [*qa, "answer", "1", "Yes, in Q1.", "--follow-up"],
    }
    for command in [*commands.values(), [*floor, "--help"]]:  # warm the caches
        timed(command, env)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    base = []
    for _ in range(args.runs):  # alternate, so machine noise hits all alike
        base.append(timed([*floor, "--help"], env))
        for name, command in commands.items():
            times[name].append(timed(command, env))
    base_wall = statistics.median(b[0] for b in base)
    base_cpu = statistics.median(b[1] for b in base)
    print(
        f"typer floor --help       median {base_wall * 1000:7.1f} ms "
        f"(CPU {base_cpu * 1000:6.1f} ms) over {args.runs} runs"
    )
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        ratio = wall / base_wall
        verdict = "ok" if ratio <= TARGETS[name] else "OVER TARGET"
        print(
            f"qa {name:<20}  median {wall * 1000:7.1f} ms  ratio {ratio:.2f} "
            f"(target <= {TARGETS[name]}: {verdict}); CPU {cpu * 1000:6.1f} ms, "
            f"ratio {cpu / base_cpu:.2f}"
        )


if __name__ == "__main__":
    main()
