"""Near-duplicate questions, found without comparing each question with all others."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

from rapidfuzz import fuzz, process

from qasession.triage.cleaning import strip_entities, word_set

__all__ = ["DuplicateIndex", "Prepared", "normalize_question", "prepare", "question_tokens"]

_FILLERS = word_set(
    """
    please pls plz hi hey hello hiya thanks thank thx ty so just really actually um uh quick
    question q folks guys team all everyone lol btw also basically kindly hmm ok okay well
    dear sir madam svp merci bonjour salut coucou stp
    """
)
# Words too common to find candidates with (they are kept in the compared text).
_STOPWORDS = _FILLERS | word_set(
    """
    a an the i you we they he she it my your our their is are was were be am do does did can
    could will would should shall may might must has have had to of in on for at by with
    from about and or but if how what when where why who which whose this that these those
    there any me us them its his her not no le la les un une de des du et ou je tu il elle on
    nous vous ils elles est sont que qui quoi pour par avec dans sur ce cette mon ma mes
    """
)
_NEGATIONS = word_set("not no never nothing nobody none cannot without pas jamais rien")
_WORDS = re.compile(r"[^\W_]+")
_COMBINING = re.compile(r"[\u0300-\u036f]")


def question_tokens(cleaned: str) -> list[str]:
    """The compared words of a text already through `strip_entities`."""
    cleaned = cleaned.lower().replace("n't", " not")
    if not cleaned.isascii():
        cleaned = _COMBINING.sub("", unicodedata.normalize("NFKD", cleaned))
    return [w for w in _WORDS.findall(cleaned) if w not in _FILLERS]


def normalize_question(text: str) -> str:
    """`text` as DuplicateIndex compares it: lower case, no accents, punctuation, links,
    mentions, hashtags, emoji or filler words."""
    return " ".join(question_tokens(strip_entities(text)))


_Guard = tuple[frozenset[str], frozenset[str]]
_NO_GUARD: _Guard = (frozenset(), frozenset())


class Prepared(NamedTuple):
    """What `DuplicateIndex.add` needs of a question's text, none of it depending on the index:
    computed where the text is at hand (the archive's scanner process) and added later."""

    key: str  # the compared words in order: questions equal after normalising
    sorted_key: str  # the same words sorted: what is scored
    guard: _Guard
    content: tuple[str, ...]  # the distinct words candidates are found by (no stop words)


def prepare(text: str, words: Sequence[str] | None = None) -> Prepared | None:
    """`text` made ready for `DuplicateIndex.add` (`words`: `text_facts(text).words`, when the
    caller has them); None for an empty question (only tags, links or emoji)."""
    tokens = question_tokens(strip_entities(text)) if words is None else words
    if not tokens:
        return None
    return Prepared(
        " ".join(tokens),
        " ".join(sorted(tokens)),
        _guard(tokens),
        tuple(set(tokens) - _STOPWORDS),
    )


class DuplicateIndex:
    """Finds near-identical questions without comparing each with all others.

    An exact dictionary catches questions equal after `normalize_question`. Otherwise the
    candidates are the canonical questions with the same guard (the same numbers and
    negations: "version 2" never merges with "version 3", so those are not even compared)
    that share one of the new question's `query_words` rarest words (an inverted index, per
    guard, over each question's `index_words` rarest words, each posting read at most
    `posting_cap` deep, most recent first); the most similar candidate is merged into when its
    rapidfuzz ratio of token-sorted texts is >= `threshold`. The cost of add() is bounded by
    these caps, not by the number of questions."""

    def __init__(
        self,
        threshold: float = 90.0,
        *,
        index_words: int = 4,
        query_words: int = 3,
        posting_cap: int = 32,
    ) -> None:
        self.threshold = threshold
        self.index_words = index_words
        self.query_words = query_words
        self.posting_cap = posting_cap
        self._exact: dict[str, int] = {}
        self._ids: list[str] = []
        # per guard, word -> (positions, their token-sorted texts), oldest first
        self._postings: dict[_Guard, dict[str, _Posting]] = {}
        self._df: dict[str, int] = {}
        self._position: dict[str, int] = {}
        self._duplicates: dict[str, str] = {}

    def __len__(self) -> int:
        """The number of canonical questions."""
        return len(self._ids)

    def __contains__(self, qid: object) -> bool:
        return qid in self._position or qid in self._duplicates

    def canonical_of(self, qid: str) -> str | None:
        """The canonical question `qid` was merged into, or None."""
        return self._duplicates.get(qid)

    def add(
        self,
        qid: str,
        text: str,
        *,
        words: Sequence[str] | None = None,
        prepared: Prepared | None = None,
    ) -> str | None:
        """The id of the canonical question `text` duplicates (then `qid` is not indexed), or
        None after indexing `qid` as a new canonical question. An empty question (only tags,
        links or emoji) is neither indexed nor merged; adding an id again changes nothing.
        `words` are `text_facts(text).words` when the caller has them already, `prepared`
        `prepare(text)` (then `text` is not read)."""
        if qid in self._position:
            return None
        if qid in self._duplicates:
            return self._duplicates[qid]
        if prepared is None:
            prepared = prepare(text, words)
            if prepared is None:
                return None
        key, sorted_key, guard, words_in = prepared
        hit = self._exact.get(key)
        if hit is not None:
            return self._merge(qid, hit)
        df = self._df
        # Rarest first; longer words break ties, as they say more.
        content = [t for _, _, t in sorted((df.get(t, 0), -len(t), t) for t in words_in)]
        postings = self._postings.get(guard)
        if postings is None:
            postings = self._postings[guard] = {}
        elif content:
            hit = self._similar(sorted_key, postings, content)
            if hit is not None:
                return self._merge(qid, hit)
        self._exact[key] = self._insert(qid, sorted_key, content, postings)
        return None

    def _insert(
        self, qid: str, sorted_key: str, content: list[str], postings: dict[str, _Posting]
    ) -> int:
        """Index `qid` as a new canonical question; its position."""
        position = len(self._ids)
        self._ids.append(qid)
        self._position[qid] = position
        df = self._df
        for word in content:
            df[word] = df.get(word, 0) + 1
        for word in content[: self.index_words]:
            posting = postings.get(word)
            if posting is None:
                postings[word] = ([position], [sorted_key])
            else:
                posting[0].append(position)
                posting[1].append(sorted_key)
        return position

    def _merge(self, qid: str, position: int) -> str:
        canonical = self._ids[position]
        self._duplicates[qid] = canonical
        return canonical

    def _similar(
        self, sorted_key: str, postings: dict[str, _Posting], content: list[str]
    ) -> int | None:
        cap = self.posting_cap
        # The rarest words that index something; a typo makes a word new, not a miss.
        positions: list[int] = []
        texts: list[str] = []
        found = 0
        for word in content:
            posting = postings.get(word)
            if posting:
                positions += posting[0][-cap:]
                texts += posting[1][-cap:]
                found += 1
                if found == self.query_words:
                    break
        if not found:
            return None
        # One call into rapidfuzz scores all candidates in C (the ratio of token-sorted
        # texts is token_sort_ratio); every candidate already has the same guard. A question
        # under two of the words is scored twice: the best is still its first occurrence.
        best = process.extractOne(sorted_key, texts, scorer=fuzz.ratio, score_cutoff=self.threshold)
        return None if best is None else positions[best[2]]


# a posting: the positions of the questions indexed under a word, and their sorted texts
_Posting = tuple[list[int], list[str]]


def _guard(tokens: Sequence[str]) -> _Guard:
    """Different numbers ("version 2" / "version 3") or a negation make a different
    question however similar the letters are."""
    numbers = list(filter(str.isdigit, tokens))
    negations = _NEGATIONS.intersection(tokens)
    if not numbers and not negations:
        return _NO_GUARD
    return frozenset(numbers), negations
