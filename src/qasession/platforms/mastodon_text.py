"""Mastodon's status content (HTML) as the plain text every other part of the tool reads.

Mastodon sends a status's `content` as sanitized HTML: paragraphs, line breaks, links whose
visible text is split into spans (`<span class="invisible">https://</span>...`), mentions
and hashtags as links. A real HTML parser (Beautiful Soup over Python's own `html.parser`)
turns it into text: paragraphs and line breaks become newlines, entities are decoded, a
mention becomes the handle it names (`@alice@example.social`, from the status's `mentions`),
a link its whole address, a hashtag `#tag`. Scripts, styles and embedded objects are dropped
with their contents, and no markup is left: the result is inert text (still untrusted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# elements whose content is never text to read
_DROPPED = ("script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(content: str, mentions: Iterable[Mapping[str, Any]] = ()) -> str:
    """The plain text of a status's HTML `content`; `mentions` (the status's own list, with
    `url` and `acct`) give each mention link the full handle it stands for."""
    if not content:
        return ""
    if "<" not in content and "&" not in content:
        return content.strip()
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(content, "html.parser")
    for element in soup.find_all(_DROPPED):
        element.decompose()
    accts = {
        str(m.get("url")): str(m.get("acct"))
        for m in mentions
        if isinstance(m, Mapping) and m.get("url") and m.get("acct")
    }
    for link in soup.find_all("a"):
        classes: Any = link.get("class") or []
        href = link.get("href")
        if "mention" in classes and "hashtag" not in classes and href in accts:
            link.replace_with("@" + accts[str(href)])
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(["p", "li", "blockquote", "pre", "h1", "h2", "h3", "h4"]):
        block.insert_after("\n\n")
    text = soup.get_text().replace("\r\n", "\n").replace("\xa0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def status_text(status: Mapping[str, Any]) -> str:
    """A status's text: its content warning (if any) above its content."""
    body = html_to_text(str(status.get("content") or ""), status.get("mentions") or ())
    warning = str(status.get("spoiler_text") or "").strip()
    return f"{warning}\n\n{body}" if warning and body else (body or warning)


_MENTION = re.compile(r"@([\w.-]+)@[\w.:-]+")


def comparable(text: str) -> str:
    """A text as Mastodon may give it back, for telling whether it is one we sent: remote
    mentions shortened (`@alice@x.social` -> `@alice`), whitespace collapsed, case folded."""
    return " ".join(_MENTION.sub(r"@\1", text).split()).casefold()
