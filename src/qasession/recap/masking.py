"""Private data masked in every recap output meant for the public or for sharing.

What the sensitive detectors find (`qasession.triage.private`: e-mail addresses, phone
numbers, card numbers, IBANs, and the plan's `sensitive_patterns`) is masked in the recap
model itself (`mask_recap`), so the Markdown draft, the HTML page, the terminal, the JSON
document and the drafts built from it show none of it; `meta.masked` names what was masked,
and each output says so once. The CSV and JSONL exports mask their rows the same way
(`MaskedRows`) unless the operator asks for the data with `--include-private`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from qasession.triage.private import LABELS, SensitivePattern, compile_patterns, find_sensitive
from qasession.triage.private import mask as mask_findings

if TYPE_CHECKING:
    from qasession.recap import Draft, PostView, Recap

__all__ = ["MaskedRows", "Masker", "mask_drafts", "mask_recap", "mask_row", "notice", "patterns_of"]

_CACHE = 50_000  # distinct texts remembered (floods repeat texts word for word)


def patterns_of(session_like: Any) -> list[SensitivePattern]:
    """The plan session's `sensitive_patterns`, compiled (none for anything else)."""
    return compile_patterns(getattr(session_like, "sensitive_patterns", ()) or ())


class Masker:
    """Masks texts with the detectors and `patterns`, remembering what it masked."""

    def __init__(self, patterns: Iterable[SensitivePattern] = ()) -> None:
        self.patterns = tuple(patterns)
        self.labels: dict[str, None] = {}  # what was masked, in the order first met
        self._seen: dict[str, tuple[str, tuple[str, ...]]] = {}  # text -> (masked, labels)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        seen = self._seen.get(text)
        if seen is None:
            seen = self._mask(text)
            if len(self._seen) > _CACHE:
                self._seen.clear()
            self._seen[text] = seen
        for label in seen[1]:
            self.labels.setdefault(label, None)
        return seen[0]

    def text(self, text: str) -> str:
        """`text` masked (a `str` in, a `str` out)."""
        return self(text) or text

    def _mask(self, text: str) -> tuple[str, tuple[str, ...]]:
        findings = find_sensitive(text, self.patterns, phone_candidates=sys.maxsize)
        if not findings:
            return text, ()
        labels = tuple(
            dict.fromkeys(f.label or LABELS.get(f.kind, "private data") for f in findings)
        )
        return mask_findings(text, findings), labels

    @property
    def masked(self) -> list[str]:
        return list(self.labels)


def _plural(label: str) -> str:
    if label == "private data" or label.endswith("data"):
        return label
    if label.endswith(("s", "x", "sh", "ch")):
        return label + "es"
    return label + "s"


def notice(labels: Iterable[str], what: str = "this recap") -> str:
    """ "Private data (phone numbers, e-mail addresses) is masked in this recap." """
    names = [_plural(label) for label in labels]
    inside = f" ({', '.join(names)})" if names and names != ["private data"] else ""
    return f"Private data{inside} is masked in {what}."


def _mask_view(view: PostView, masker: Masker) -> None:
    view.text = masker.text(view.text)


def mask_recap(recap: Recap, patterns: Iterable[SensitivePattern] = ()) -> Recap:
    """Mask every text of `recap` in place (posts, questions, answers, topics, the plan's
    titles) and record in `recap.meta.masked` what was masked. Returns `recap`."""
    masker = Masker(patterns)
    for view in recap.top_posts:
        _mask_view(view, masker)
    for entry in recap.transcript:
        _mask_view(entry.question, masker)
        for answer in entry.answers:
            answer.text = masker(answer.text)
    for item in recap.open_questions:
        _mask_view(item.question, masker)
    for cluster in recap.duplicates:
        _mask_view(cluster.question, masker)
    for view in recap.follow_ups.posts:
        _mask_view(view, masker)
    # a recurring phrase that holds private data (a plan pattern matching words) is left out
    recap.topics = [t for t in recap.topics if masker.text(t.phrase) == t.phrase]
    # the plan's own texts are shared too (a title naming a hotline, an address)
    meta = recap.meta
    meta.title = masker(meta.title)
    if meta.next is not None:
        meta.next.title = masker.text(meta.next.title)
    from qasession.recap.enrich import mask_parts

    mask_parts(recap, masker)
    recap.meta.masked = _merge(recap.meta.masked, masker.masked)
    return recap


def mask_drafts(
    drafts: Iterable[Draft], patterns: Iterable[SensitivePattern] = ()
) -> dict[str, list[str]]:
    """Mask the drafts' texts in place (they are public posts: the thanks, the follow-up and
    the teaser are built from the masked recap, and a plan text may still hold private
    data); returns what was masked, by key of the drafts that changed."""
    patterns = tuple(patterns)
    changed = {}
    for draft in drafts:
        masker = Masker(patterns)
        masked = masker.text(draft.text)
        if masked != draft.text:
            draft.text = masked
            changed[draft.key] = masker.masked
    return changed


def _merge(first: list[str], more: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *more]))


class MaskedRows:
    """Export rows (dicts with a `text`) with their text masked, streamed; `masker.masked`
    says what was masked once they have all been read."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], masker: Masker) -> None:
        self.rows = rows
        self.masker = masker

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        masker = self.masker
        for row in self.rows:
            yield mask_row(row, masker)


def mask_row(row: Mapping[str, Any], masker: Masker) -> Mapping[str, Any]:
    """An export row with its `text` masked (the same row when there was nothing to mask)."""
    text = row.get("text")
    if isinstance(text, str) and text:
        masked = masker.text(text)
        if masked != text:
            return {**row, "text": masked}
    return row
