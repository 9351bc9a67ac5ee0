"""The recap's later parts (JSON keys, stable): marks on the timeline, languages, key phrases,
the host's notes. Plain dataclasses, importing nothing of the recap, so the model can hold them.

- `marks`: what the host's side did, in time order: `opening`, `cue` (half-time, ten minutes
  left...), `answer` (the first sent step of each answer; `late` when after the window),
  `closing`. `at` is an ISO instant, `label` plain words.
- `languages`: question posts by language (the platform's tag; a guess from the stop words of
  the text when the platform gave none; `und` when neither tells), most first.
- `phrases`: key phrases of the canonical questions (yake, in each question's language),
  each with the questions it comes from; empty when no phrase recurs (no signal).
- `notes`: what the host jotted during the session (`qa note`, the TUI's `n`), with the
  session clock (`clock`: "+23:10" from the start; negative before it).
- `late_answers`: the questions answered after the session's end (`qa answer` once it is
  over), in answer order: the question's `number`, `author`, `text` (masked; empty when the
  question carries private data), `answered_at`, `private` (answered by direct message: never
  listed in public) and `listed` (already named in a posted follow-up, a `late` draft).
- `invited`: the handles the invitation drafts to the next session mention (see `drafts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Mark:
    at: str
    kind: str  # opening | cue | answer | closing
    label: str
    late: bool = False


@dataclass(slots=True)
class Language:
    code: str
    name: str
    questions: int


@dataclass(slots=True)
class KeyPhrase:
    phrase: str
    count: int  # canonical questions holding it
    questions: list[str] = field(default_factory=list)  # their ids, first asked first
    examples: list[str] = field(default_factory=list)  # up to three of their texts (masked)


@dataclass(slots=True)
class Note:
    at: str
    clock: str
    text: str
    actor: str | None = None


@dataclass(slots=True)
class LateAnswer:
    number: int  # the question's number in the session (`qa queue`'s first column)
    question_id: str
    author: str
    text: str  # the question, masked; "" when it carries private data
    answered_at: str
    private: bool = False  # answered by direct message: never listed in public
    listed: bool = False  # already named in a posted `late` draft
