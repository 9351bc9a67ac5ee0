"""Checks that text the tool shows or writes is inert: no terminal escape, control character,
bidi override or invisible character. JSON is checked after decoding, every string of it: its
escapes ("\\u001b") hide such characters from a look at the raw text, not from its readers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

BIDI = frozenset(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
)
ZERO_WIDTH = frozenset({"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"})


def offence(char: str) -> str | None:
    """What is wrong with `char` in shown text, or None; newline and tab are allowed."""
    code = ord(char)
    if char == "\x1b":
        return "ESC"
    if code < 0x20 and char not in "\n\t":
        return "C0 control"
    if char == "\x7f":
        return "DEL"
    if 0x80 <= code <= 0x9F:
        return "C1 control"
    if char in BIDI:
        return "bidi control"
    if char in ZERO_WIDTH:
        return "zero-width character"
    return None


def assert_inert(text: str, where: str = "text") -> None:
    for position, char in enumerate(text):
        found = offence(char)
        assert found is None, f"{found} {char!r} left at {position} of {where}: {text[:80]!r}"


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, string) for every string in a decoded JSON value, object keys included."""
    if isinstance(value, str):
        yield path or "the document", value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"the key of {path}[{key!r}]", key
            yield from strings(item, f"{path}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")


def assert_json_inert(document: str, *, lines: bool = False) -> None:
    """Every string of the JSON `document` (one value per line with `lines`), decoded, is inert."""
    if lines:
        values = [json.loads(line) for line in document.splitlines() if line.strip()]
    else:
        values = [json.loads(document)]
    checked = 0
    for number, value in enumerate(values, 1):
        for path, text in strings(value, f"line {number} " if lines else ""):
            assert_inert(text, path)
            checked += 1
    assert checked, "no string in the document: nothing was checked"
