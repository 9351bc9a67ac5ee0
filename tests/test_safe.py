"""Untrusted text made inert: no terminal escapes, controls, bidi tricks or live Rich markup."""

from __future__ import annotations

import io
import unicodedata

import pytest
import rich.markup
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from qasession.text.safe import escape_markup, for_terminal, inert
from tests.support.inert import BIDI, ZERO_WIDTH, assert_inert

HOSTILE = {
    "ansi colour": "\x1b[31;1mred alert\x1b[0m normal",
    "cursor moves": "\x1b[2J\x1b[H\x1b[10;10Hgotcha\x1b[?25l",
    "osc 8 hyperlink": "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "osc 52 clipboard": "copy \x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07done",
    "window title": "\x1b]0;title\x07after",
    "unterminated osc": "before \x1b]0;never ends",
    "dcs": "\x1bPq#0;2;0;0;0#1;2;100;100;0\x1b\\sixel",
    "8-bit csi": "\x9b31mred\x9b0m",
    "8-bit osc": "\x9d0;title\x9cafter",
    "c1 and c0": "a\x85b\x8dc\x00d\x07e\x08f\rg\x7fh",
    "rich markup": "[red]x[/red] and [bold blink]y[/]",
    "rich link": "[link=https://evil.example]harmless[/link]",
    "rich click": "[@click=app.quit]quit[/]",
    "closing tag alone": "[/red] breaks unescaped markup",
    "backslash then tag": "\\[red]x\\\\[blue]y\\",
    "rlo": "invoice\u202egpj.exe",
    "bidi isolates": "\u2066abc\u2069 \u200f\u061c",
    "zero width": "pa\u200bss\u200cwo\u200drd\u2060\ufeff",
    "newlines": "line one\nline two\tTabbed\u2028sep",
    "esc in the middle of escape": "\x1b\u200b[31mnot a colour",
}
LONG = ("A long body with [red]markup[/red] and \x1b[5mblink\x1b[0m. " * 250)[:10_000]


@pytest.mark.parametrize("text", [*HOSTILE.values(), LONG], ids=[*HOSTILE, "10k body"])
def test_hostile_input_comes_out_inert(text: str) -> None:
    assert_inert(inert(text))
    single = inert(text, single_line=True)
    assert_inert(single)
    assert "\n" not in single and "\t" not in single
    shown = for_terminal(text, max_length=200)
    assert_inert(shown)
    assert "\n" not in shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HOSTILE["ansi colour"], "red alert normal"),
        (HOSTILE["osc 8 hyperlink"], "click me"),
        (HOSTILE["osc 52 clipboard"], "copy done"),
        (HOSTILE["window title"], "after"),
        (HOSTILE["unterminated osc"], "before "),
        (HOSTILE["dcs"], "sixel"),
        (HOSTILE["8-bit csi"], "red"),
        (HOSTILE["8-bit osc"], "after"),
        (HOSTILE["c1 and c0"], "abcdefgh"),
        (HOSTILE["rlo"], "invoicegpj.exe"),
        (HOSTILE["zero width"], "password"),
        (HOSTILE["esc in the middle of escape"], "[31mnot a colour"),
        (HOSTILE["rich markup"], HOSTILE["rich markup"]),  # markup is escape_markup's job
        ("Café ñandú 漢字 🙂 résumé", "Café ñandú 漢字 🙂 résumé"),
    ],
)
def test_inert_keeps_the_text_and_only_the_text(text: str, expected: str) -> None:
    assert inert(text) == expected


def test_newlines_and_tabs() -> None:
    text = HOSTILE["newlines"]
    assert inert(text) == "line one\nline two\tTabbed\nsep"
    assert inert(text, single_line=True) == "line one line two Tabbed sep"


def test_truncation() -> None:
    assert inert("short", max_length=10) == "short"
    assert inert("exactly10!", max_length=10) == "exactly10!"
    out = inert("a" * 50, max_length=10)
    assert out == "a" * 9 + "…" and len(out) == 10
    assert inert("word " * 10, max_length=6) == "word…"  # no dangling space before the "…"
    assert inert(LONG, max_length=280).endswith("…")
    assert len(inert(LONG, max_length=280)) <= 280
    assert inert("abc", max_length=0) == ""


@pytest.mark.parametrize(
    "text",
    [
        "[red]x[/red]",
        "[/]",
        "[link=https://a.example/?q=[1]]x[/link]",
        "[@click=app.bell]ring[/]",
        "[#ff0000]hex",
        "[1, 2, 3] is a list",
        "[RED] upper case is no tag",
        "a[b",
        "\\[red]",
        "\\\\[red]",
        "\\\\\\[red]",
        "ends with a backslash\\",
        "ends with two\\\\",
        "\\",
        "",
        "[[red]]",
        "[red][blue]",
        "mixed \\ slashes \\[b]bold\\[/b]",
    ],
)
def test_escape_markup_matches_rich(text: str) -> None:
    assert escape_markup(text) == rich.markup.escape(text)


@given(st.text(alphabet=st.sampled_from(list("[]\\/=@#abz RED1 :")), max_size=40))
def test_escape_markup_matches_rich_on_random_text(text: str) -> None:
    assert escape_markup(text) == rich.markup.escape(text)


def render(markup: str, soft_wrap: bool = True) -> str:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False, color_system=None)
    console.print(markup, soft_wrap=soft_wrap)
    return out.getvalue()


@pytest.mark.parametrize("text", [*HOSTILE.values(), LONG], ids=[*HOSTILE, "10k body"])
def test_rich_shows_markup_literally(text: str) -> None:
    # Embedded in the caller's own markup, as the CLI does: a trailing backslash must not
    # escape the closing tag (that is why escape_markup, like Rich, doubles it).
    shown = f"[bold]{for_terminal(text)}[/bold]"
    expected = inert(text, single_line=True)
    assert Text.from_markup(shown).plain == expected
    assert render(shown) == expected + "\n"
    wrapped = render(shown, soft_wrap=False)
    assert_inert(wrapped)
    if "[red]" in expected:
        assert "[red]" in wrapped


def test_for_terminal_truncates_before_escaping() -> None:
    shown = for_terminal("[red]" + "x" * 100, max_length=20)
    assert len(inert("[red]" + "x" * 100, max_length=20)) == 20
    assert Text.from_markup(shown).plain == "[red]" + "x" * 14 + "…"


def test_no_control_category_left() -> None:
    assert inert("How do I reset my password? #AskAcme") == "How do I reset my password? #AskAcme"
    weird = "".join(chr(c) for c in range(0x00, 0xA0)) + "".join(BIDI | ZERO_WIDTH)
    assert all(
        unicodedata.category(ch) not in ("Cc", "Cf") for ch in inert(weird, single_line=True)
    )
