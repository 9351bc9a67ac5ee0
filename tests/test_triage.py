"""Triage: questions, private data, troll signals, near-duplicates, ranking, classify()."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qasession.platforms.base import Post
from qasession.triage import (
    Classification,
    DuplicateIndex,
    Finding,
    QuestionFeatures,
    Weights,
    classify,
    compile_patterns,
    duplicates,
    find_sensitive,
    is_question,
    normalize_question,
    private,
    rank,
    redact,
    score,
    text_facts,
    troll_signals,
)

START = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)

# -- questions --------------------------------------------------------------------------------

QUESTIONS = [
    "How do I reset my password #AskAcme",
    "how do i export my data",
    "What is the roadmap for 2026",
    "When will the app support dark mode",
    "can you share the slides",
    "Is there a student discount",
    "does it work on Linux",
    "Any plans to open an office in Lyon",
    "Hi Acme! how do I export data",
    "Hey team, quick one - how does billing work",
    "@acme is there an API",
    ".@acme can we self-host",
    "Why is it so slow",
    "What's next for Acme",
    "Does anyone know if it's open source",
    "Is Acme hiring",
    "Which plan is best for teams",
    "Who is the new CEO",
    "How long does shipping take",
    "What time does it start",
    "Wondering if there is a free tier",
    "Would love to know the pricing",
    "Price？",
    "Price ?",
    "Is it really 9.99?!",
    "¿Cuándo llega a México?",
    # French
    "Comment réinitialiser mon mot de passe",
    "Pourquoi le prix a augmenté",
    "Quand sortira la v2",
    "Est-ce que l'appli marche hors ligne",
    "Qu'est-ce que vous prévoyez pour 2026",
    "Quelle est la date de sortie",
    "Quels sont les tarifs",
    "Combien ça coûte",
    "Où trouver la documentation",
    "Allez-vous ouvrir un bureau à Lyon",
    "Peut-on payer en euros",
    "Y a-t-il une version gratuite",
    "Avez-vous une appli Android",
    "Bonjour, pourriez-vous expliquer la facturation",
    "Et la v3, sortira-t-elle cette année",
]

NOT_QUESTIONS = [
    "Great session!",
    "Love this 🔥",
    "#AskAcme starting soon",
    "#AskAcme starts at 6pm, see you there",
    "Thanks @acme",
    "Have a nice day",
    "What a session!",
    "How cool is that!",
    "Can't wait!",
    "Do it!",
    "Will do",
    "May the force be with you",
    "Check https://example.com/faq?id=1",
    "Read example.com/faq?id=1 first",
    "How I built my startup in a weekend",
    "What we learned this year",
    "When the session ends I will post a recap",
    "Comment below with your thoughts",
    "Hands-on workshop today",
    "Add-on pricing is great",
    "Rejoignez-nous demain à 18h",
    "Inscrivez-vous ici",
    "Rendez-vous à 18h",
    "Merci pour la session !",
    "",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_questions_are_detected(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize("text", NOT_QUESTIONS)
def test_chatter_is_not_a_question(text: str) -> None:
    assert not is_question(text)


# -- private data -----------------------------------------------------------------------------


def kinds(text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in find_sensitive(text, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me: john.doe+acme@example.co.uk!", [("email", "john.doe+acme@example.co.uk")]),
        ("call me +33 6 12 34 56 78", [("phone", "+33 6 12 34 56 78")]),
        ("call 06 12 34 56 78 tonight", [("phone", "06 12 34 56 78")]),
        ("my number is (415) 555-2671", [("phone", "(415) 555-2671")]),
        ("+1 415 555 2671 after 6", [("phone", "+1 415 555 2671")]),
        ("ring 020 7946 0958", [("phone", "020 7946 0958")]),
        ("0041 44 668 18 00", [("phone", "0041 44 668 18 00")]),
        ("call 0612345678 2 times", [("phone", "0612345678")]),
        ("card 4111 1111 1111 1111 thx", [("card", "4111 1111 1111 1111")]),
        ("card 5500-0000-0000-0004", [("card", "5500-0000-0000-0004")]),
        ("card 4111111111111111", [("card", "4111111111111111")]),
        (
            "IBAN FR76 3000 6000 0112 3456 7890 189 THANKS",
            [("iban", "FR76 3000 6000 0112 3456 7890 189")],
        ),
        ("iban DE89370400440532013000.", [("iban", "DE89370400440532013000")]),
        ("GB82 WEST 1234 5698 7654 32", [("iban", "GB82 WEST 1234 5698 7654 32")]),
        # letters for an account number: only the check digits are digits
        (
            "my IBAN is QA69DOHBABCDEFGHIJKLMNOPQRSTU ok?",
            [("iban", "QA69DOHBABCDEFGHIJKLMNOPQRSTU")],
        ),
    ],
)
def test_private_data_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


NUMBERISH = st.text(alphabet="0123456789 +()-./\u00a0FRGBDEXabc:$€%\n", max_size=60)


@settings(max_examples=500, deadline=None)
@given(NUMBERISH)
def test_the_seven_digit_precheck_never_hides_a_number(text: str) -> None:
    patterns = compile_patterns([r"ACME-\d{6}"])
    found = find_sensitive(text, patterns)
    always = re.compile("")  # the scan without its pre-check
    saved = private._SEVEN_DIGITS
    private._SEVEN_DIGITS = always
    try:
        assert find_sensitive(text, patterns) == found
    finally:
        private._SEVEN_DIGITS = saved


class Spy:
    """Stands for a compiled pattern (or a module) and counts the calls of each method used."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped
        self.calls: Counter[str] = Counter()
        self.sizes: list[int] = []  # extractOne: the number of candidates of each call

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.wrapped, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "extractOne":
                self.sizes.append(len(args[1]))
            return method(*args, **kwargs)

        return counted


def test_the_precheck_is_one_pass_on_long_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    # How long it takes is for benchmarks/triage_bench.py; what makes it linear is proven here.
    seven = Spy(private._SEVEN_DIGITS)
    iban = Spy(private._IBAN_START)
    numbers = Spy(private._NUMBERS)
    monkeypatch.setattr(private, "_SEVEN_DIGITS", seven)
    monkeypatch.setattr(private, "_IBAN_START", iban)
    monkeypatch.setattr(private, "_NUMBERS", numbers)
    text = "x " * 50_000 + "12 34 56"  # six digits after 100,000 characters
    assert find_sensitive(text) == []
    # One anchored match whose \D*+ is possessive (it never gives back what it took, so the
    # match fails in one pass; a search would restart at every character), and one search for
    # a fixed-length IBAN start; the number scan itself never runs.
    assert seven.calls == {"match": 1} and "\\D*+" in seven.wrapped.pattern
    assert iban.calls == {"search": 1}
    assert numbers.calls["finditer"] == 0
    # the spies see the scan when there is something to scan
    assert kinds(text[:-8] + "call 06 12 34 56 78") == [("phone", "06 12 34 56 78")]
    assert numbers.calls["finditer"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "@alice@mastodon.social is my handle",
        "Thanks @acme and @bob!",
        "card 4111-1111-1111-1112 (Luhn fails)",
        "FR76 3000 6000 0112 3456 7890 188 (bad check digits)",
        "in 2024 we grew",
        "from 2019 2020 2021 to 2024",
        "between 2024-2025",
        "on 2024-05-12 at 10:30",
        "it's 12.05.2024",
        "at 10:30-11:30 or 14:00",
        "version 10.0.19041.1234",
        "upgrade to v2.10.4",
        "costs $1 299 000",
        "costs 1 299 000 €",
        "price 1,299,000 USD",
        "1 000 000 users",
        "1000000 views",
        "10,000,000 downloads",
        "between 1500000 and 2500000",
        "order #12345678 is late",
        "my order 12345678 is late",
        "HTTP 404 then 500",
    ],
)
def test_numbers_that_are_not_private(text: str) -> None:
    assert find_sensitive(text) == []


def test_extra_patterns_and_redact() -> None:
    patterns = compile_patterns([r"\bACME-\d{6}\b", r"(?i)contract\s+\w+"])
    text = "Contract AB12, order ACME-123456, mail a@b.io"
    found = find_sensitive(text, patterns)
    assert [f.kind for f in found] == ["pattern", "pattern", "email"]
    assert redact(text, found) == "[redacted], order [redacted], mail [redacted]"


def test_redact_merges_overlaps_and_keeps_text_without_findings() -> None:
    text = "0123456789"
    assert redact(text, []) == text
    overlapping = [Finding("phone", 2, 6), Finding("pattern", 4, 8), Finding("card", 5, 7)]
    assert redact(text, overlapping) == "01[redacted]89"
    assert redact(text, [Finding("x", 0, 2), Finding("x", 2, 4)]) == "[redacted][redacted]456789"


def test_compile_patterns_names_the_bad_one() -> None:
    with pytest.raises(ValueError, match=r"\(unclosed"):
        compile_patterns(["ok", "(unclosed"])


def test_phone_regions_can_be_narrowed() -> None:
    assert kinds("ring 020 7946 0958", regions=("FR",)) == []
    assert kinds("ring +44 20 7946 0958", regions=()) == [("phone", "+44 20 7946 0958")]


# -- troll signals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This is bullshit", ["profanity"]),
        ("you are a bunch of sh!t", ["profanity"]),
        ("F.U.C.K this", ["profanity"]),
        ("fuuuuck you", ["profanity"]),
        ("total a$$hole", ["profanity"]),
        ("what a blow job", ["profanity"]),
        ("WHY IS YOUR APP SO BROKEN", ["shouting"]),
        ("WHY IS YOUR APP SO F*CKING BROKEN, SHIT", ["profanity", "shouting"]),
        ("boycott acme now", ["blocked_word"]),
        ("What's your stance on #BoycottAcme", ["blocked_word"]),
        # Ordinary words the raw list would flag, and acronyms that are not shouting.
        ("How do I kill a stuck process?", []),
        ("Is there an organ donor programme?", []),
        ("Damn, when is the app fixed?", []),
        ("Is the API GA yet for iOS SDK?", []),
        ("OK", []),
        ("Love the new 🔥 features in 2026", []),
    ],
)
def test_troll_signals(text: str, expected: list[str]) -> None:
    assert troll_signals(text, 0, {"boycott", "#boycottacme"}) == expected


def test_flood() -> None:
    assert troll_signals("hi", 4, ()) == []
    assert troll_signals("hi", 5, ()) == ["flood"]
    assert troll_signals("hi", 2, (), flood_limit=2) == ["flood"]


# -- near-duplicates --------------------------------------------------------------------------


def test_normalisation() -> None:
    assert normalize_question("Hey @acme, how do I reset my PASSWORD?? 🔥 #AskAcme") == (
        "how do i reset my password"
    )
    assert normalize_question("Réinitialiser le mot de passe ?") == "reinitialiser le mot de passe"
    assert normalize_question("https://x.com/a?b ... #AskAcme 🔥") == ""


def test_clear_duplicates_merge_and_different_questions_do_not() -> None:
    index = DuplicateIndex()
    assert index.add("1", "How do I reset my password?") is None
    assert index.add("2", "how do i reset my password??") == "1"
    assert index.add("3", "How do I reset my password #AskAcme") == "1"
    assert index.add("4", "Hey @acme, how do I reset my pasword? Thanks!") == "1"
    assert index.add("5", "How do I reset my username?") is None
    assert index.add("6", "how do I reset my USERNAME #AskAcme") == "5"
    assert index.add("7", "Is version 2 out yet?") is None
    assert index.add("8", "Is version 3 out yet?") is None
    assert index.add("9", "Does it work offline?") is None
    assert index.add("10", "Does it not work offline?") is None
    assert index.add("11", "Comment réinitialiser mon mot de passe ?") is None
    assert index.add("12", "comment reinitialiser mon mot de passe") == "11"
    assert len(index) == 7
    assert index.canonical_of("4") == "1"
    assert "4" in index and "5" in index and "nope" not in index


def test_numbers_and_negations_partition_the_index() -> None:
    index = DuplicateIndex()
    assert index.add("1", "Is version 2 of the app out yet?") is None
    assert index.add("2", "Is version 3 of the app out yet?") is None
    assert index.add("3", "is version 2 of the app out yet??") == "1"
    assert index.add("4", "Is version 3 of the ap out yet") == "2"
    assert index.add("5", "Is version 2 of the app not out yet?") is None
    assert index.add("6", "Is version 2 of the app not out yet #AskAcme") == "5"
    assert len(index) == 3


def test_words_from_text_facts_give_the_same_groups() -> None:
    texts = generated_questions(2_000, seed=5)
    texts += [t.upper() + "??" for t in texts[::7]] + [t.replace(" my ", " ") for t in texts[::5]]
    plain, fed = DuplicateIndex(), DuplicateIndex()
    for i, text in enumerate(texts):
        words = text_facts(text).words
        assert fed.add(str(i), text, words=words) == plain.add(str(i), text)
    assert len(plain) == len(fed) < len(texts)


def test_empty_and_repeated_ids() -> None:
    index = DuplicateIndex()
    assert index.add("a", "🔥🔥 #AskAcme") is None
    assert index.add("b", "🔥 #AskAcme") is None
    assert len(index) == 0
    assert index.add("c", "Where is the FAQ?") is None
    assert index.add("c", "Where is the FAQ?") is None  # same id again: nothing changes
    assert index.add("d", "where is the faq") == "c"
    assert index.add("d", "anything") == "c"
    assert len(index) == 1


WORDS = str.split(
    "password account invoice export dashboard android tablet webhook billing plan seat "
    "refund shipping order delivery europe pricing discount student trial integration slack "
    "calendar sync offline theme language report chart filter search upload storage backup "
    "restore security login token mobile desktop browser printer camera audio video"
)
TEMPLATES = [
    "How do I {a} my {b} with {c} on {name}?",
    "When will {name} support {a} {b} and {c}?",
    "Is there a way to get {a} {b} for {c} in {name}",
    "Any plans to add {a} {b} to the {c} of {name}?",
    "Why does {a} break my {b} when {c} is on in {name}?",
]


def generated_questions(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        name = "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(4))
        words = {k: rng.choice(WORDS) for k in "abc"}
        out.append(rng.choice(TEMPLATES).format(name=name, **words))
    return out


def test_adding_compares_a_bounded_number_of_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    # The time per add() as the index grows is for benchmarks/triage_bench.py; here, the work:
    # each add() scores at most query_words postings of posting_cap candidates, however many
    # questions the index holds.
    spy = Spy(duplicates.process)
    monkeypatch.setattr(duplicates, "process", spy)
    texts = generated_questions(20_000, seed=11)
    index = DuplicateIndex()
    for i, text in enumerate(texts):
        index.add(str(i), text)
    assert len(index) > 19_900  # distinct questions stay distinct
    assert spy.calls["extractOne"] > 19_000  # nearly every add() looked for a duplicate
    assert max(spy.sizes) <= index.query_words * index.posting_cap  # 96, of up to 20,000
    # and the grown index still finds duplicates of old and new questions
    assert index.add("dup-old", texts[5].upper() + " #AskAcme") == "5"
    assert index.add("dup-new", texts[-5].lower() + "??") == str(len(texts) - 5)


# -- ranking ----------------------------------------------------------------------------------


def feature(
    qid: str,
    *,
    likes: int = 0,
    reposts: int = 0,
    duplicates: int = 0,
    first_time: bool = False,
    minutes: float = 0.0,
    pinned: bool = False,
    flags: frozenset[str] = frozenset(),
) -> QuestionFeatures:
    return QuestionFeatures(
        id=qid,
        likes=likes,
        reposts=reposts,
        duplicates=duplicates,
        first_time=first_time,
        created_at=START + timedelta(minutes=minutes),
        pinned=pinned,
        flags=flags,
    )


def test_weights_defaults_and_from_mapping() -> None:
    w = Weights()
    assert (w.likes, w.reposts, w.duplicates, w.first_time) == (1.0, 2.0, 3.0, 1.0)
    assert (w.age_per_minute, w.pinned, w.sensitive, w.troll) == (-0.05, 1000.0, 0.0, -50.0)
    assert Weights.from_mapping(None) == w
    custom = Weights.from_mapping({"likes": 2, "troll": -100.5})
    assert custom.likes == 2.0 and custom.troll == -100.5 and custom.reposts == 2.0
    assert Weights.from_mapping({"age": -0.1}).age_per_minute == -0.1  # the plan's spelling
    with pytest.raises(ValueError, match="not both"):
        Weights.from_mapping({"age": -0.1, "age_per_minute": -0.2})
    with pytest.raises(ValueError, match=r"unknown ranking weight.*likez"):
        Weights.from_mapping({"likez": 1})
    with pytest.raises(ValueError, match="must be a number"):
        Weights.from_mapping({"likes": "a lot"})
    with pytest.raises(ValueError, match="must be a number"):
        Weights.from_mapping({"pinned": True})


def test_score() -> None:
    w = Weights()
    now = START + timedelta(minutes=20)
    q = feature("a", likes=3, reposts=1, duplicates=2, first_time=True, minutes=0)
    assert score(q, w, now) == pytest.approx(3 + 2 + 6 + 1 - 0.05 * 20)
    troll = feature("b", likes=3, flags=frozenset({"troll", "sensitive"}))
    assert score(troll, w, now) == pytest.approx(3 - 50 - 1)
    # a question asked a day ahead ages from the session start, not from when it was asked
    ahead = feature("c", likes=3, minutes=-24 * 60, flags=frozenset({"ahead"}))
    assert score(ahead, w, now, session_start=START) == pytest.approx(3 - 1)
    assert score(ahead, w, now) == pytest.approx(3 - 0.05 * (24 * 60 + 20))
    # a question "from the future" (clock skew) gets no bonus
    assert score(feature("d", minutes=30), w, now) == 0


def test_rank_orders_best_first_with_stable_ties() -> None:
    w = Weights()
    now = START + timedelta(minutes=30)
    questions = [
        feature("low", likes=1, minutes=10),
        feature("liked", likes=20, minutes=10),
        feature("pinned", minutes=29, pinned=True),
        feature("troll", likes=40, minutes=10, flags=frozenset({"troll"})),
        feature("tie-b", likes=5, minutes=5),
        feature("tie-a", likes=5, minutes=5),  # same score and time as tie-b: the id decides
    ]
    ranked = rank(questions, w, now)
    ids = [q.id for _, q in ranked]
    assert ids[:2] == ["pinned", "liked"]
    assert ids[-1] == "troll"
    assert ids.index("tie-a") < ids.index("tie-b")
    scores = [s for s, _ in ranked]
    assert scores == sorted(scores, reverse=True)
    assert [q.id for _, q in rank(questions, w, now, limit=3)] == ids[:3]
    assert rank(questions, w, now, limit=0) == []
    assert rank([], w, now) == []


def test_exact_ties_go_to_the_earlier_question_then_the_smaller_id() -> None:
    w = Weights(age_per_minute=0.0)
    now = START + timedelta(minutes=30)
    questions = [
        feature("b", likes=2, minutes=5),
        feature("c", likes=2, minutes=1),
        feature("a", likes=2, minutes=5),
    ]
    assert [q.id for _, q in rank(questions, w, now)] == ["c", "a", "b"]
    assert [q.id for _, q in rank(questions, w, now, limit=2)] == ["c", "a"]


def test_rank_with_limit_matches_full_sort_on_a_big_queue() -> None:
    rng = random.Random(5)
    questions = [
        feature(
            f"q{i}",
            likes=rng.randint(0, 30),
            reposts=rng.randint(0, 5),
            duplicates=rng.randint(0, 2),
            first_time=rng.random() < 0.3,
            minutes=rng.randint(-120, 45),
            flags=frozenset({"troll"}) if rng.random() < 0.05 else frozenset(),
        )
        for i in range(10_000)
    ]
    now = START + timedelta(minutes=45)
    full = rank(questions, Weights(), now, session_start=START)
    top = rank(questions, Weights(), now, limit=25, session_start=START)
    assert [q.id for _, q in top] == [q.id for _, q in full[:25]]
    assert len(full) == 10_000
    assert all(s == score(q, Weights(), now, session_start=START) for s, q in full[::97])
    assert rank(iter(questions), Weights(), now, limit=25, session_start=START) == top


# -- classify ---------------------------------------------------------------------------------


def post(text: str, *, author: str = "@alice", kind: str = "post", minutes: float = 1) -> Post:
    return Post(
        id="p1",
        author=author,
        text=text,
        created_at=START + timedelta(minutes=minutes),
        kind=kind,  # type: ignore[arg-type]
    )


def test_classify_ignores_the_host_and_reposts() -> None:
    for host in ("@Acme", "acme", "@acme"):
        c = classify(post("How do I?", author="@ACME"), host=host, start=START)
        assert c.ignore and c.reason == "host" and not c.is_question
    c = classify(post("RT How do I?", kind="repost"), host="@acme", start=START)
    assert c.ignore and c.reason == "repost"
    c = classify(post("How do I?", author="@acme2"), host="@acme", start=START)
    assert not c.ignore


def test_classify_flags() -> None:
    patterns = compile_patterns([r"\bACME-\d{6}\b"])
    text = "My order ACME-123456 is late, call me on 06 12 34 56 78. Where is it?"
    phone = text.index("06 12")
    c = classify(
        post(text),
        host="@acme",
        start=START,
        extra_patterns=patterns,
    )
    assert c == Classification(
        is_question=True,
        flags=frozenset({"sensitive"}),
        findings=[Finding("pattern", 9, 20, "private data"), Finding("phone", phone, phone + 14)],
        ignore=False,
        reason=None,
    )
    c = classify(
        post("WHY IS THIS SO BROKEN, IS ANYONE EVEN THERE", minutes=-60 * 24),
        host="@acme",
        start=START,
        blocked_words=frozenset({"scam"}),
        author_recent_count=7,
        flood_limit=5,
    )
    assert c.is_question
    assert c.flags == {"troll", "ahead"}
    assert c.signals == ("shouting", "flood")
    assert c.reason == "troll: shouting, flood"
    c = classify(post("Great session! #AskAcme"), host=None, start=START)
    assert (c.is_question, c.flags, c.findings, c.ignore) == (False, frozenset(), [], False)


def test_text_facts_are_the_text_half_of_classify() -> None:
    text = "WHY IS MY CARD 4111 1111 1111 1111 REFUSED, WHAT THE HELL #AskAcme"
    facts = text_facts(text)
    assert facts.is_question and facts.flags == {"sensitive", "troll"}
    assert facts.signals == ("shouting",)
    assert [f.kind for f in facts.findings] == ["card"]
    assert "#AskAcme" not in facts.cleaned and "card" in facts.words
    c = classify(post(text), host=None, start=START, author_recent_count=9, facts=facts)
    assert c.signals == ("shouting", "flood") and c.flags == {"sensitive", "troll"}
    assert facts.signals == ("shouting",)  # the kept facts are not changed by one post
    chatter = text_facts("Great session, thanks! #AskAcme")
    assert not chatter.is_question and chatter.words == () and chatter.flags == frozenset()
    assert chatter.post_flags(flood=True, ahead=True) == {"troll", "ahead"}


def test_classify_quotes_and_replies_are_triaged_like_posts() -> None:
    for kind in ("quote", "reply"):
        c = classify(post("Is there a free tier?", kind=kind), host="@acme", start=START)
        assert c.is_question and not c.ignore


def test_is_question_ignores_question_marks_inside_links_only() -> None:
    assert not is_question("see https://acme.example/help?topic=billing #AskAcme")
    assert is_question("see https://acme.example/help?topic=billing — is that current?")
