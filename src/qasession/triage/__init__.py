"""Triage of incoming posts: question detection, private data, troll signals, dedupe, ranking.

Each job has its module; this package re-exports what the rest of qasession uses:
- `cleaning`: links, mentions and hashtags stripped before any detector reads a text;
- `questions`: `is_question`;
- `private`: private data (`find_sensitive`, `mask_private`, `redact`, and
  `EXAMPLES` of what each detector finds);
- `trolls`: `troll_signals`;
- `duplicates`: `DuplicateIndex`, `normalize_question`;
- `ranking`: `Weights`, `QuestionFeatures`, `score`, `rank` and the score in SQL;
- `classification`: `text_facts` and `classify`, one call per incoming post.

Names are imported on first use (PEP 562): a command that only ranks or answers does not pay
for the phone-number metadata and the fuzzy matcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qasession.lazy import lazy_attributes

if TYPE_CHECKING:
    from qasession.triage.classification import Classification, TextFacts, classify, text_facts
    from qasession.triage.duplicates import DuplicateIndex, normalize_question
    from qasession.triage.private import (
        DEFAULT_PHONE_REGIONS,
        LABELS,
        MASK,
        Finding,
        SensitivePattern,
        compile_patterns,
        find_sensitive,
        mask,
        mask_private,
        redact,
    )
    from qasession.triage.questions import is_question
    from qasession.triage.ranking import QuestionFeatures, Weights, rank, score, scorer
    from qasession.triage.trolls import troll_signals

_HOMES = {
    "classification": ("Classification", "TextFacts", "classify", "text_facts"),
    "duplicates": ("DuplicateIndex", "normalize_question"),
    "private": (
        "DEFAULT_PHONE_REGIONS", "LABELS", "MASK", "Finding", "SensitivePattern",
        "compile_patterns", "find_sensitive", "mask", "mask_private", "redact",
    ),
    "questions": ("is_question",),
    "ranking": ("QuestionFeatures", "Weights", "rank", "score", "scorer"),
    "trolls": ("troll_signals",),
}  # fmt: skip
__getattr__ = lazy_attributes(__name__, _HOMES, globals())


__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "LABELS",
    "MASK",
    "Classification",
    "DuplicateIndex",
    "Finding",
    "QuestionFeatures",
    "SensitivePattern",
    "TextFacts",
    "Weights",
    "classify",
    "compile_patterns",
    "find_sensitive",
    "is_question",
    "mask",
    "mask_private",
    "normalize_question",
    "rank",
    "redact",
    "score",
    "scorer",
    "text_facts",
    "troll_signals",
]
