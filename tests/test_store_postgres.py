"""The store on PostgreSQL: the same migrations build it, times are timestamps there, several
processes may open a new database at once, and the URL's password never reaches output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from qasession.platforms.base import Post
from qasession.store import Store
from qasession.store.db import PostRecord
from qasession.store.migrations import MIGRATIONS
from tests.conftest import ROOT, qa
from tests.support.pg_server import PgServer

T0 = datetime(2026, 12, 3, 17, 0, 0, 123456, tzinfo=UTC)


def columns(server: PgServer, schema: str, table: str) -> dict[str, str]:
    with psycopg.connect(server.url()) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        ).fetchall()
    return dict(rows)


def test_a_new_database_gets_every_migration_once(pg_server: PgServer, tmp_path: Path) -> None:
    schema = pg_server.new_schema()
    url = pg_server.url(schema)
    store = Store.open(tmp_path, url=url)
    names = [row[0] for row in store.db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    assert not (tmp_path / "qa.db").exists(), "nothing written to the home's SQLite file"
    posts = columns(pg_server, schema, "posts")
    assert posts["created_at"] == posts["seen_at"] == "timestamp with time zone"
    assert columns(pg_server, schema, "leases")["heartbeat_at"] == "timestamp with time zone"
    assert columns(pg_server, schema, "outbox")["id"] == "bigint"
    store.close()
    again = Store.open(tmp_path, url=url)
    assert len(list(again.db.execute("SELECT name FROM _migrations"))) == len(MIGRATIONS)


def test_processes_opening_a_new_database_at_once_migrate_it_once(pg_server: PgServer) -> None:
    url = pg_server.url(pg_server.new_schema())
    code = (
        "import sys; from pathlib import Path; from qasession.store import Store;"
        "Store.open(Path('.'), url=sys.argv[1]).ensure_session('s', '#AskAcme', 'local')"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [(p.wait(timeout=60), p.stderr.read() if p.stderr else b"") for p in procs]
    assert all(code == 0 for code, _ in errors), errors
    store = Store.open(Path("."), url=url)
    assert len(list(store.db.execute("SELECT name FROM _migrations"))) == len(MIGRATIONS)


def test_times_and_rows_read_back_as_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    stores = {"sqlite": Store.open(tmp_path), "postgresql": Store.open(tmp_path, url=pg_url)}
    seen = {}
    for name, store in stores.items():
        store.ensure_session("s", "#AskAcme", "local")
        post = Post("1", "@alice", "How? 100% sure? #AskAcme", T0, likes=2)
        store.save_page("s", [PostRecord(post, "queued", is_question=True)], "c1", seen_at=T0)
        row = store.post_row("s", "1")
        seen[name] = dict(row)
        assert store.cursor("s") == "c1"
        assert store.posts("s", where="text LIKE ?", params=("%100%",))[0]["id"] == "1"
        assert store.latest_post_times("s", T0 - T0.replace(hour=0)) == [("@alice", T0)]
    assert seen["postgresql"] == seen["sqlite"], "the same row, keys and text of times"
    assert seen["sqlite"]["created_at"] == "2026-12-03T17:00:00.123456+00:00"


def test_the_password_in_a_url_is_never_printed(home: Path, plan_path: Path) -> None:
    url = "postgresql://pg:s3cr3t-pw@127.0.0.1:1/qa"
    result = qa("queue", "-f", str(plan_path), env={"QA_DATABASE_URL": url})
    assert result.returncode == 7, result.stderr  # ExitCode.UNREACHABLE
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "postgresql://pg:***@127.0.0.1:1/qa" in result.stderr
    assert "cannot reach the state database" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_db_beats_the_environment_anywhere_on_the_line(
    pg_url: str, home: Path, plan_path: Path
) -> None:
    down = {"QA_DATABASE_URL": "postgresql://pg@127.0.0.1:1/qa"}
    assert qa("queue", "-f", str(plan_path), env=down).returncode == 7  # unreachable
    for args in (["--db", pg_url, "queue"], ["queue", f"--db={pg_url}"]):
        result = qa(*args, "--json", "-f", str(plan_path), env=down)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == []
    assert not (home / "qa.db").exists()
    sqlite = qa("--db", "sqlite", "queue", "-f", str(plan_path), env=down)
    assert sqlite.returncode == 0, sqlite.stderr


def test_a_url_that_is_not_postgresql_is_refused(home: Path, plan_path: Path) -> None:
    result = qa("--db", "mysql://root:pw@host/db", "queue", "-f", str(plan_path))
    assert result.returncode == 3, result.stderr
    assert "not a postgresql:// URL" in result.stderr and ":pw@" not in result.stderr


def test_a_rehearsal_never_uses_the_team_database(home: Path, plan_path: Path) -> None:
    down = {"QA_DATABASE_URL": "postgresql://pg@127.0.0.1:1/qa"}
    result = qa("queue", "--rehearsal", "--json", "-f", str(plan_path), env=down)
    assert result.returncode == 0, result.stderr
    assert (home / "rehearsal" / "qa.db").exists()


@pytest.mark.parametrize("url", ["postgresql://u:p%40ss@h/db", "postgresql://h/db?password=p"])
def test_redacted_urls_keep_no_password(url: str) -> None:
    from qasession.store.engine import redact

    shown = redact(url)
    assert "p%40ss" not in shown and "password=p" not in shown and "***" in shown
