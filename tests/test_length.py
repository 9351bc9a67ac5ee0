"""Length counting per platform: X's weighted count, its fast path for plain text."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from qasession.text.length import count_length

PLAIN = st.text(alphabet=string.printable.replace(".", ""), max_size=400)
SENTENCES = st.lists(
    st.text(alphabet=string.ascii_letters + " ,:!?#@", min_size=1, max_size=30), max_size=12
).map(lambda parts: ". ".join(parts) + ".")


@settings(max_examples=300, deadline=None)
@given(PLAIN)
def test_plain_ascii_is_counted_as_x_counts_it(text: str) -> None:
    assert count_length(text, "x") == parse_tweet(text).weightedLength


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_counted_as_x_counts_it(text: str) -> None:
    assert count_length(text, "x") == parse_tweet(text).weightedLength


def test_links_and_wide_characters_still_weigh_what_x_says() -> None:
    assert count_length("see example.com", "x") == 4 + 23
    assert count_length("日本", "x") == 4


@settings(max_examples=300, deadline=None)
@given(SENTENCES)
def test_sentences_ending_in_dots_are_counted_as_x_counts_them(text: str) -> None:
    assert count_length(text, "x") == parse_tweet(text).weightedLength
