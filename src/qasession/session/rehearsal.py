"""Rehearsals: a scripted crowd (YAML) or a twarc2 archive replayed into the local platform on
the session's clock, and the virtual clock that makes an hour pass in a minute.

Replay is idempotent: each crowd entry is written with a client key unique to this rehearsal,
so a rehearsal killed and restarted never posts an entry twice and resumes on the same virtual
timeline (its anchors are stored with the session).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qasession.clock import VirtualClock
from qasession.errors import PlanError
from qasession.platforms.local import LocalNetwork

_AFTER = re.compile(r"^\s*([+-])?\s*((?:\d+\s*[dhms]\s*)+)\s*$", re.IGNORECASE)
_PART = re.compile(r"(\d+)\s*([dhms])", re.IGNORECASE)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
CROWD_MAX_BYTES = 500_000_000  # a twarc2 archive of a large session; YAML scripts are small


@dataclass(slots=True)
class CrowdEntry:
    after: timedelta  # relative to the session start (negative: before it)
    author: str
    text: str
    likes: int = 0
    reposts: int = 0
    reply_to: int | None = None  # index of another entry
    quote_of: int | None = None
    line: int | None = None
    # where it is posted (a session's platform names; several: cross-posted); () = the first
    platforms: tuple[str, ...] = ()


@dataclass(slots=True)
class CrowdScript:
    entries: list[CrowdEntry]
    path: Path
    source: str  # "yaml" or "twarc2"
    meta: dict[str, Any] = field(default_factory=dict)


def _valid(text: str) -> bool:
    """Valid Unicode without control characters (but newline and tab)."""
    from qasession.text.safe import valid_text

    if valid_text(text) != text:
        return False
    return not any((ord(ch) < 0x20 and ch not in "\n\t") or 0x7F <= ord(ch) < 0xA0 for ch in text)


def parse_after(value: Any, *, path: str, line: int | None, index: int) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(minutes=float(value))
    match = _AFTER.match(str(value))
    if not match:
        raise PlanError(
            f"cannot read {value!r} as a time offset",
            path=path,
            line=line,
            field=f"[{index}].after",
            hint="write e.g. 5m, 1h2m, -1d, 30s",
        )
    seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _PART.findall(match.group(2)))
    return timedelta(seconds=-seconds if match.group(1) == "-" else seconds)


def load_crowd(path: Path, session_start: datetime | None = None) -> CrowdScript:
    """Read a crowd script: a YAML list of entries, or a twarc2 JSONL archive (by content)."""
    try:
        data = path.read_bytes() if path.is_file() else b""
        if not path.is_file():
            raise PlanError("the crowd file is not a regular file", path=str(path))
        if len(data) > CROWD_MAX_BYTES:
            raise PlanError(
                f"the crowd file is over {CROWD_MAX_BYTES // 1_000_000} MB",
                path=str(path),
                hint="replay a smaller script or archive",
            )
        raw = data.decode("utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read the crowd file: {exc.strerror}", path=str(path)) from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PlanError(
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x})",
            path=str(path),
            line=line,
            hint="save the file as UTF-8",
        ) from None
    stripped = raw.lstrip()
    if stripped.startswith("{"):
        return _load_twarc(path, raw, session_start)
    return _load_yaml(path, raw)


def _load_yaml(path: Path, raw: str) -> CrowdScript:
    import yaml

    try:
        node = yaml.compose(raw, Loader=yaml.SafeLoader)
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PlanError(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            path=str(path),
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    if isinstance(data, dict) and "crowd" in data:
        data = data["crowd"]
        node = next((v for k, v in node.value if k.value == "crowd"), node) if node else node
    if not isinstance(data, list):
        raise PlanError(
            "a crowd file is a list of entries",
            path=str(path),
            line=1,
            hint="- {after: 5m, author: '@alice', text: '...'}",
        )
    lines = [item.start_mark.line + 1 for item in node.value] if node is not None else []
    entries = [
        _crowd_entry(item, index, len(data), path, lines[index] if index < len(lines) else None)
        for index, item in enumerate(data)
    ]
    return CrowdScript(entries, path, "yaml")


_CROWD_KEYS = {
    "after",
    "author",
    "text",
    "likes",
    "reposts",
    "reply_to",
    "quote_of",
    "tags",
    "platform",
}


def _crowd_platforms(value: Any) -> tuple[str, ...] | None:
    """`platform: local:x` or `platform: [local:x, local:bsky]` (cross-posted); None if bad."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        return None
    if not all(isinstance(item, str) and item.strip() for item in items):
        return None
    return tuple(dict.fromkeys(item.strip() for item in items))


def _crowd_entry(item: Any, index: int, count: int, path: Path, line: int | None) -> CrowdEntry:
    """Entry `index` of a crowd list of `count`, checked; the error names its file and line."""

    def bad(message: str, field: str, hint: str | None = None) -> PlanError:
        return PlanError(message, field=field, hint=hint, path=str(path), line=line)

    if not isinstance(item, dict):
        raise bad("each entry is a mapping", f"[{index}]")
    unknown = set(item) - _CROWD_KEYS
    if unknown:
        raise bad(
            f"unknown key {sorted(unknown)[0]!r}",
            f"[{index}]",
            f"known keys: {', '.join(sorted(_CROWD_KEYS))}",
        )
    for name in ("author", "text"):
        if not isinstance(item.get(name), str) or not item[name].strip():
            raise bad(f"{name} is required (text)", f"[{index}].{name}")
        if not _valid(item[name]):
            raise bad(
                "invalid character (a lone surrogate or a control character)",
                f"[{index}].{name}",
                "remove it: posts are valid Unicode text",
            )
    refs: dict[str, int | None] = {}
    for ref in ("reply_to", "quote_of"):
        value = item.get(ref)
        if value is not None and (
            not isinstance(value, int) or not 0 <= value < count or value == index
        ):
            raise bad(f"{ref} must be the index of another entry (0 to {count - 1})",
                      f"[{index}].{ref}")  # fmt: skip
        refs[ref] = value
    platforms = _crowd_platforms(item.get("platform"))
    if platforms is None:
        raise bad(
            "platform is a platform name of the session, or a list of them",
            f"[{index}].platform",
            "e.g. platform: local:bsky, or platform: [local:x, local:bsky] to cross-post",
        )
    counts: dict[str, int] = {}
    for name in ("likes", "reposts"):
        value = item.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad(f"{name} must be a whole number ≥ 0", f"[{index}].{name}")
        counts[name] = value
    return CrowdEntry(
        after=parse_after(item.get("after", 0), path=str(path), line=line, index=index),
        author=item["author"].strip(),
        text=item["text"],
        likes=counts["likes"],
        reposts=counts["reposts"],
        reply_to=refs["reply_to"],
        quote_of=refs["quote_of"],
        line=line,
        platforms=platforms,
    )


def _load_twarc(path: Path, raw: str, session_start: datetime | None) -> CrowdScript:
    """A twarc2 archive: one API response per line (`data` + `includes.users`), or one tweet per
    line with `author` inlined (twarc2 flattened). Offsets keep the archive's own timing: relative
    to the session start when the archive covers it, else to the archive's first tweet."""
    tweets: list[tuple[datetime, str, dict[str, Any]]] = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            page = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PlanError(
                f"not a JSON line: {exc.msg}", path=str(path), line=number, column=exc.colno
            ) from None
        users = {u.get("id"): u.get("username") for u in page.get("includes", {}).get("users", [])}
        items = page.get("data", [page]) if isinstance(page, dict) else []
        for tweet in items if isinstance(items, list) else [items]:
            try:
                created = datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))
                author = (tweet.get("author") or {}).get("username") or users.get(
                    tweet.get("author_id")
                )
                text = str(tweet["text"])
            except (KeyError, TypeError, ValueError, AttributeError):
                raise PlanError(
                    "a tweet without created_at, text or author",
                    path=str(path),
                    line=number,
                    hint="expected twarc2 output (search or timeline)",
                ) from None
            metrics = tweet.get("public_metrics") or {}
            tweets.append((created, f"@{author or 'unknown'}", {"text": text, "metrics": metrics}))
    tweets.sort(key=lambda t: t[0])
    if not tweets:
        return CrowdScript([], path, "twarc2")
    first = tweets[0][0]
    origin = first
    if session_start is not None and first - timedelta(days=7) <= session_start <= tweets[-1][0]:
        origin = session_start
    entries = [
        CrowdEntry(
            after=created - origin,
            author=author,
            text=data["text"],
            likes=int(data["metrics"].get("like_count", 0) or 0),
            reposts=0,  # retweets in an archive are lines of their own
        )
        for created, author, data in tweets
    ]
    return CrowdScript(entries, path, "twarc2", {"tweets": len(entries)})


class Crowd:
    """Replays a crowd script into the local networks of the session (one per platform: an
    entry goes where it names, the first platform by default) as the session clock passes."""

    def __init__(
        self,
        script: CrowdScript,
        network: LocalNetwork | dict[str, LocalNetwork],
        start: datetime,
        rehearsal_id: str,
    ) -> None:
        self.script = script
        self.networks = network if isinstance(network, dict) else {network.name: network}
        self.default = next(iter(self.networks))
        self.start = start
        self.rehearsal_id = rehearsal_id
        order = sorted(range(len(script.entries)), key=lambda i: (script.entries[i].after, i))
        self.order = order
        self.position = 0
        self.ids: dict[tuple[int, str], str] = {}

    @property
    def network(self) -> LocalNetwork:
        return self.networks[self.default]

    def key(self, index: int, suffix: str = "") -> str:
        return f"crowd:{self.rehearsal_id}:{index}{suffix}"

    def at(self, index: int) -> datetime:
        return self.start + self.script.entries[index].after

    def where(self, index: int) -> tuple[str, ...]:
        return self.script.entries[index].platforms or (self.default,)

    def next_time(self) -> datetime | None:
        if self.position >= len(self.order):
            return None
        return self.at(self.order[self.position])

    def replay_until(self, now: datetime) -> int:
        """Post every entry due by `now` (idempotent); returns how many were due."""
        count = 0
        while self.position < len(self.order):
            index = self.order[self.position]
            if self.at(index) > now:
                break
            for platform in self.where(index):
                self._post(index, platform)
            self.position += 1
            count += 1
        return count

    def _id_of(self, index: int, platform: str) -> str | None:
        if (index, platform) in self.ids:
            return self.ids[index, platform]
        if platform not in self.where(index):
            return None  # a reply to an entry posted elsewhere: a post of its own here
        network = self.networks[platform]
        found = network.find_key(self.key(index))
        if found is None and self.at(index) <= network.clock().now():
            self._post(index, platform)
            return self.ids.get((index, platform))
        return found

    def _post(self, index: int, platform: str) -> None:
        entry = self.script.entries[index]
        network = self.networks[platform]
        ref = None
        kind = "post"
        if entry.reply_to is not None:
            ref, kind = self._id_of(entry.reply_to, platform), "reply"
        elif entry.quote_of is not None:
            ref, kind = self._id_of(entry.quote_of, platform), "quote"
        created = self.at(index)
        post_id = network.add(
            author=entry.author,
            text=entry.text,
            created_at=created,
            kind=kind if ref else "post",
            ref=ref,
            likes=entry.likes,
            client_key=self.key(index),
        )
        self.ids[index, platform] = post_id
        for n in range(entry.reposts):
            network.add(
                author=f"@fan{index}x{n}",
                text=entry.text,
                created_at=created + timedelta(seconds=1 + n),
                kind="repost",
                ref=post_id,
                client_key=self.key(index, f":rp{n}"),
            )


@dataclass(slots=True)
class Rehearsal:
    """A rehearsal's stored state: its id, clock anchors and the shifted session start."""

    rehearsal_id: str
    start: datetime
    clock: VirtualClock

    def to_json(self) -> str:
        return json.dumps(
            {
                "rehearsal_id": self.rehearsal_id,
                "start": self.start.isoformat(),
                "virtual_anchor": self.clock.virtual_anchor.isoformat(),
                "real_anchor": self.clock.real_anchor.isoformat(),
                "speed": self.clock.speed,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Rehearsal:
        data = json.loads(text)
        return cls(
            data["rehearsal_id"],
            datetime.fromisoformat(data["start"]),
            VirtualClock(
                datetime.fromisoformat(data["virtual_anchor"]),
                datetime.fromisoformat(data["real_anchor"]),
                float(data["speed"]),
            ),
        )

    @classmethod
    def new(
        cls, planned_start: datetime, *, speed: float, start_now: bool, lead: timedelta
    ) -> Rehearsal:
        real_now = datetime.now(UTC)
        start = real_now.replace(microsecond=0) + lead if start_now else planned_start
        virtual_now = start - lead if start_now else real_now
        rehearsal_id = real_now.strftime("%Y%m%dT%H%M%S%f")
        return cls(rehearsal_id, start, VirtualClock(virtual_now, real_now, speed))


@dataclass(slots=True)
class RehearsalSetup:
    """What a rehearsal run needs: the shifted session, its clock and the crowd script."""

    session: Any
    clock: VirtualClock
    rehearsal_id: str
    script: CrowdScript | None
    warnings: list[str] = field(default_factory=list)
    fresh: bool = False  # a new rehearsal (not one resumed after a crash)
    lead: timedelta = timedelta(minutes=1)

    def begin(self, store: Any, home: Path) -> None:
        """Start the virtual clock now, when the loop is about to run: whatever the start-up
        cost (imports, a loaded machine), a new rehearsal still has its full lead before the
        opening. A resumed one keeps its timeline."""
        if not self.fresh:
            return
        self.fresh = False
        self.clock.real_anchor = datetime.now(UTC)
        rehearsal = Rehearsal(self.rehearsal_id, self.session.start, self.clock)
        store.set_session_fields(self.session.id, clock=rehearsal.to_json())
        for name in self.session.platform_names:
            network = LocalNetwork(home, name)
            network.set_clock(self.clock)
            network.close()

    def crowd(self, home: Path) -> Crowd | None:
        """The crowd replayer (opens its own connections: call it in the thread that uses it)."""
        if self.script is None:
            return None
        networks = {name: LocalNetwork(home, name) for name in self.session.platform_names}
        return Crowd(self.script, networks, self.session.start, self.rehearsal_id)


def _check_crowd_platforms(session: Any, script: CrowdScript) -> None:
    """A crowd replays into local platforms only (`local`, or stand-ins like `local:x`), and
    its entries name platforms of the session."""
    from qasession.platforms.registry import stands_for

    names = session.platform_names
    if any(name != "local" and stands_for(name) is None for name in names):
        raise PlanError(
            "a crowd can only be replayed on local platforms",
            path=str(script.path),
            hint="set `platform: local` (or `platforms:` of local:x, local:bsky, "
            "local:mastodon) for rehearsals",
        )
    for index, entry in enumerate(script.entries):
        unknown = [p for p in entry.platforms if p not in names]
        if unknown:
            raise PlanError(
                f"platform {unknown[0]!r} is not one of the session's",
                path=str(script.path),
                line=entry.line,
                field=f"[{index}].platform",
                hint="the session's platforms: " + ", ".join(names),
            )


def prepare(
    session: Any,
    store: Any,
    home: Path,
    *,
    crowd_file: Path | None,
    speed: float,
    start_now: bool,
    lead: timedelta | None = None,
) -> RehearsalSetup:
    """Set up (or resume) a rehearsal of `session`: the shifted session, its virtual clock
    (shared with other shells through the local network) and the crowd to replay.

    An unfinished rehearsal of the same session is resumed on its stored timeline; a finished
    one is replaced by a new one (the session's stored state starts over)."""
    from qasession.store import to_iso

    if lead is None:  # a minute of the session, and at least two real seconds to get going
        lead = max(timedelta(minutes=1), timedelta(seconds=2 * speed))
    script = load_crowd(crowd_file, session.start) if crowd_file is not None else None
    if script is not None:
        _check_crowd_platforms(session, script)
    row = store.session_row(session.id)
    rehearsal: Rehearsal | None = None
    if row and row.get("clock") and not row.get("ended_at"):
        rehearsal = Rehearsal.from_json(row["clock"])
    fresh = rehearsal is None
    if rehearsal is None:
        if row:
            store.reset_session(session.id)
        rehearsal = Rehearsal.new(session.start, speed=speed, start_now=start_now, lead=lead)
        store.ensure_session(session.id, session.hashtag, session.platform)
        store.set_session_fields(
            session.id, clock=rehearsal.to_json(), started_at=to_iso(rehearsal.clock.now())
        )
    for name in session.platform_names:  # each platform's own network (local:x, local:bsky)
        network = LocalNetwork(home, name)
        if fresh:  # what is already on it belongs to earlier rehearsals
            newest = network.db.execute("SELECT max(id) FROM posts").fetchone()[0]
            store.ensure_source(session.id, name, name)
            store.set_source_fields(session.id, name, cursor=str(newest) if newest else None)
        network.set_clock(rehearsal.clock)
        network.close()
    shifted = session.with_start(rehearsal.start) if rehearsal.start != session.start else session
    warnings = []
    if script is not None and script.entries:
        from qasession.compose import has_hashtag

        tagged = sum(1 for e in script.entries if has_hashtag(e.text, session.hashtag))
        if tagged == 0:
            warnings.append(
                f"no post of {script.path} carries {session.hashtag}: the session will not see "
                "any of them (is it the crowd of another session?)"
            )
        elif tagged < len(script.entries) / 2:
            warnings.append(
                f"only {tagged} of {len(script.entries)} posts of {script.path} carry "
                f"{session.hashtag}: the others will not be seen"
            )
    return RehearsalSetup(
        shifted, rehearsal.clock, rehearsal.rehearsal_id, script, warnings, fresh, lead
    )
