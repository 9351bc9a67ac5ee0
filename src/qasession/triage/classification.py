"""One call per incoming post: what triage makes of it (question, flags, findings, ignore)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from qasession.platforms.base import Post
from qasession.triage.cleaning import strip_entities
from qasession.triage.duplicates import question_tokens
from qasession.triage.private import (
    DEFAULT_PHONE_REGIONS,
    Finding,
    SensitivePattern,
    find_sensitive,
)
from qasession.triage.questions import is_question_clean
from qasession.triage.trolls import text_signals

__all__ = ["Classification", "TextFacts", "classify", "text_facts"]


@dataclass(frozen=True, slots=True)
class Classification:
    """What triage makes of one incoming post. `flags` ⊆ {sensitive, troll, ahead};
    `duplicate` is the caller's, from DuplicateIndex. `reason` says why a post is ignored
    ("host", "repost") or why it is flagged troll ("troll: profanity, flood")."""

    is_question: bool
    flags: frozenset[str]
    findings: list[Finding]
    ignore: bool
    reason: str | None
    signals: tuple[str, ...] = ()  # the troll signals behind the "troll" flag


def _handle_key(handle: str) -> str:
    return handle.lstrip("@").casefold()


_NO_FLAGS: frozenset[str] = frozenset()


class TextFacts(NamedTuple):
    """What triage reads from a post's text alone, the same for every post with that text
    (so a caller may keep them for texts that come again: copied questions, floods)."""

    cleaned: str  # without links, mentions and tags
    is_question: bool
    findings: tuple[Finding, ...]
    signals: tuple[str, ...]  # troll signals of the text: blocked_word, profanity, shouting
    words: tuple[str, ...]  # what DuplicateIndex compares (questions only; else empty)
    flags: frozenset[str]  # "sensitive" and "troll" as far as the text says

    def post_flags(self, *, flood: bool, ahead: bool) -> frozenset[str]:
        """The flags of a post with this text: plus "troll" when its author floods, plus
        "ahead" when it came before the start."""
        if not flood and not ahead:
            return self.flags
        extra = {"troll"} if flood else set()
        if ahead:
            extra.add("ahead")
        return self.flags | extra


def text_facts(
    text: str,
    *,
    extra_patterns: Sequence[SensitivePattern | re.Pattern[str]] = (),
    blocked_words: Collection[str] = frozenset(),
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
) -> TextFacts:
    """The text half of `classify`."""
    cleaned = strip_entities(text)
    asks = is_question_clean(cleaned)
    findings = tuple(find_sensitive(text, extra_patterns, regions=phone_regions))
    signals = tuple(text_signals(text, cleaned, blocked_words))
    if findings or signals:
        flags = frozenset(("sensitive",) * bool(findings) + ("troll",) * bool(signals))
    else:
        flags = _NO_FLAGS
    return TextFacts(
        cleaned,
        asks,
        findings,
        signals,
        tuple(question_tokens(cleaned)) if asks else (),
        flags,
    )


# The public one-call API: each keyword is one setting of the plan, and session/ingest.py and
# the benchmarks pass them by name.
def classify(  # noqa: PLR0913
    post: Post,
    *,
    host: str | None,
    start: datetime,
    extra_patterns: Sequence[SensitivePattern | re.Pattern[str]] = (),
    blocked_words: Collection[str] = frozenset(),
    author_recent_count: int = 0,
    flood_limit: int = 5,
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
    facts: TextFacts | None = None,
) -> Classification:
    """Triage of one post: whether it asks, its flags and private-data findings, and whether
    the loop should ignore it (the host's own posts; plain reposts, which the caller counts
    as engagement). `facts` are `text_facts(post.text, ...)` when the caller has them."""
    if host is not None and _handle_key(post.author) == _handle_key(host):
        return Classification(False, _NO_FLAGS, [], True, "host")
    if post.kind == "repost":
        return Classification(False, _NO_FLAGS, [], True, "repost")
    if facts is None:
        facts = text_facts(
            post.text,
            extra_patterns=extra_patterns,
            blocked_words=blocked_words,
            phone_regions=phone_regions,
        )
    flood = author_recent_count >= flood_limit
    signals = (*facts.signals, "flood") if flood else facts.signals
    return Classification(
        facts.is_question,
        facts.post_flags(flood=flood, ahead=post.created_at < start),
        list(facts.findings),
        False,
        f"troll: {', '.join(signals)}" if signals else None,
        signals,
    )
