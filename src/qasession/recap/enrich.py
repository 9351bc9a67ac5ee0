"""The recap's later parts read from the store: the timeline's marks (opening, cues, answers,
closing), the questions' languages, their key phrases, the host's notes and the late answers.

Called by `build_recap` once the accumulator has made the recap, before it is masked; reads
only. The questions are read again here (one query, questions only), which keeps the
accumulator that also serves the million-post archive as lean as it was.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qasession.recap.parts import KeyPhrase, Language, LateAnswer, Mark, Note
from qasession.recap.phrases import LANGUAGES, MAX_QUESTIONS, QuestionText, language_of

if TYPE_CHECKING:
    from qasession.recap import Recap
    from qasession.store import Store

_CAMEL = re.compile(r"[A-Z][a-z]+|[a-z]+|[A-Z]+(?![a-z])")
_SKIP_STATUS = ("hidden",)
_SKIP_FLAGS = ("sensitive", "troll")
# an archive's most asked questions analysed for key phrases (yake takes about a millisecond
# each; the store's recap takes MAX_QUESTIONS): a million-post recap stays within its time
ARCHIVE_QUESTIONS = 500


def brand_words(hashtag: str) -> list[str]:
    """The words of the hashtag but "ask": `#AskAcme` -> ["acme"]."""
    words = [w.lower() for w in _CAMEL.findall(hashtag.lstrip("#＃"))]
    return [w for w in words if w != "ask"] or [hashtag.lstrip("#＃").lower()]


def clock_of(at: str, start: str | None) -> str:
    """ "+23:10" (minutes:seconds from the start; "-" before it)."""
    if not start:
        return ""
    seconds = round((datetime.fromisoformat(at) - datetime.fromisoformat(start)).total_seconds())
    sign = "-" if seconds < 0 else "+"
    minutes, rest = divmod(abs(seconds), 60)
    return f"{sign}{minutes}:{rest:02d}"


def marks_of(store: Store, session_id: str, recap: Recap) -> list[Mark]:
    """Opening, cues, each answer's first sent step and closing, in time order."""
    end = recap.meta.window_end
    marks: list[Mark] = []
    for item in store.outbox(session_id, ("sent",)):
        if item.kind in ("opening", "closing") and item.sent_at:
            marks.append(Mark(item.sent_at, item.kind, item.kind))
    for event in store.events(session_id, "cue"):
        marks.append(Mark(event["at"], "cue", str(event.get("cue", "cue"))))
    for number, entry in enumerate(recap.transcript, 1):
        if not entry.answers:
            continue
        at = entry.answers[0].sent_at
        late = bool(end and at >= end)
        marks.append(Mark(at, "answer", f"answer {number}", late))
    marks.sort(key=lambda m: m.at)
    return marks


def questions_of(
    store: Store, session_id: str, private: Callable[[str], bool] = lambda _: False
) -> tuple[list[QuestionText], list[Language]]:
    """The canonical questions to find phrases in (none flagged private, trolling or hidden,
    none in which `private` finds private data), and every question post by language."""
    canonical: dict[str, QuestionText] = {}
    duplicates: dict[str, int] = {}
    languages: dict[str, int] = {}
    for row in store.posts(session_id, where="is_question = 1"):
        lang = language_of(row["lang"], row["text"])
        languages[lang] = languages.get(lang, 0) + 1
        if row["duplicate_of"]:
            duplicates[row["duplicate_of"]] = duplicates.get(row["duplicate_of"], 0) + 1
            continue
        flags = row["flags"] or ""
        if row["status"] in _SKIP_STATUS or any(f in flags for f in _SKIP_FLAGS):
            continue
        if private(row["text"]):
            continue
        engagement = int(row["likes"] or 0) + int(row["reposts"] or 0)
        canonical[row["id"]] = QuestionText(row["id"], row["text"], lang, 1, engagement)
    for qid, n in duplicates.items():
        if qid in canonical:
            canonical[qid].posts += n
    chosen = sorted(canonical.values(), key=lambda q: (-q.posts, -q.engagement))[:MAX_QUESTIONS]
    return _in_order(chosen, canonical), _languages(languages)


# the key of a posted `late` draft names the questions it lists, an `invite` draft the people
LATE_DRAFT = ":draft:late:"
INVITE_DRAFT = ":draft:invite:"


def posted_draft_keys(store: Store, session_id: str, kind: str) -> list[str]:
    """What follows `kind` (LATE_DRAFT, INVITE_DRAFT) in the keys of the drafts posted."""
    return [
        item.key.partition(kind)[2]
        for item in store.outbox(session_id, ("sent",))
        if item.kind == "draft" and kind in item.key
    ]


def listed_late(store: Store, session_id: str) -> set[int]:
    """The question numbers named by the `late` drafts already posted (`...:late:3-7`)."""
    return {
        int(n)
        for rest in posted_draft_keys(store, session_id, LATE_DRAFT)
        for n in rest.split("-")
        if n.isdigit()
    }


def invited_already(store: Store, session_id: str) -> list[str]:
    """The handles the posted invitation drafts mention (`...:invite:alice+bob`)."""
    found = [
        "@" + name
        for rest in posted_draft_keys(store, session_id, INVITE_DRAFT)
        for name in rest.split("+")
        if name
    ]
    return list(dict.fromkeys(found))


def late_answers_of(store: Store, session: Any, recap: Recap) -> list[LateAnswer]:
    """The questions whose first answer step went out after the session's end."""
    end = recap.meta.window_end
    if not end:
        return []
    listed = listed_late(store, recap.meta.session_id)
    multi = bool(getattr(session, "multi", False))
    found: list[LateAnswer] = []
    for entry in recap.transcript:
        if not entry.answers or entry.answers[0].sent_at < end:
            continue
        platform, post_id = None, entry.question.id
        if multi and "/" in post_id:
            platform, post_id = post_id.split("/", 1)
        row = store.post_row(recap.meta.session_id, post_id, platform)
        if row is None or row["number"] is None:
            continue
        sensitive = "sensitive" in (row["flags"] or "").split(",")
        found.append(
            LateAnswer(
                number=int(row["number"]),
                question_id=entry.question.id,
                author=entry.question.author,
                text="" if sensitive else entry.question.text,
                answered_at=entry.answers[0].sent_at,
                private=any(a.kind == "dm" for a in entry.answers),
                listed=int(row["number"]) in listed,
            )
        )
    return found


def notes_of(store: Store, session_id: str, start: str | None) -> list[Note]:
    return [
        Note(e["at"], clock_of(e["at"], start), str(e.get("text", "")), e.get("actor"))
        for e in store.events(session_id, "note")
    ]


def enrich(store: Store, session: Any, recap: Recap) -> Recap:
    """Add the marks, languages, key phrases, notes and late answers to `recap`."""
    from qasession.recap.masking import Masker, patterns_of
    from qasession.recap.phrases import key_phrases

    masker = Masker(patterns_of(session))
    sid = recap.meta.session_id
    questions, recap.languages = questions_of(store, sid, lambda t: masker.text(t) != t)
    recap.phrases = key_phrases(questions, brand=brand_words(recap.meta.hashtag))
    recap.marks = marks_of(store, sid, recap)
    recap.notes = notes_of(store, sid, recap.meta.window_start)
    recap.questions.late = sum(1 for m in recap.marks if m.kind == "answer" and m.late)
    recap.late_answers = late_answers_of(store, session, recap)
    recap.invited = invited_already(store, sid)
    return recap


def mask_parts(recap: Recap, masker: Any) -> None:
    """Mask the later parts with the recap's masker: a phrase holding private data is left
    out, the examples and the host's notes are masked."""
    kept: list[KeyPhrase] = []
    for phrase in recap.phrases:
        if masker.text(phrase.phrase) != phrase.phrase:
            continue
        phrase.examples = [masker.text(t) for t in phrase.examples]
        kept.append(phrase)
    recap.phrases = kept
    for note in recap.notes:
        note.text = masker.text(note.text)
    for late in recap.late_answers:
        late.text = masker.text(late.text)


def archive_questions(
    canonical: dict[str, Any],
    clusters: dict[str, list[Any]],
    screen: Callable[[str], bool],
) -> list[QuestionText]:
    """What `questions_of` chooses for the store, from an archive's canonical questions (the
    accumulator's `(ts, author, text, likes, reposts, status, url)`) and their clusters of
    merged duplicates: the ARCHIVE_QUESTIONS most asked for which `screen(text)` holds (False
    for private data, trolling), in the language guessed from their text. (The languages of
    all question posts are counted by the archive's scanners as they read: the platform's
    tag, else a guess.)"""
    ranked: list[tuple[int, int, str, str]] = []
    for qid, (_, _, text, likes, reposts, status, _) in canonical.items():
        if status not in _SKIP_STATUS:
            cluster = clusters.get(qid)
            posts = 1 + (int(cluster[0]) if cluster else 0)
            ranked.append((posts, int(likes or 0) + int(reposts or 0), qid, text))
    top = heapq.nsmallest(ARCHIVE_QUESTIONS * 2, ranked, key=lambda q: (-q[0], -q[1]))
    chosen = [
        QuestionText(qid, text, language_of(None, text), posts, engagement)
        for posts, engagement, qid, text in top
        if screen(text)
    ][:ARCHIVE_QUESTIONS]
    return _in_order(chosen, canonical)


def _in_order(chosen: list[QuestionText], canonical: Iterable[str]) -> list[QuestionText]:
    """`chosen` in the order of `canonical` (the questions' order in the session)."""
    order = {qid: i for i, qid in enumerate(canonical)}
    return sorted(chosen, key=lambda q: order[q.id])


def _languages(counts: Mapping[str, int]) -> list[Language]:
    """The questions' languages, most asked first, named."""
    return [
        Language(code, LANGUAGES.get(code, "unknown" if code == "und" else code), n)
        for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def archive_key_questions(builder: Any, session_like: Any) -> list[QuestionText]:
    """The questions of an archive's `RecapBuilder` to find key phrases in (none holding
    private data or trolling, by `session_like`'s patterns and blocked words)."""
    from qasession import triage
    from qasession.recap.masking import Masker, patterns_of

    masker = Masker(patterns_of(session_like))
    moderation = getattr(session_like, "moderation", None)
    blocked = frozenset(w.lower() for w in getattr(moderation, "blocked_words", ()) or ())

    def screen(text: str) -> bool:
        return masker.text(text) == text and not triage.troll_signals(text, 0, blocked)

    return archive_questions(builder.canonical, builder.clusters, screen)


# the key questions of an archive and each one's phrases, found by its scanning worker
FoundPhrases = tuple[list[QuestionText], list[list[str]]]


def enrich_archive(
    recap: Recap,
    builder: Any,
    session_like: Any,
    *,
    phrases: bool = True,
    found: FoundPhrases | None = None,
) -> Recap:
    """The languages and key phrases of an archive's questions (before it is masked), from
    the `RecapBuilder` that read it; `found`: the key questions and their phrases, when the
    archive's worker process found them already."""
    from qasession.recap.phrases import key_phrases

    recap.languages = _languages(builder.languages)
    if phrases:
        questions, each = (
            found if found is not None else (archive_key_questions(builder, session_like), None)
        )
        recap.phrases = key_phrases(questions, brand=brand_words(recap.meta.hashtag), found=each)
    return recap
