"""Making untrusted text inert before the tool shows it: no escapes, no controls, no markup."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["control_characters", "escape_markup", "for_terminal", "inert", "valid_text"]

# Terminal escape sequences, 7-bit (ESC ...) and 8-bit (C1 introducers). String-type sequences
# (OSC, DCS, SOS, PM, APC) run until BEL or ST; an unterminated one is dropped up to the next
# ESC or the end, because a terminal would swallow that text too (it is no loss to hide it).
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI ... final byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC/DCS..
    r"|\x1b[ -/]*[0-~]?"  # two-byte and nF escapes (ESC c, ESC ( B, ESC 7 ...)
)

_BIDI = [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
_BIDI += [0x200E, 0x200F, 0x061C]
_ZERO_WIDTH = [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF]
_CONTROLS = [c for c in range(0x20) if c not in (0x09, 0x0A)] + list(range(0x7F, 0xA0))

_DELETE: dict[int, str | None] = dict.fromkeys(_CONTROLS + _BIDI + _ZERO_WIDTH)
# Line and paragraph separators move the cursor like a newline in some terminals.
_MULTI_LINE: dict[int, str | None] = {**_DELETE, 0x2028: "\n", 0x2029: "\n"}
_SINGLE_LINE: dict[int, str | None] = {**_DELETE, 0x09: " ", 0x0A: " ", 0x2028: " ", 0x2029: " "}

# Exactly the expression of rich.markup.escape (Rich 13-15), so both escape the same tags.
_MARKUP_TAG: Callable[..., str] = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])").sub


def inert(text: str, max_length: int | None = None, *, single_line: bool = False) -> str:
    """`text` without terminal escapes, control, bidi or zero-width characters, cut to
    `max_length` characters (the last one "…"); newlines and tabs become spaces when
    `single_line`. Rich markup is left alone: see `escape_markup`."""
    table = _SINGLE_LINE if single_line else _MULTI_LINE
    if not text.isascii():
        text = _ESCAPES.sub("", valid_text(text)).translate(table)
    elif not text.isprintable():  # printable ASCII (most texts) has nothing to remove
        text = (_ESCAPES.sub("", text) if "\x1b" in text else text).translate(table)
    if max_length is not None and len(text) > max_length:
        if max_length <= 0:
            return ""
        text = text[: max_length - 1].rstrip() + "…"
    return text


def _escape_tag(match: re.Match[str]) -> str:
    backslashes, tag = match.groups()
    # Doubling the backslashes keeps them literal; one more escapes the bracket.
    return f"{backslashes}{backslashes}\\{tag}"


def escape_markup(text: str) -> str:
    """`text` with Rich markup escaped, so `[red]` prints as `[red]` (same as
    `rich.markup.escape`, without importing Rich into the core)."""
    if "[" in text:
        text = _MARKUP_TAG(_escape_tag, text)
    # A trailing lone backslash would escape whatever markup the caller appends after it.
    if text.endswith("\\") and not text.endswith("\\\\"):
        return text + "\\"
    return text


def for_terminal(text: str, max_length: int | None = None) -> str:
    """Untrusted `text` ready to embed in Rich markup on one terminal line."""
    return escape_markup(inert(text, max_length, single_line=True))


# Joiners and direction marks belong to real writing (emoji sequences, Persian, Arabic).
_ALLOWED_IN_POSTS = frozenset({0x200C, 0x200D, 0x200E, 0x200F, 0x061C})
_NAMES = {
    0x1B: "ESC",
    0x7F: "DEL",
    0x202E: "RIGHT-TO-LEFT OVERRIDE",
    0x202D: "LEFT-TO-RIGHT OVERRIDE",
}


def control_characters(text: str) -> list[str]:
    """The invisible characters of `text` that a post must not carry (C0 and C1 controls but
    newline and tab, bidi overrides and isolates, zero-width characters), each named once."""
    found: list[str] = []
    for ch in text:
        code = ord(ch)
        if code in _DELETE and code not in _ALLOWED_IN_POSTS:
            name = _NAMES.get(code) or f"U+{code:04X}"
            if name not in found:
                found.append(name)
    return found


def valid_text(text: str) -> str:
    """`text` as valid Unicode: lone surrogates (which cannot be stored or encoded) become
    U+FFFD. Every text from a platform, a file or the host passes here before storage."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
