"""Text cleaning shared by every detector: links, mentions and hashtags are addressing, not
content."""

from __future__ import annotations

import re

# URLs, @mentions (with a leading "." and Mastodon's @user@instance) and hashtags. They are
# addressing, not content: a "?" in a URL is no question, #AskAcme is no word of the question.
# Each branch starts from one character class, which lets the regex engine skip ahead to the
# next candidate character instead of trying every position (5x faster on typical posts).
_ENTITIES = re.compile(
    r"[hHwW.@#＃](?:"
    r"(?<=[hH])(?:ttps?|TTPS?)://\S+"
    r"|(?<=[wW])(?:ww|WW)\.\S+"
    r"|(?<=\.)@\w+(?:[.@-]\w+)*"
    r"|(?<=@)\w+(?:[.@-]\w+)*"
    r"|(?<=[#＃])\w+)"
)
# Links without a scheme ("example.com/faq?x=1"), looked for only after a cheap test.
_BARE_LINK_HINT = re.compile(r"\.[a-zA-Z]{2,}/")
_BARE_LINK = re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}/\S*")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


def word_set(words: str) -> frozenset[str]:
    """The words of a whitespace-separated list (the detectors' word lists)."""
    return frozenset(words.split())


def strip_entities(text: str) -> str:
    """`text` without URLs (with or without a scheme), @mentions and hashtags, with typographic
    apostrophes made plain: what the question, troll and duplicate detectors read."""
    text = _ENTITIES.sub(" ", text)
    if "/" in text and _BARE_LINK_HINT.search(text):
        text = _BARE_LINK.sub(" ", text)
    if "’" in text or "‘" in text or "ʼ" in text or "`" in text:
        text = text.translate(_APOSTROPHES)
    return text
