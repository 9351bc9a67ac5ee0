"""A recap from a twarc2 archive gains the questions' languages and key phrases (none from a
question holding private data), and leaves them out when asked not to analyse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qasession.recap.archive import recap_from_archive

TWEETS = [
    ("@ann", "How do webhooks retry on failure? #AskAcme"),
    ("@ben", "Do the webhooks retry with a backoff when our server is down? #AskAcme"),
    ("@cec", "Est-ce que les webhooks sont dans l'offre gratuite ? #AskAcme"),
    ("@dan", "Call me on +33 6 12 34 56 78 about the invoices export please? #AskAcme"),
    ("@eve", "Call me on +33 6 12 34 56 78 about the invoices export please? #AskAcme"),
]


def archive(tmp_path: Path) -> Path:
    path = tmp_path / "flat.jsonl"
    lines = [
        json.dumps(
            {
                "id": str(i + 1),
                "text": text,
                "created_at": f"2026-12-03T17:{i + 5:02d}:00.000Z",
                "author": {"id": str(100 + i), "username": author.lstrip("@")},
                "public_metrics": {"like_count": 0, "retweet_count": 0},
            }
        )
        for i, (author, text) in enumerate(TWEETS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_archive_recap_has_languages_and_key_phrases(tmp_path: Path) -> None:
    recap = recap_from_archive(archive(tmp_path), "#AskAcme", None)
    assert recap.questions.received == 5 and recap.questions.merged == 1
    by_code = {lang.code: lang.questions for lang in recap.languages}
    assert by_code == {"en": 4, "fr": 1}  # the merged copy counts in its question's language
    phrases = {p.phrase.lower(): p for p in recap.phrases}
    assert "webhooks" in phrases and phrases["webhooks"].count == 3
    assert not [p for p in phrases if "invoice" in p or "call" in p]
    shown = json.dumps(recap.to_json())
    assert "12 34 56" not in shown


def test_archive_languages_follow_the_platform_tag(tmp_path: Path) -> None:
    path = archive(tmp_path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    lines[0]["lang"] = "de"  # X's tag wins over the guess from the text
    lines[1]["lang"] = "und"  # X could not tell: guessed
    lines[2]["lang"] = "fr-CA"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    for parallel in (False, True):
        recap = recap_from_archive(path, "#AskAcme", None, parallel=parallel)
        by_code = {lang.code: lang.questions for lang in recap.languages}
        assert by_code == {"en": 3, "de": 1, "fr": 1}


def test_archive_analysis_can_be_left_out(tmp_path: Path) -> None:
    recap = recap_from_archive(archive(tmp_path), "#AskAcme", None, analyse=False)
    assert recap.languages == [] and recap.phrases == []
    assert recap.questions.received == 5


def test_the_cli_leaves_the_analysis_out_on_request(tmp_path: Path, cli: Any) -> None:
    path = archive(tmp_path)
    full = cli(
        "recap", "--from-archive", str(path), "--hashtag", "#AskAcme", "--json", cwd=tmp_path
    )
    assert full.returncode == 0, full.stderr
    assert json.loads(full.stdout)["languages"]
    lean = cli(
        "recap", "--from-archive", str(path), "--hashtag", "#AskAcme", "--json", "--no-analysis",
        cwd=tmp_path,
    )  # fmt: skip
    assert lean.returncode == 0, lean.stderr
    data = json.loads(lean.stdout)
    assert data["languages"] == [] and data["phrases"] == []
    refused = cli("recap", "--no-analysis", cwd=tmp_path)
    assert refused.returncode == 2 and "--from-archive" in refused.stderr
