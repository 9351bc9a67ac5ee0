"""A home that cannot serve as it should gets a one-line message saying what is wrong and
what to do, never "internal error": a corrupt database (named, left as it is), a read-only
home (the commands that only read still work), a full disk; and readers never kill the loop."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qasession.platforms.base import Post
from qasession.store import PostRecord, Store
from tests.conftest import ROOT, qa
from tests.support.require import in_ci


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if in_ci():
            pytest.fail(f"{tool} is needed for this test; with CI=true this fails", pytrace=False)
        pytest.skip(f"{tool} is not installed")
    return found


def as_other_user(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`qa ARGS` without the privilege to override file modes (in a user namespace): a home
    whose modes say read-only is read-only, whoever owns it, as on a read-only mount."""
    unshare = need("unshare")
    return subprocess.run(
        [unshare, "--user", "--map-user=65534", "--map-group=65534", "--",
         sys.executable, "-m", "qasession", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "QA_HOME": str(home)},
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa: error: "), result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    return lines[0]


def test_a_corrupt_database_is_named_and_left_alone(home: Path, plan_path: Path) -> None:
    db = home / "qa.db"
    db.write_bytes(b"not a database, but something a disk gave back " * 100)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in (["queue"], ["plan"], ["run", "--headless"], ["answer", "1", "hi"]):
        result = qa(*args, "-f", str(plan_path))
        assert result.returncode == 1
        line = one_line_error(result)
        assert str(db) in line and "corrupt" in line and "move it aside" in line
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before, "never rewritten"


def test_a_read_only_home_still_reads(tmp_path: Path, plan_path: Path) -> None:
    home = tmp_path / "home"
    store = Store.open(home)
    store.ensure_session("t", "#AskAcme", "local")
    asked = Post("1", "@alice", "How do I export? #AskAcme", datetime.now(UTC))
    store.save_page("t", [PostRecord(asked, "queued", True)], "1", seen_at=datetime.now(UTC))
    store.close()
    for path in (*home.iterdir(), home):
        path.chmod(0o555 if path.is_dir() else 0o444)  # read-only, even for its owner
    shown = as_other_user("queue", "--json", "-f", str(plan_path), home=home)
    if "unshare failed" in shown.stderr or "Operation not permitted" in shown.stderr:
        need("a user namespace")  # fails under CI, skips elsewhere
    assert shown.returncode == 0, shown.stderr
    assert [row["id"] for row in json.loads(shown.stdout)] == [1], shown.stderr
    planned = as_other_user("plan", "-f", str(plan_path), home=home)
    assert planned.returncode == 0, planned.stderr
    refused = as_other_user("answer", "1", "hi", "-f", str(plan_path), home=home)
    assert refused.returncode == 1
    line = one_line_error(refused)
    assert "cannot be written" in line or "cannot create" in line or "cannot open" in line


def test_a_full_disk_is_said_in_plain_words(tmp_path: Path, plan_path: Path) -> None:
    unshare = need("unshare")
    full = tmp_path / "full"
    full.mkdir()
    script = (
        f"mount -t tmpfs -o size=160k tmpfs {full} && head -c 150000 /dev/zero > {full}/fill; "
        f"{sys.executable} -m qasession local post --as @a 'hi #AskAcme'; echo rc=$?; "
        f"{sys.executable} -m qasession plan --post -f {plan_path}; echo rc=$?"
    )
    result = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "--", "sh", "-c", script],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "QA_HOME": str(full)},
    )  # fmt: skip
    if "unshare failed" in result.stderr or "mount:" in result.stderr:
        need("a user namespace with its own mounts")
    assert result.stdout.count("rc=1") == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("qa: error:")]
    assert len(errors) == 2 and all("is full" in line for line in errors), result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_readers_never_kill_the_loop(home: Path, tmp_path: Path) -> None:
    """`qa queue --json` every few tenths of a second while a rehearsal starts and runs."""
    run = subprocess.Popen(
        [sys.executable, "-m", "qasession", "run", "--headless", "--simulate",
         "examples/crowd.yaml", "--speed", "200", "--start-now", "--tail", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=dict(os.environ),
    )  # fmt: skip
    stop = threading.Event()
    failures: list[str] = []

    def read() -> None:
        while not stop.is_set():
            shown = qa("--rehearsal", "queue", "--json", timeout=60)
            if shown.returncode != 0:
                failures.append(shown.stderr)
            time.sleep(0.3)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        out, err = run.communicate(timeout=300)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert run.returncode == 0, err
    assert '"event":"ended"' in out
    assert not failures, failures[:1]
