"""Pure functions that turn an answer into what gets posted: texts, hashtag, length, threads."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from qasession.errors import UsageError
from qasession.platforms.base import Capabilities
from qasession.store.outbox import OutboxItem

ANSWER_MODES = ("dot", "reply", "quote", "dm")
DM_NOTICE = "we've sent you a direct message."


def has_hashtag(text: str, hashtag: str) -> bool:
    tag = hashtag if hashtag.startswith("#") else "#" + hashtag
    return re.search(re.escape(tag) + r"(?![\w])", text, re.IGNORECASE) is not None


def ensure_hashtag(text: str, hashtag: str) -> str:
    """`text` with the session's hashtag appended, unless it already carries it."""
    text = text.strip()
    if has_hashtag(text, hashtag):
        return text
    return f"{text} {hashtag}"


def handle(author: str) -> str:
    return author if author.startswith("@") else "@" + author


def dot_text(answer: str, asker: str, *, leading_mention_hidden: bool = True) -> str:
    """A stand-alone answer that names the asker: `.@asker answer` where a post starting with
    `@user` is hidden from most followers (X), `@asker answer` where it is not (Mastodon,
    Bluesky: the mention notifies the asker either way)."""
    answer = answer.strip()
    mention = handle(asker)
    lead = "." + mention if leading_mention_hidden else mention
    lowered = answer.lower()
    if lowered.startswith(lead.lower() + " ") or lowered == lead.lower():
        return answer
    if lowered.startswith("." + mention.lower()):
        answer = answer[len(mention) + 1 :].lstrip(" ,:")
    elif lowered.startswith(mention.lower()):
        answer = answer[len(mention) :].lstrip(" ,:")
    return f"{lead} {answer}"


def split_thread(
    text: str,
    limit: int,
    length: Callable[[str], int],
    suffix: str,
    too_long: Callable[[str], str | None] | None = None,
) -> list[str]:
    """Split `text` into numbered parts ("… (1/3) #tag") that each fit `limit` (and
    `too_long`, a platform's other limits), cutting at word boundaries. Raises UsageError
    when one word alone cannot fit."""

    def over(candidate: str) -> bool:
        return length(candidate) > limit or (
            too_long is not None and too_long(candidate) is not None
        )

    words = text.split()
    for total_guess in (9, 99):
        parts: list[str] = []
        current: list[str] = []
        for word in words:
            candidate = " ".join([*current, word])
            marker = f" ({total_guess}/{total_guess}){suffix}"
            if current and over(candidate + marker):
                parts.append(" ".join(current))
                current = [word]
            else:
                current.append(word)
        if current:
            parts.append(" ".join(current))
        if len(parts) <= total_guess:
            break
    total = len(parts)
    numbered = [f"{part} ({i}/{total}){suffix}" for i, part in enumerate(parts, 1)]
    for part in numbered:
        if over(part):
            raise UsageError(f"a part of the thread is still {length(part)} > {limit} long")
    return numbered


@dataclass(slots=True)
class Question:
    id: str  # the post's id on its platform
    author: str
    text: str
    author_id: str | None = None


@dataclass(slots=True)
class AnswerSpec:
    """What the host asked for; compose_answer turns it into outbox steps."""

    op: str  # unique operation key, e.g. "askacme-dec:answer:7"
    question: Question
    text: str
    mode: str = "dot"
    thread: bool = False
    repost_first: bool = True
    append_hashtag: bool = True
    dm_notice: bool = True


def compose_answer(
    spec: AnswerSpec,
    *,
    hashtag: str,
    host: str | None,
    capabilities: Capabilities,
) -> tuple[list[OutboxItem], list[str]]:
    """The outbox steps for one answer, shaped by the platform's `capabilities`, and notes for
    the operator (fallbacks taken).

    Raises UsageError when a text is too long (with its count) and no thread was asked for.
    """
    caps = capabilities
    notes: list[str] = []
    mode = _fitting_mode(spec, caps, host, notes)
    q = spec.question
    steps: list[OutboxItem] = []

    def add(kind: str, **fields: str | None) -> None:
        seq = len(steps)
        steps.append(
            OutboxItem(
                key=f"{spec.op}:{seq}:{kind}",
                op=spec.op,
                seq=seq,
                kind=kind,
                question_id=q.id,
                **fields,  # type: ignore[arg-type]
            )
        )

    def public_texts(body: str) -> list[str]:
        return _public_texts(body, spec, hashtag, caps)

    def dotted(body: str) -> str:
        return dot_text(body, q.author, leading_mention_hidden=caps.leading_mention_hidden)

    if mode == "dm":
        steps.append(
            OutboxItem(
                key=f"{spec.op}:0:dm",
                op=spec.op,
                seq=0,
                kind="dm",
                text=spec.text.strip(),
                dm_to=handle(q.author),
                question_id=q.id,
            )
        )
        if spec.dm_notice:
            for text in public_texts(dotted(DM_NOTICE)):
                add("answer", text=text)
        return steps, notes

    if mode == "dot" and spec.repost_first:
        add("repost", repost_of=q.id)
    body = dotted(spec.text) if mode == "dot" else spec.text
    if mode == "reply" and not caps.reply_notifies and not _names(body, q.author):
        body = f"{handle(q.author)} {body.strip()}"  # the mention is what notifies the asker
    # the first post answers as the mode says; the rest of a thread replies to the one before
    first = {"dot": {}, "reply": {"reply_to": q.id}, "quote": {"quote_of": q.id}}[mode]
    for i, text in enumerate(public_texts(body)):
        add("answer", text=text, **(first if i == 0 else {"reply_to": "^"}))
    return steps, notes


def _public_texts(body: str, spec: AnswerSpec, hashtag: str, caps: Capabilities) -> list[str]:
    """`body` with the hashtag, as one post, or as a thread when `spec` asks for one."""
    suffix = f" {hashtag}" if spec.append_hashtag and not has_hashtag(body, hashtag) else ""
    full = body.strip() + suffix
    if caps.too_long(full) is None:
        return [full]
    if not spec.thread:
        raise UsageError(
            f"the answer is {caps.length(full)} characters long; "
            f"the limit here is {caps.max_length}"
            + (f" (and {caps.max_bytes} bytes)" if caps.max_bytes else ""),
            hint="shorten it, or add --thread to post it as a numbered thread",
        )
    return split_thread(body.strip(), caps.max_length, caps.length, suffix, caps.too_long)


def _fitting_mode(spec: AnswerSpec, caps: Capabilities, host: str | None, notes: list[str]) -> str:
    """The answer mode the platform allows for `spec`: a reply or a quote it cannot take falls
    back to a .@ post (said in `notes`); a DM it cannot send is refused."""
    mode = spec.mode
    if mode not in ANSWER_MODES:
        raise UsageError(
            f"unknown answer mode {mode!r}", hint=f"use one of: {', '.join(ANSWER_MODES)}"
        )
    if mode == "reply" and not caps.reply:
        notes.append("this platform has no replies; answering with a .@ post instead")
        mode = "dot"
    if mode == "reply" and caps.reply_needs_mention and not _mentions(spec.question.text, host):
        notes.append(
            "the platform only allows replies to posts that mention the host; "
            "answering with a repost and a .@ post instead"
        )
        mode = "dot"
    if mode == "quote" and not caps.quote:
        notes.append("this platform has no quotes; answering with a .@ post instead")
        mode = "dot"
    if mode == "dm" and not caps.dm:
        raise UsageError("this platform has no direct messages", hint="answer publicly instead")
    return mode


def _names(text: str, author: str) -> bool:
    """Whether `text` mentions `author` (the whole handle, not a longer one)."""
    mention = re.escape(handle(author))
    return re.search(mention + r"(?![\w@.-]*\w)", text, re.IGNORECASE) is not None


def _mentions(text: str, host: str | None) -> bool:
    if not host:
        return False
    return re.search(re.escape(handle(host)) + r"(?![\w])", text, re.IGNORECASE) is not None


_MENTION = re.compile(r"(?<![\w.])\.?@[\w.\-]+(?:@[\w.\-]+)?")


def community_text(
    question: str | None,
    answer: str,
    *,
    label: str,
    hashtag: str,
    capabilities: Capabilities,
    hashtags: Sequence[str] = (),
) -> str:
    """A question asked on another platform and its answer, as one stand-alone post here:
    "Q from a Bluesky user: ... A: ... #tag". No handle of anyone (mentions are dropped from
    the question), the question's own hashtags (`hashtags`) replaced by this platform's; the
    question is shortened to fit, or left out (`question` None: it carries private data).
    Raises UsageError when the answer alone does not fit."""
    article = "an" if label[:1].upper() in "AEIOUX" else "a"
    body = answer.strip()
    suffix = "" if has_hashtag(body, hashtag) else f" {hashtag}"
    if question is None:
        text = f"Answering a question from {article} {label} user: {body}{suffix}"
        if capabilities.too_long(text) is None:
            return text
        raise UsageError(f"the answer does not fit one post on this platform ({label} question)")
    asked = _MENTION.sub("", question)
    for tag in hashtags:
        asked = re.sub(re.escape(tag) + r"(?![\w])", "", asked, flags=re.IGNORECASE)
    asked = " ".join(asked.split())
    lead = f"Q from {article} {label} user: "
    tail = f" A: {body}{suffix}"
    words = asked.split()
    while words:
        shown = " ".join(words) + ("" if len(words) == len(asked.split()) else "…")
        text = f"{lead}{shown}{tail}"
        if capabilities.too_long(text) is None:
            return text
        words = words[:-1]
    raise UsageError(
        f"the answer leaves no room for the question on this platform ({label} question)",
        hint="shorten the answer to post it everywhere",
    )


def _questions(asked: Mapping[str, int] | None, group: Sequence[str]) -> str:
    """ "question" when the people of `group` asked one between them, else "questions"."""
    if asked is not None and sum(asked.get(who, 0) for who in group) == 1:
        return "question"
    return "questions"


def thanks_texts(
    handles: Sequence[str],
    hashtag: str,
    max_length: int,
    length: Callable[[str], int],
    asked: Mapping[str, int] | None = None,
) -> list[str]:
    """Thank-you posts mentioning `handles`, as many posts as needed to fit the platform;
    `asked` (questions by handle) makes a post to one person who asked one say "question"."""

    def text(group: list[str]) -> str:
        mentions = " ".join(handle(who) for who in group)
        return f"Thank you for your {_questions(asked, group)} {mentions}! {hashtag}"

    posts: list[str] = []
    current: list[str] = []
    for who in handles:
        if current and length(text([*current, who])) > max_length:
            posts.append(text(current))
            current = [who]
        else:
            current.append(who)
    if current:
        posts.append(text(current))
    return [f".{p}" if p.startswith("@") else p for p in posts]


LATE_INTRO = "Answered after the session, for those who missed it:"
EXCERPT = 80  # characters of a question a late-answer list shows at most
INVITE_GROUP = 5  # mentions per invitation post: more reads as a mass mention


def excerpt(text: str, limit: int, hashtags: Sequence[str] = ()) -> str:
    """`text` on one line, its hashtags removed, cut at a word boundary to at most `limit`
    characters ("…" marks the cut); "" when `limit` leaves no word."""
    for tag in hashtags:
        text = re.sub(re.escape(tag) + r"(?![\w])", " ", text, flags=re.IGNORECASE)
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return f"{cut}…" if cut else ""


def late_texts(
    items: Sequence[tuple[int, str, str]],
    hashtag: str,
    max_length: int,
    length: Callable[[str], int],
) -> list[tuple[list[int], str]]:
    """Posts listing the questions answered after the session (`items`: number, asker, the
    question's text or "" to name only the asker), as many as needed to fit: each line is
    `- @asker: the question` (cut shorter when a line alone would not fit). Returns each
    post with the numbers of the questions it lists."""

    def post(lines: list[str]) -> str:
        return "\n".join([LATE_INTRO, *lines, hashtag])

    posts: list[tuple[list[int], str]] = []
    numbers: list[int] = []
    lines: list[str] = []
    for number, asker, text in items:
        line = ""
        for limit in (EXCERPT, EXCERPT // 2, 0):
            short = excerpt(text, limit, (hashtag,)) if text and limit else ""
            line = f"- {handle(asker)}: {short}" if short else f"- {handle(asker)}"
            if length(post([line])) <= max_length:
                break
        if length(post([line])) > max_length:
            continue  # not even the handle fits beside the intro: leave it out
        if lines and length(post([*lines, line])) > max_length:
            posts.append((numbers, post(lines)))
            numbers, lines = [], []
        numbers.append(number)
        lines.append(line)
    if lines:
        posts.append((numbers, post(lines)))
    return posts


def invitation_texts(
    handles: Sequence[str],
    hashtag: str,
    invitation: Sequence[str],
    max_length: int,
    length: Callable[[str], int],
    asked: Mapping[str, int] | None = None,
) -> list[tuple[list[str], str]]:
    """Posts inviting `handles` by mention to the next session, at most INVITE_GROUP per
    post and as many as fit; `invitation` gives the invitation's wordings, fullest first (the
    first that fits is used); `asked` (questions by handle) makes a post to one person who
    asked one say "a great question". Returns each post with the handles it mentions."""
    mentioned = {handle(h): h for h in handles}

    def text(group: list[str], words: str) -> str:
        one = _questions(asked, [mentioned.get(who, who) for who in group]) == "question"
        great = "a great question" if one else "great questions"
        return f"You asked {great} at {hashtag}, {' '.join(group)}: {words}"

    def fitting(group: list[str]) -> str | None:
        for words in invitation:
            candidate = text(group, words)
            if length(candidate) <= max_length:
                return candidate
        return None

    posts: list[tuple[list[str], str]] = []
    group: list[str] = []
    for who in (handle(h) for h in handles):
        if fitting([who]) is None:
            continue
        if group and (len(group) >= INVITE_GROUP or fitting([*group, who]) is None):
            posts.append((group, str(fitting(group))))
            group = []
        group.append(who)
    if group:
        posts.append((group, str(fitting(group))))
    return posts


__all__ = [
    "ANSWER_MODES",
    "AnswerSpec",
    "Question",
    "community_text",
    "compose_answer",
    "dot_text",
    "ensure_hashtag",
    "excerpt",
    "has_hashtag",
    "invitation_texts",
    "late_texts",
    "split_thread",
    "thanks_texts",
]
