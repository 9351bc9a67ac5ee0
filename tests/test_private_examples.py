"""Every private-data detector's examples are found and fully masked; near-misses are not."""

from __future__ import annotations

import phonenumbers
import pytest

from qasession.triage import LABELS, MASK, find_sensitive, mask_private, redact
from qasession.triage.private import (
    EXAMPLE_PATTERNS,
    EXAMPLES,
    NEAR_MISSES,
    Example,
    leaks,
)

ALL = [(kind, example) for kind, examples in EXAMPLES.items() for example in examples]
IDS = [f"{kind}:{example.private}" for kind, example in ALL]


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def test_every_detector_has_several_examples_of_several_kinds() -> None:
    assert set(EXAMPLES) == {"email", "phone", "card", "iban", "pattern"}
    assert all(len(examples) >= 3 for examples in EXAMPLES.values())
    emails = [e.private for e in EXAMPLES["email"]]
    assert sum("+" in e.split("@")[0] for e in emails) >= 2  # subaddresses
    phones = [e.private for e in EXAMPLES["phone"]]
    international = [p for p in phones if p.startswith(("+", "00"))]
    codes = {
        phonenumbers.parse("+" + digits(p)[2:] if p.startswith("00") else p).country_code
        for p in international
    }
    assert len(codes) >= 8  # international numbers of many countries, and national formats
    assert sum(not p.startswith(("+", "00")) for p in phones) >= 8
    assert len({e.private[:2] for e in EXAMPLES["iban"]}) >= 6
    assert {e.private[0] for e in EXAMPLES["card"]} >= {"3", "4", "5", "6"}  # brands


@pytest.mark.parametrize(("kind", "example"), ALL, ids=IDS)
def test_each_example_is_one_finding_of_its_kind(kind: str, example: Example) -> None:
    text, private = example
    assert text.count(private) == 1
    assert len(text.split()) >= 4, "a sentence a user might post"
    found = find_sensitive(text, EXAMPLE_PATTERNS)
    assert [(f.kind, text[f.start : f.end]) for f in found] == [(kind, private)]


@pytest.mark.parametrize(("kind", "example"), ALL, ids=IDS)
def test_each_example_is_fully_masked(kind: str, example: Example) -> None:
    text, private = example
    assert leaks(text, private), "leaks() sees the private data before masking"
    masked, changed = mask_private(text, EXAMPLE_PATTERNS)
    assert changed
    assert leaks(masked, private) == []
    before, after = text.split(private)
    assert masked.startswith(before) and masked.endswith(after)
    shown = masked[len(before) : len(masked) - len(after)]
    if kind == "phone":
        # the country or trunk prefix and the last two digits stay, nothing else
        kept = digits(shown)
        assert MASK in shown
        assert kept.endswith(digits(private)[-2:])
        assert digits(private).startswith(kept[:-2]) and len(kept) <= 5
    else:
        label = "contract number" if kind == "pattern" else LABELS[kind]
        assert shown == f"[{label} removed]"
    if kind == "email":
        assert private.split("@")[0] not in masked
    assert leaks(redact(text, find_sensitive(text, EXAMPLE_PATTERNS)), private) == []


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_alone(text: str) -> None:
    assert find_sensitive(text, EXAMPLE_PATTERNS) == []
    assert mask_private(text, EXAMPLE_PATTERNS) == (text, False)


def test_every_example_at_once_in_one_text() -> None:
    # A shared output holds many posts: masking one text with all of them masks each.
    text = "\n".join(example.text for _, example in ALL)
    masked, changed = mask_private(text, EXAMPLE_PATTERNS)
    assert changed
    for _, example in ALL:
        assert leaks(masked, example.private) == [], example.private
    for near in NEAR_MISSES:
        assert mask_private(f"{masked}\n{near}", EXAMPLE_PATTERNS)[0].endswith(near)


def test_leaks_reads_digits_across_separators() -> None:
    assert leaks("call 06.12.34.56.78", "06 12 34 56 78") == [
        "0612",
        "6123",
        "1234",
        "2345",
        "3456",
        "4567",
        "5678",
    ]
    assert leaks("+33 6 •• •• •• 78", "+33 6 12 34 56 78") == []
    assert leaks("write to john.doe", "john.doe+acme@example.co.uk") == []
    assert leaks("write to john.doe+acme", "john.doe+acme@example.co.uk") == ["john.doe+acme"]
