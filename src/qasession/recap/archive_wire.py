"""A twarc2 archive line as the recap reads it: only the fields it uses, decoded by msgspec.

An X API v2 page carries far more than the recap needs (entities, context annotations, edit
history, every user's profile). msgspec decodes a line straight into these structs and skips
every other field in C, without building a dictionary for it; a line that does not fit (a
flattened tweet, a field of another type) is read by the generic JSON path instead, which
turns it into the same `Tweet` (see `archive._tweet_of`), so both paths give one result.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Author", "Metrics", "Page", "Ref", "Tweet", "decode_page", "ids_of"]


class Ref(msgspec.Struct, gc=False):
    """One of `referenced_tweets`: what the tweet is (retweeted, replied_to, quoted) of."""

    type: str = ""
    id: str | int | None = None


class Metrics(msgspec.Struct, gc=False):
    like_count: int = 0
    retweet_count: int = 0


class Author(msgspec.Struct, gc=False):
    """A user: in `includes.users` with its id, or inlined in a tweet (`twarc2 flatten`)."""

    id: str | int | None = None
    username: str | None = None


class Tweet(msgspec.Struct, gc=False):
    id: str | int
    text: str
    created_at: str
    author_id: str | int | None = None
    referenced_tweets: list[Ref] | None = None
    public_metrics: Metrics | None = None
    author: Author | None = None
    lang: str | None = None  # X's language tag ("en", "und" when it could not tell)


class Includes(msgspec.Struct, gc=False):
    users: list[Author] | None = None


class Page(msgspec.Struct, gc=False):
    """One line: an API page (`data`, `includes.users`) and our own annotation, if any."""

    data: list[Tweet] | None = None
    includes: Includes | None = None
    annotation: dict[str, Any] | None = msgspec.field(default=None, name="__qasession")


_DECODER = msgspec.json.Decoder(Page)


def decode_page(line: bytes) -> Page | None:
    """The page of `line`, or None when the line is not one this decoder reads (the caller
    then reads it as generic JSON, which also reports what is wrong with it)."""
    try:
        page = _DECODER.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        # msgspec.ValidationError is a DecodeError; UnicodeDecodeError for invalid UTF-8
        # by msgspec 0.22 (0.23 raises a DecodeError)
        return None
    return page if page.data is not None else None


class _Id(msgspec.Struct, gc=False):
    id: str | int


class _IdPage(msgspec.Struct, gc=False):
    data: list[_Id] | None = None


_IDS = msgspec.json.Decoder(_IdPage)


def ids_of(line: bytes) -> list[str]:
    """The ids of the tweets of `line` (an API page, one tweet of `twarc2 flatten`, or a
    page holding one tweet), read without decoding anything else; none for a line that is
    not JSON (its scanner reports it)."""
    try:
        data = _IDS.decode(line).data
    except (msgspec.DecodeError, UnicodeDecodeError):
        data = None
    if data is not None:
        return [t.id if type(t.id) is str else str(t.id) for t in data]
    try:
        obj = msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return []
    if not isinstance(obj, dict):
        return []
    found = obj.get("data")
    if found is None and "text" in obj and "id" in obj:
        found = [obj]
    elif isinstance(found, dict):
        found = [found]
    if not isinstance(found, list):
        return []
    return [str(t["id"]) for t in found if isinstance(t, dict) and "id" in t]
