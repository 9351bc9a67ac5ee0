"""Near-duplicate questions, found without comparing each question with all others."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from itertools import chain

from rapidfuzz import fuzz, process

from qasession.triage.cleaning import strip_entities, word_set

__all__ = ["DuplicateIndex", "normalize_question", "question_tokens"]

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
        self._sorted: list[str] = []  # token-sorted normalised text, what is compared
        self._postings: dict[_Guard, dict[str, list[int]]] = {}
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

    def add(self, qid: str, text: str, *, words: Sequence[str] | None = None) -> str | None:
        """The id of the canonical question `text` duplicates (then `qid` is not indexed), or
        None after indexing `qid` as a new canonical question. An empty question (only tags,
        links or emoji) is neither indexed nor merged; adding an id again changes nothing.
        `words` are `text_facts(text).words` when the caller has them already."""
        if qid in self._position:
            return None
        if qid in self._duplicates:
            return self._duplicates[qid]
        tokens = question_tokens(strip_entities(text)) if words is None else words
        if not tokens:
            return None
        key = " ".join(tokens)
        hit = self._exact.get(key)
        if hit is not None:
            return self._merge(qid, hit)
        df = self._df
        # Rarest first; longer words break ties, as they say more.
        content = [
            t for _, _, t in sorted((df.get(t, 0), -len(t), t) for t in set(tokens) - _STOPWORDS)
        ]
        sorted_key = " ".join(sorted(tokens))
        guard = _guard(tokens)
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
        self, qid: str, sorted_key: str, content: list[str], postings: dict[str, list[int]]
    ) -> int:
        """Index `qid` as a new canonical question; its position."""
        position = len(self._ids)
        self._ids.append(qid)
        self._sorted.append(sorted_key)
        self._position[qid] = position
        df = self._df
        for word in content:
            df[word] = df.get(word, 0) + 1
        for word in content[: self.index_words]:
            posting = postings.get(word)
            if posting is None:
                postings[word] = [position]
            else:
                posting.append(position)
        return position

    def _merge(self, qid: str, position: int) -> str:
        canonical = self._ids[position]
        self._duplicates[qid] = canonical
        return canonical

    def _similar(
        self, sorted_key: str, postings: dict[str, list[int]], content: list[str]
    ) -> int | None:
        cap = self.posting_cap
        # The rarest words that index something; a typo makes a word new, not a miss.
        lists: list[list[int]] = []
        for word in content:
            posting = postings.get(word)
            if posting:
                lists.append(posting[-cap:])
                if len(lists) == self.query_words:
                    break
        if not lists:
            return None
        positions = list(dict.fromkeys(chain.from_iterable(lists))) if len(lists) > 1 else lists[0]
        texts = self._sorted
        # One call into rapidfuzz scores all candidates in C (the ratio of token-sorted
        # texts is token_sort_ratio); every candidate already has the same guard.
        best = process.extractOne(
            sorted_key,
            [texts[p] for p in positions],
            scorer=fuzz.ratio,
            score_cutoff=self.threshold,
        )
        return None if best is None else positions[best[2]]


_Guard = tuple[frozenset[str], frozenset[str]]
_NO_GUARD: _Guard = (frozenset(), frozenset())


def _guard(tokens: Sequence[str]) -> _Guard:
    """Different numbers ("version 2" / "version 3") or a negation make a different
    question however similar the letters are."""
    numbers = list(filter(str.isdigit, tokens))
    negations = _NEGATIONS.intersection(tokens)
    if not numbers and not negations:
        return _NO_GUARD
    return frozenset(numbers), negations
