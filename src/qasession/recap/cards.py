"""Quote cards: one PNG per answered question (the question, the answer, the hashtag and the
host's name), sized for X, Mastodon and Bluesky, ready to post or to put in the blog draft.

Cards are made from the shared recap, whose texts are already masked (private data never
reaches them); a question answered in private (a direct message) gets no card. Text is drawn
with Pillow in DejaVu Sans, the font matplotlib ships (no system font, no network); a text
that does not fit at the largest size is drawn smaller, then cut with "…".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qasession.text.safe import inert

if TYPE_CHECKING:
    from qasession.recap import Recap

# width x height in pixels, as each platform shows a single image best
SIZES: dict[str, tuple[int, int]] = {
    "x": (1600, 900),  # 16:9
    "mastodon": (1280, 720),  # 16:9
    "bluesky": (1200, 1200),  # square: shown whole in the feed
}
BACKGROUND = (246, 247, 249)
INK = (29, 36, 48)
MUTED = (93, 102, 117)
ACCENT = (56, 103, 168)
MAX_TEXT = 600  # characters of a question or answer considered


@dataclass(frozen=True, slots=True)
class Card:
    """What one card shows (texts already masked and made inert)."""

    number: int
    question_id: str
    asker: str
    question: str
    host: str
    answer: str
    hashtag: str
    title: str


def cards_of(recap: Recap) -> list[Card]:
    """A card for each answered question with a public answer, in answer order."""
    meta = recap.meta
    host = _line(meta.host or "", 40)
    out = []
    for number, entry in enumerate(recap.transcript, 1):
        if any(a.kind == "dm" for a in entry.answers):
            continue  # answered in private: nothing of it goes on a public card
        answer = next((a.text for a in entry.answers if a.kind != "dm" and a.text), None)
        if not answer:
            continue
        out.append(
            Card(
                number=number,
                question_id=entry.question.id,
                asker=_line(entry.question.author, 40),
                question=_line(entry.question.text, MAX_TEXT),
                host=host,
                answer=_line(answer, MAX_TEXT),
                hashtag=_line(meta.hashtag, 60),
                title=_line(meta.title or meta.hashtag, 80),
            )
        )
    return out


def _line(text: str, limit: int) -> str:
    return " ".join(inert(text, limit, single_line=True).split())


@cache
def _font_path(bold: bool) -> str:
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


@cache
def _font(size: int, bold: bool = False) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(_font_path(bold), size)


def _wrap(draw: Any, text: str, font: Any, width: int) -> list[str]:
    """Words in lines no wider than `width` pixels (a word wider than a line is cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while draw.textlength(word, font=font) > width and len(word) > 1:
            word = word[: max(1, len(word) * width // int(draw.textlength(word, font=font)))]
        trial = f"{current} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _fit(draw: Any, text: str, width: int, height: int, start: int) -> tuple[Any, list[str]]:
    """The largest font (from `start` down) at which `text` fits the box, cut if it never
    does at the smallest size."""
    size = start
    while True:
        font = _font(size)
        lines = _wrap(draw, text, font, width)
        line_height = int(size * 1.3)
        if len(lines) * line_height <= height or size <= 16:
            break
        size -= 2
    most = max(1, height // int(size * 1.3))
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1].rstrip(" .,;:") + "…"
    return font, lines


def draw_card(card: Card, size: tuple[int, int]) -> Any:
    """The card as a Pillow image of `size`."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    pad = width // 16
    unit = min(width, height)
    draw.rectangle([0, 0, width, unit // 60], fill=ACCENT)
    head = _font(unit // 24, bold=True)
    draw.text((pad, pad * 0.7), card.hashtag, font=head, fill=ACCENT)
    body_top = pad * 0.7 + unit // 24 * 1.8
    foot_height = unit // 10
    room = height - body_top - foot_height - pad * 0.5
    text_width = width - 2 * pad
    label = _font(unit // 34, bold=True)
    q_room = int(room * 0.45)
    a_room = int(room * 0.45)
    y = body_top
    draw.text((pad, y), f"{card.asker} asked", font=label, fill=MUTED)
    y += unit // 34 * 1.6
    font, lines = _fit(draw, f"“{card.question}”", text_width, q_room, unit // 18)
    for line in lines:
        draw.text((pad, y), line, font=font, fill=INK)
        y += int(font.size * 1.3)
    y += unit // 40
    draw.text((pad, y), f"{card.host} answered" if card.host else "answer", font=label, fill=MUTED)
    y += unit // 34 * 1.6
    font, lines = _fit(draw, card.answer, text_width - unit // 40, a_room, unit // 20)
    top = y
    for line in lines:
        draw.text((pad + unit // 40, y), line, font=font, fill=INK)
        y += int(font.size * 1.3)
    draw.rectangle([pad, top, pad + unit // 160 + 2, y], fill=ACCENT)
    foot = _font(unit // 36)
    footer = " · ".join(x for x in (card.title, card.host) if x)
    draw.text((pad, height - foot_height), footer, font=foot, fill=MUTED)
    return image


def render_cards(recap: Recap) -> Iterator[tuple[str, bytes]]:
    """(file name, PNG bytes) of every card in every size: `card-01-x.png`, ..."""
    import io

    for card in cards_of(recap):
        for platform, size in SIZES.items():
            buffer = io.BytesIO()
            draw_card(card, size).save(buffer, format="PNG", optimize=True)
            yield f"card-{card.number:02d}-{platform}.png", buffer.getvalue()


def write_cards(recap: Recap, folder: Path) -> list[Path]:
    """The cards into `folder` (made); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in render_cards(recap):
        path = folder / name
        partial = path.with_name(name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)
        written.append(path)
    return written
