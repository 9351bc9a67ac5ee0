"""Rehearse the demo session end to end, as a host would run it from two shells.

Shell one runs `qa run --headless` on the demo plan with the scripted crowd (examples/crowd.yaml)
on a fast virtual clock; this script plays the host in "shell two": it reads the events and
answers with `qa answer` — the best question with a repost and a `.@asker` post, a question
with a quote, and the customer who posted a contract number with a direct message. At the end
it prints the local platform's timeline and the recap.

    python examples/rehearse.py [--speed 120] [--home DIR] [--multi]

`./dev rehearse` runs it with a fresh home under .qa-rehearsal/. With `--multi` it rehearses
the session on three platforms at once (examples/multi/: local stand-ins for X, Bluesky and
Mastodon, a crowd that cross-posts): the host answers the cross-posted question on each
platform where it was asked and, with --everywhere, as a community answer on the third; at
the end it prints each platform's timeline and the recap split by platform.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def qa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qasession", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )


MULTI = ("local:x", "local:bsky", "local:mastodon")


def rehearsal_env(home: Path, *, multi: bool = False) -> dict[str, str]:
    """The environment of every command of the rehearsal: its own state (QA_REHEARSAL=1) and
    the demo session, the plan's first (QA_SESSION), whatever today's date is: once its date
    is past, a command left to choose would take the plan's next session."""
    from qasession.plan import load_plan

    plan = "examples/multi/sessions.yaml" if multi else "sessions.yaml"
    env = {**os.environ, "QA_HOME": str(home), "QA_REHEARSAL": "1", "QA_FILE": plan}
    env["QA_SESSION"] = load_plan(ROOT / plan).sessions[0].id
    return env


def rehearse(
    home: Path, speed: float, *, quiet: bool = False, multi: bool = False
) -> dict[str, Any]:
    """Run the rehearsal; returns what happened (events, answers issued, the timeline).
    Every command works on the rehearsal's own state (QA_REHEARSAL=1)."""
    env = rehearsal_env(home, multi=multi)
    crowd = "examples/multi/crowd.yaml" if multi else "examples/crowd.yaml"
    command = [
        sys.executable, "-m", "qasession", "run", "--headless",
        "--simulate", crowd, "--speed", str(speed), "--start-now",
        "--tail", "2", "--seed", "1",
    ]  # fmt: skip
    run = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert run.stdout is not None
    events: list[dict[str, Any]] = []
    answered: dict[str, str] = {}
    for line in run.stdout:
        event = json.loads(line)
        events.append(event)
        if not quiet:
            print(describe(event), file=sys.stderr)
        if event["event"] == "cue" and event["cue"] == "half-time":
            answered.update(answer_everywhere(env) if multi else answer_some(env))
        if event["event"] == "ended":
            break
    run.wait(timeout=60)
    timeline = json.loads(qa("local", "timeline", "--json", env=env).stdout)
    timelines = {
        name: json.loads(qa("local", "timeline", "--json", "--platform", name, env=env).stdout)
        for name in (MULTI if multi else ())
    }
    return {
        "session": env["QA_SESSION"],
        "events": events,
        "answered": answered,
        "timeline": timeline,
        "timelines": timelines,
        "code": run.returncode,
    }


def answer_everywhere(env: dict[str, str]) -> dict[str, str]:
    """The host of a session on three platforms: the top question (asked on X and Bluesky)
    answered on both and as a community answer on Mastodon; a Mastodon question by reply."""
    queue = json.loads(qa("queue", "--json", env=env).stdout)
    answered: dict[str, str] = {}
    crossed = next((q for q in queue if q["also_on"] and "sensitive" not in q["flags"]), None)
    plan = []
    if crossed:
        plan.append((crossed, ["--everywhere"], "Offline mode ships in the spring release."))
    mastodon = next(
        (q for q in queue if q["platform"] == "local:mastodon" and not q["flags"]), None
    )
    if mastodon:
        plan.append((mastodon, ["--mode", "reply"], "Yes, and we'd love your help testing it."))
    for question, options, text in plan:
        result = qa("answer", str(question["id"]), text, *options, env=env)
        if result.returncode != 0:
            raise SystemExit(f"qa answer failed: {result.stderr.strip()}")
        answered[f"{question['platform']}:{question['post_id']}"] = " ".join(options)
    return answered


def answer_some(env: dict[str, str]) -> dict[str, str]:
    """The host's three answers: the top question (dot), one by quote, the contract by DM."""
    queue = json.loads(qa("queue", "--json", env=env).stdout)
    answered: dict[str, str] = {}
    sensitive = next((q for q in queue if "sensitive" in q["flags"] and "ACME-" in q["text"]), None)
    public = [q for q in queue if not q["flags"] or q["flags"] == ["ahead"]]
    plan = []
    if public:
        plan.append(
            (public[0], "dot", "Yes: webhooks for order updates ship in Q1, beta in January.")
        )
    if len(public) > 1:
        plan.append((public[1], "quote", "Great question, here is how we decide."))
    if sensitive:
        plan.append(
            (
                sensitive,
                "dm",
                "Sorry about the invoice, we're looking at your contract "
                "now and will get back to you today.",
            )
        )
    for question, mode, text in plan:
        result = qa("answer", str(question["id"]), text, "--mode", mode, env=env)
        if result.returncode != 0:
            raise SystemExit(f"qa answer failed: {result.stderr.strip()}")
        answered[question["post_id"]] = mode
    return answered


def describe(event: dict[str, Any]) -> str:
    kind = event["event"]
    if kind == "question":
        flags = ",".join(event["flags"])
        return f"  question {event['id']:>4} {event['author']}: {event['text'][:60]!r} {flags}"
    if kind == "posted":
        return f"  posted   {event['kind']} (id {event['id']})"
    if kind == "cue":
        return f"  cue      {event['cue']}: {event['answers']}/{event['target']} answers"
    return f"  {kind:<8} {event.get('message', '')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=120.0)
    parser.add_argument("--home", type=Path, default=ROOT / ".qa-rehearsal")
    parser.add_argument("--multi", action="store_true", help="the session on three platforms")
    args = parser.parse_args()
    started = time.monotonic()
    result = rehearse(args.home, args.speed, multi=args.multi)
    env = rehearsal_env(args.home, multi=args.multi)
    if args.multi:
        for name in MULTI:
            print(f"== {name}")
            print(qa("local", "timeline", "--platform", name, env=env).stdout)
    else:
        print(qa("local", "timeline", env=env).stdout)
    recap = qa("recap", env=env)
    print(recap.stdout or recap.stderr)
    print(
        f"rehearsal done in {time.monotonic() - started:.0f}s: {len(result['answered'])} answers, "
        f"{len(result['timeline']) + sum(map(len, result['timelines'].values()))} posts on the "
        f"local timeline(s); state in {args.home}",
        file=sys.stderr,
    )
    sys.exit(result["code"])


if __name__ == "__main__":
    main()
