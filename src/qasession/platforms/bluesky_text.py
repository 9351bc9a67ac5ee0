"""Bluesky rich text and record keys: facets with UTF-8 byte offsets, and TIDs derived from keys.

Facets: hashtags, mentions and links found in a text become `app.bsky.richtext.facet`s built
with the SDK's `TextBuilder` (which counts UTF-8 bytes). Detection follows the reference
client's rules, with one difference: a mention may follow a dot, so `.@alice.bsky.social`
(which the reference detection does not see) notifies Alice too. A handle that does not
resolve to a DID stays plain text.

Record keys: every record the adapter writes gets a key derived from the outbox key
(`tid_for`), so a retry writes to the same key and hits "already exists" instead of posting
twice. A TID is 13 characters of base32-sortable (`234567a-z`) holding 64 bits: a zero top
bit, 53 bits of microseconds since 1970, 10 bits of clock id. `tid_for(key)` takes the first
8 bytes of SHA-256("qasession:" + key): 45 bits make the microseconds (added to 2023-01-01,
so the time lies within 2023-2024, never in the future) and 10 bits the clock id; two keys
collide with a chance of about 2^-55 per pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_EPOCH_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
_TID_RE = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

_LINK = regex.compile(r"https?://[^\s]+", regex.IGNORECASE)
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
# a mention starts the text or follows a space, "(" or "." (".@alice" is a public answer)
_MENTION = regex.compile(rf"(?:^|(?<=[\s(.]))@({_LABEL}(?:\.{_LABEL})+)")
_TAG = regex.compile(r"(?:^|(?<=\s))[#＃]([^\s#＃\u00ad\u2060\u200a-\u200d\u20e2]+)")
_TRAILING_PUNCT = regex.compile(r"\p{P}+$")
_LINK_TRAILING = regex.compile(r"[.,;:!?)\]}'\"]+$")
MAX_TAG_GRAPHEMES = 64


def tid_for(key: str) -> str:
    """A valid TID derived from `key` alone (see the module docstring)."""
    digest = int.from_bytes(hashlib.sha256(("qasession:" + key).encode()).digest()[:8], "big")
    micros = _TID_EPOCH_US + (digest >> 19)  # the top 45 bits
    clock_id = digest & 0x3FF
    value = (micros << 10) | clock_id
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def is_tid(text: str) -> bool:
    return _TID_RE.match(text) is not None


@dataclass(frozen=True, slots=True)
class _Span:
    start: int  # code point offsets into the text
    end: int
    kind: str  # "link" | "mention" | "tag"
    value: str  # the URL, the handle, the tag without "#"


def _links(text: str) -> list[_Span]:
    spans = []
    for match in _LINK.finditer(text):
        url = _LINK_TRAILING.sub("", match.group(0))
        if "." in url.split("://", 1)[1]:
            spans.append(_Span(match.start(), match.start() + len(url), "link", url))
    return spans


def _mentions(text: str) -> list[_Span]:
    return [
        _Span(m.start(), m.end(), "mention", m.group(1).lower()) for m in _MENTION.finditer(text)
    ]


def _tags(text: str) -> list[_Span]:
    spans = []
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCT.sub("", match.group(1))
        if not tag or tag.isdigit() or len(regex.findall(r"\X", tag)) > MAX_TAG_GRAPHEMES:
            continue
        spans.append(_Span(match.start(), match.start(1) + len(tag), "tag", tag))
    return spans


def find_spans(text: str) -> list[_Span]:
    """Links, mentions and hashtags of `text`, in order, none overlapping (links win)."""
    chosen: list[_Span] = []
    for span in [*_links(text), *_mentions(text), *_tags(text)]:
        if all(span.end <= other.start or span.start >= other.end for other in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def build_facets(text: str, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """The facets of `text` as record JSON, with UTF-8 byte offsets (the SDK's TextBuilder);
    `resolve(handle)` gives a mention's DID, or None to leave it plain text."""
    from atproto import client_utils
    from atproto_client.models.utils import get_model_as_dict

    builder = client_utils.TextBuilder()
    position = 0
    for span in find_spans(text):
        builder.text(text[position : span.start])
        piece = text[span.start : span.end]
        if span.kind == "link":
            builder.link(piece, span.value)
        elif span.kind == "tag":
            builder.tag(piece, span.value)
        else:
            did = resolve(span.value)
            if did:
                # the facet covers "@handle", not the dot before it
                builder.mention(piece, did)
            else:
                builder.text(piece)
        position = span.end
    builder.text(text[position:])
    assert builder.build_text() == text
    return [get_model_as_dict(facet) for facet in builder.build_facets()]
