"""The store's SQL runs on SQLite and PostgreSQL alike: words only SQLite knows appear only
where the code has asked which engine it runs on (and PostgreSQL has its own way there)."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "qasession"
SQLITE_ONLY = re.compile(
    r"json_extract|json_group|group_concat\(|INSERT OR|REPLACE INTO|julianday|strftime\('|"
    r"datetime\('|PRAGMA|sqlite_master|instr\(|ifnull\(|printf\(|GLOB|last_insert_rowid|"
    r"unixepoch|\btotal\(|\|\| flags",
    re.IGNORECASE,
)
# file -> the SQLite-only words it may hold, and why
ALLOWED = {
    # the SQLite file's own connection, and its dialect word for a post's flags
    "store/engine.py": {"PRAGMA", "sqlite_master", "group_concat("},
    "store/db.py": {"julianday"},  # _score_slack: only when db.dialect == "sqlite"
    "triage/ranking.py": {"julianday"},  # sql_score: SQLite's ranking (PostgreSQL ranks exactly)
}


def sql_files() -> list[Path]:
    return sorted([*(SRC / "store").glob("*.py"), SRC / "triage" / "ranking.py",
                   *(SRC / "session").glob("*.py")])  # fmt: skip


def test_no_sqlite_only_sql_outside_engine_checked_places() -> None:
    found: dict[str, set[str]] = {}
    for path in sql_files():
        name = str(path.relative_to(SRC))
        words = {m.group(0) for m in SQLITE_ONLY.finditer(path.read_text())}
        words -= ALLOWED.get(name, set())
        if words:
            found[name] = words
    assert found == {}


def test_the_sqlite_only_ranking_is_asked_for_on_sqlite_only() -> None:
    db = (SRC / "store" / "db.py").read_text()
    for name in ("def top_question_rows", "def scored_question_rows"):
        body = db.split(name, 1)[1].split("\n    def ", 1)[0]
        assert 'self.db.dialect != "sqlite"' in body, name
