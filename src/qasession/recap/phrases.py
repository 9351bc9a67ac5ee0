"""Key phrases of the questions (yake, in each question's language) grouped with the questions
they come from, and a language guess from stop words for posts the platform did not tag.

yake scores the phrases of one text without a model (word position, frequency, case, context;
lower is better); it ships stop word lists for many languages. Per question we keep its best
phrases that hold no stop or filler word, one per idea (a phrase sharing a word with a better
one is dropped: "app support" after "mobile app"), then group the questions by phrase, matched
after light stemming ("webhook" and "webhooks", "open-source" and "open source"). A phrase is
shown only when it carries signal: asked in two question posts or more (merged duplicates
count), or in a question the audience engaged with (likes + reposts).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from qasession.recap.parts import KeyPhrase

LANGUAGES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
}
PER_QUESTION = 3  # key phrases kept per question
MAX_WORDS = 3
SHOWN = 15
ENGAGED = 5  # likes + reposts that make a one-off question's phrases worth showing
MAX_QUESTIONS = 2_000  # the most engaging questions analysed (yake takes a few ms each)
# Words that say nothing about a topic in a Q&A, beyond the language's stop words.
_FILLER_TEXT = """
    plan plans planning planned question questions answer answers ask asked asking thanks
    thank please anyone someone something anything everyone everything look looking call
    calls back hello guys folks today time day days year years tell think know let like
    make made get got give lot lots way thing things session live people team wonder
    wondering curious possible soon currently actually really maybe last first one next
    feature features support supported work works working use using update personally
    excited typical biggest best worst learn learned decide handle missed start started
    wrong right good great bad new old big small size favourite favorite most least
"""
FILLER = frozenset(_FILLER_TEXT.split())
_ENTITIES = re.compile(r"https?://\S+|www\.\S+|[.]?@[\w.-]+|[#＃]\w+")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu)['’]", re.IGNORECASE)
_ACRONYM = re.compile(r"\b([A-Z]{2})\s+$")


@cache
def stop_words(lang: str) -> frozenset[str]:
    """yake's stop word list for `lang` (its "no language" list for others)."""
    name = f"stopwords_{lang}.txt" if lang in LANGUAGES else "stopwords_noLang.txt"
    text = resources.files("yake.core").joinpath("StopwordsList", name).read_text("utf-8")
    return frozenset(w.strip().lower() for w in text.split() if w.strip())


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(_ENTITIES.sub(" ", text))]


@cache
def _stop_index() -> dict[str, tuple[str, ...]]:
    """Each stop word of the guessed languages -> the languages whose list holds it (one
    look-up per word of a text, not one per word and language: an archive guesses the
    language of a hundred thousand questions)."""
    index: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        for word in stop_words(lang):
            index.setdefault(word, []).append(lang)
    return {word: tuple(langs) for word, langs in index.items()}


def guess_language(text: str) -> str:
    """The language whose stop words the text uses most (two at least, and more than any
    other's), else `und`."""
    words = words_of(text)
    if not words:
        return "und"
    index = _stop_index()
    counts = dict.fromkeys(LANGUAGES, 0)
    for word in words:
        for lang in index.get(word, ()):
            counts[lang] += 1
    scores = sorted(((n, lang) for lang, n in counts.items()), reverse=True)
    (best, lang), (second, _) = scores[0], scores[1]
    return lang if best >= 2 and best > second else "und"


def tag_language(tag: str | None) -> str | None:
    """The language a platform's tag names ("en", "fr-CA" -> "fr"); None when it names none
    ("und": undetermined; X's "qme", "qht", "zxx": media, hashtags, no text)."""
    if tag and tag.lower() not in ("und", "qme", "qht", "zxx"):
        return tag.split("-")[0].lower()
    return None


def language_of(tag: str | None, text: str) -> str:
    """The platform's language tag ("en", "fr-CA" -> "fr"), or a guess from the text."""
    return tag_language(tag) or guess_language(text)


def _stem(word: str) -> str:
    word = unicodedata.normalize("NFKD", word)
    word = "".join(c for c in word if not unicodedata.combining(c))
    if len(word) > 3 and word[-1] in "sx" and not word.endswith("ss"):
        word = word[:-1]
    return word


def phrase_key(phrase: str) -> str:
    """The phrase as grouped: lower case, hyphens as spaces, each word lightly stemmed."""
    return " ".join(_stem(w) for w in phrase.lower().replace("-", " ").split())


@dataclass(slots=True)
class QuestionText:
    """A canonical question to analyse: `posts` counts it and its merged duplicates."""

    id: str
    text: str
    lang: str
    posts: int = 1
    engagement: int = 0


class PhraseFinder:
    """Finds each question's phrases; `brand` words (the hashtag's, "acme" of #AskAcme) are
    filler too: every question is about the brand."""

    def __init__(self, brand: Iterable[str] = ()) -> None:
        self.brand = frozenset(w.lower() for w in brand)
        self._extractors: dict[str, Any] = {}

    def _extractor(self, lang: str) -> Any:
        import yake

        found = self._extractors.get(lang)
        if found is None:
            stops = set(stop_words(lang)) | FILLER | self.brand
            found = yake.KeywordExtractor(
                lan=lang if lang in LANGUAGES else "en",
                n=MAX_WORDS,
                top=PER_QUESTION * 2,
                dedup_lim=0.9,
                stopwords=stops,
            )
            self._extractors[lang] = found
        return found

    def _is_content(self, word: str, lang: str) -> bool:
        w = word.lower()
        if any(c.isdigit() for c in w):
            return False  # numbers are no topic (and may be part of a phone or an order)
        if "-" in w:  # "on-call", "open-source" are content; "est-ce" is not
            return any(p and p not in stop_words(lang) for p in w.split("-")) and all(
                p not in self.brand for p in w.split("-")
            )
        return (
            (len(w) >= 3 or (len(word) == 2 and word.isupper()))
            and w not in stop_words(lang)
            and w not in FILLER
            and w not in self.brand
            and any(c.isalpha() for c in w)
        )

    def _chunks(self, phrase: str, lang: str) -> list[str]:
        """The runs of content words of a yake phrase ("disponible en français" ->
        "disponible", "français")."""
        chunks: list[str] = []
        run: list[str] = []
        for word in phrase.split():
            word = _ELISION.sub("", word)  # l'interface -> interface
            if self._is_content(word, lang):
                run.append(word)
            elif run:
                chunks.append(" ".join(run))
                run = []
        if run:
            chunks.append(" ".join(run))
        return chunks

    def phrases(self, question: QuestionText) -> list[str]:
        """The question's key phrases, best first, one per idea."""
        text = " ".join(_ENTITIES.sub(" ", question.text).split())
        if not text:
            return []
        found = self._extractor(question.lang).extract_keywords(text)
        kept: list[str] = []
        used: set[str] = set()
        for phrase, _score in sorted(found, key=lambda item: float(item[1])):
            for chunk in self._chunks(str(phrase), question.lang):
                keys = set(phrase_key(chunk).split())
                if keys & used:
                    continue
                used |= keys
                kept.append(_with_acronym(text, chunk))
                if len(kept) == PER_QUESTION:
                    return kept
        return kept


def _parts(phrase: str) -> dict[str, str]:
    """The phrase and its shorter runs of words, by key: a question asking about "dark mode
    coming" asks about "dark mode" too."""
    words = phrase.split()
    out: dict[str, str] = {}
    for size in range(len(words), 0, -1):
        for start in range(len(words) - size + 1):
            part = " ".join(words[start : start + size])
            out.setdefault(phrase_key(part), part)
    return out


def _with_acronym(text: str, phrase: str) -> str:
    """yake skips words of two letters: an acronym right before the phrase joins it back
    ("EU" + "data centre")."""
    at = text.find(phrase)
    if at > 0:
        match = _ACRONYM.search(text[:at])
        if match:
            return f"{match.group(1)} {phrase}"
    return phrase


def phrases_of(questions: Sequence[QuestionText], brand: Iterable[str] = ()) -> list[list[str]]:
    """Each question's key phrases (`PhraseFinder.phrases`), in order: the costly part of
    `key_phrases`, which another process may do (an archive's scanning worker)."""
    finder = PhraseFinder(brand)
    return [finder.phrases(question) for question in questions]


def key_phrases(
    questions: Sequence[QuestionText],
    *,
    brand: Iterable[str] = (),
    shown: int = SHOWN,
    found: Sequence[list[str]] | None = None,
) -> list[KeyPhrase]:
    """The key phrases that carry signal, with the questions they come from, strongest
    first (question posts, then the best phrase of each question, then engagement). A phrase
    is left out when a longer one holding it comes from the same questions. `found`: the
    questions' `phrases_of`, when they are known already."""
    if found is None:
        found = phrases_of(questions, brand)
    groups: dict[str, dict[str, Any]] = {}
    for question, phrases in zip(questions, found, strict=True):
        for rank, phrase in enumerate(phrases):
            for key, form in _parts(phrase).items():
                group = groups.setdefault(
                    key,
                    {"forms": {}, "ids": [], "texts": [], "posts": 0, "engagement": 0, "rank": 9},
                )
                group["forms"][form] = group["forms"].get(form, 0) + 1
                if question.id in group["ids"]:
                    continue
                group["ids"].append(question.id)
                group["texts"].append(question.text)
                group["posts"] += question.posts
                group["engagement"] += question.engagement
                group["rank"] = min(group["rank"], rank)
    covered = set()
    for key, group in groups.items():
        ids = set(group["ids"])
        for form in group["forms"]:
            for part in _parts(form):
                if part != key and part in groups and set(groups[part]["ids"]) <= ids:
                    covered.add(part)
    signal = [
        g
        for key, g in groups.items()
        if key not in covered and (g["posts"] >= 2 or g["engagement"] >= ENGAGED)
    ]
    signal.sort(key=lambda g: (-g["posts"], g["rank"], -g["engagement"]))
    out = []
    for g in signal[:shown]:
        form = max(g["forms"].items(), key=lambda item: (item[1], -len(item[0])))[0]
        out.append(KeyPhrase(form, g["posts"], list(g["ids"]), list(g["texts"][:3])))
    return out
