"""Shorthands for the adapter contract's arguments in tests: a post by id, an author by handle."""

from __future__ import annotations

from qasession.platforms.base import Author, Media, PostRef


def ref(post_id: str | PostRef, platform: str = "test") -> PostRef:
    """A reference to a post by its id (adapters here need nothing else to act on it)."""
    return post_id if isinstance(post_id, PostRef) else PostRef(platform, str(post_id))


def who(handle: str, author_id: str | None = None) -> Author:
    return Author(author_id or handle, handle)


def image(path: object, alt: str | None = None) -> Media:
    return Media(str(path), alt)
