"""`FakeBluesky`: an in-process fake of the XRPC endpoints the Bluesky adapter uses.

Shaped by the recordings in `../shared/fixtures/atproto/` (a whole session of the atproto SDK
against `@atproto/dev-env`): `createSession` answers with real-looking JWTs (base64url JSON
with `exp`, unsigned) and no didDoc, so the SDK stays on the service it was given; AT-URIs,
CIDs and TIDs look like the real ones; `searchPosts` pages newest first by `indexedAt` with
a keyset cursor (`<ms>__<cid>`, as the AppView's), matching the tag in any case; `putRecord`
with `"swapRecord": null` writes only to a free key (the identical record again is a 200
no-op with the same CID, another one a 400 `InvalidSwap`), as the reference PDS does
(`swap_status = 500` makes that refusal a 500, as the reference PDS answers a duplicate
`createRecord`); texts over 300 graphemes get the PDS's 400 message; `getRecord` of a
missing key is 400 `RecordNotFound`. The chat endpoints answer only through the chat proxy
header, and an account with `accepts_dms=False` makes them refuse with the chat service's
400.

Use it as an httpx transport (``httpx.MockTransport(fake.handle)``, what the adapter's
`transport` argument takes) or on loopback for a `qa` subprocess (``with fake.serve() as
url``). Every request is recorded in `requests` (method, nsid, params, status, headers)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import regex

from qasession.platforms.bluesky_text import TID_ALPHABET, is_tid

CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
MAX_GRAPHEMES = 300


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_jwt(payload: dict[str, Any]) -> str:
    """A JWT the SDK can read (it checks `exp`, not the signature)."""
    return f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64(payload)}.c2ln"


def _cid(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Account:
    did: str
    handle: str
    password: str = ""
    accepts_dms: bool = True


@dataclass
class Record:
    uri: str
    cid: str
    collection: str
    rkey: str
    author: Account
    value: dict[str, Any]
    indexed_at: datetime
    likes: int = 0
    reposts: int = 0


@dataclass
class Message:
    id: str
    convo: str
    sender: str
    text: str


@dataclass
class Seen:
    method: str
    nsid: str
    params: dict[str, list[str]]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass
class _Fault:
    status: int
    nsid: str | None = None
    after: bool = False  # apply the write, then fail (a lost answer)
    headers: dict[str, str] = field(default_factory=dict)
    timeout: bool = False


class _Reply(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class FakeBluesky:
    """A PDS, an AppView and a chat service in one, in memory; see the module docstring."""

    def __init__(
        self,
        host: str = "acme.bsky.social",
        password: str = "app-pass-1234",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.host = self.account(host, password=password)
        self.records: dict[str, Record] = {}  # uri -> record
        self.blobs: dict[str, bytes] = {}
        self.messages: list[Message] = []
        self.convos: dict[frozenset[str], str] = {}
        self.requests: list[Seen] = []
        self.faults: list[_Fault] = []
        self.access: dict[str, str] = {}  # valid access token -> did
        self.refresh: dict[str, str] = {}  # valid refresh token -> did
        self.access_ttl = timedelta(hours=2)
        self.limits: dict[str, list[int]] = {}  # nsid -> [limit, remaining, reset epoch]
        self.swap_status = 400  # 500: a PDS that answers a taken key so
        self._last_indexed: datetime | None = None

    # -- controls -------------------------------------------------------------------------

    def account(
        self, handle: str, *, password: str = "", accepts_dms: bool | None = None
    ) -> Account:
        handle = handle.lstrip("@").lower()
        if handle not in self.accounts:
            seed = hashlib.sha256(handle.encode()).digest()
            did = "did:plc:" + base64.b32encode(seed).decode().lower()[:24]
            self.accounts[handle] = Account(did, handle, password)
        account = self.accounts[handle]
        if accepts_dms is not None:
            account.accepts_dms = accepts_dms
        return account

    def _tid(self) -> str:
        value = (int(self.clock().timestamp() * 1_000_000) << 10) | next(self._ids) % 1024
        return "".join(TID_ALPHABET[(value >> (5 * i)) & 0x1F] for i in reversed(range(13)))

    def _indexed(self) -> datetime:
        now = self.clock()
        if self._last_indexed is not None and now <= self._last_indexed:
            now = self._last_indexed + timedelta(milliseconds=1)
        self._last_indexed = now
        return now

    def inject(
        self,
        author: str,
        text: str,
        *,
        likes: int = 0,
        reposts: int = 0,
        record: dict[str, Any] | None = None,
    ) -> str:
        """Someone else posts `text`; returns its AT-URI."""
        who = self.account(author)
        value = {"$type": "app.bsky.feed.post", "text": text, "createdAt": _iso(self.clock())}
        value.update(record or {})
        with self._lock:
            made = self._store(who, "app.bsky.feed.post", self._tid(), value)
        made.likes, made.reposts = likes, reposts
        return made.uri

    def repost_by(self, author: str, uri: str) -> str:
        """Someone else reposts the post at `uri`; returns the repost's AT-URI."""
        who = self.account(author)
        subject = {"uri": uri, "cid": self.records[uri].cid}
        value = {
            "$type": "app.bsky.feed.repost",
            "subject": subject,
            "createdAt": _iso(self.clock()),
        }
        with self._lock:
            made = self._store(who, "app.bsky.feed.repost", self._tid(), value)
        self.records[uri].reposts += 1
        return made.uri

    def fail(
        self,
        status: int,
        nsid: str | None = None,
        *,
        after: bool = False,
        headers: dict[str, str] | None = None,
        timeout: bool = False,
    ) -> None:
        """The next request (to `nsid`, if given) fails with `status` (`after`: once its
        write is done; `timeout`: the connection times out instead)."""
        self.faults.append(_Fault(status, nsid, after, dict(headers or {}), timeout))

    def set_limit(self, nsid: str, limit: int, remaining: int, reset: datetime) -> None:
        """`nsid` answers with `ratelimit-*` headers; at 0 remaining, 429 until `reset`."""
        self.limits[nsid] = [limit, remaining, int(reset.timestamp())]

    def host_records(self, collection: str = "app.bsky.feed.post") -> list[Record]:
        return sorted(
            (
                r
                for r in self.records.values()
                if r.author is self.host and r.collection == collection
            ),
            key=lambda r: r.indexed_at,
        )

    def count(self, nsid: str, status: int | None = None) -> int:
        return sum(
            1 for r in self.requests if r.nsid == nsid and (status is None or r.status == status)
        )

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the HTTP side --------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        nsid = request.url.path.rsplit("/", 1)[-1]
        params = parse_qs(request.url.query.decode(), keep_blank_values=True)
        seen = Seen(request.method, nsid, params)
        with self._lock:
            self.requests.append(seen)
            status, body, headers = self._answer(request, nsid, params)
        seen.status, seen.headers, seen.body = status, headers, body
        if status == -1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(status, json=body, headers=headers)

    def _answer(
        self, request: httpx.Request, nsid: str, params: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        headers = self._limit_headers(nsid)
        fault = next((f for f in self.faults if f.nsid in (None, nsid)), None)
        if fault is not None and not fault.after:
            self.faults.remove(fault)
            if fault.timeout:
                return -1, None, {}
            return fault.status, _error_body(fault.status), {**headers, **fault.headers}
        if headers.get("ratelimit-remaining") == "-1":
            headers["ratelimit-remaining"] = "0"
            return 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers
        try:
            body = self._route(request, nsid, params)
        except _Reply as reply:
            return reply.status, {"error": reply.error, "message": reply.message}, headers
        if fault is not None:
            self.faults.remove(fault)
            return fault.status, _error_body(fault.status), {**headers, **fault.headers}
        return 200, body, headers

    def _limit_headers(self, nsid: str) -> dict[str, str]:
        limit = self.limits.get(nsid)
        if limit is None:
            return {}
        now = int(self.clock().timestamp())
        if now >= limit[2]:
            limit[1], limit[2] = limit[0], now + 300
        limit[1] -= 1
        return {
            "ratelimit-limit": str(limit[0]),
            "ratelimit-remaining": str(limit[1]) if limit[1] >= 0 else "-1",
            "ratelimit-reset": str(limit[2]),
            "ratelimit-policy": f"{limit[0]};w=300",
        }

    def _route(self, request: httpx.Request, nsid: str, params: dict[str, list[str]]) -> Any:
        if nsid == "com.atproto.server.createSession":
            return self._create_session(json.loads(request.content))
        if nsid == "com.atproto.server.refreshSession":
            return self._refresh_session(request)
        me = self._authenticated(request)
        if nsid.startswith("chat."):
            if request.headers.get("atproto-proxy") != CHAT_PROXY:
                raise _Reply(400, "InvalidRequest", f"Method not found: {nsid}")
            return self._chat(nsid, me, params, request)
        handler = self._handlers().get(nsid)
        if handler is None:
            raise _Reply(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")
        data = (
            json.loads(request.content)
            if request.method == "POST" and nsid != "com.atproto.repo.uploadBlob"
            else None
        )
        return handler(me, params, data, request)

    def _handlers(self) -> dict[str, Callable[..., Any]]:
        return {
            "app.bsky.actor.getProfile": self._get_profile,
            "com.atproto.identity.resolveHandle": self._resolve_handle,
            "app.bsky.feed.searchPosts": self._search,
            "app.bsky.feed.getPosts": self._get_posts,
            "com.atproto.repo.putRecord": self._put_record,
            "app.bsky.notification.listNotifications": self._notifications,
            "com.atproto.repo.getRecord": self._get_record,
            "com.atproto.repo.uploadBlob": self._upload_blob,
        }

    # -- sessions ---------------------------------------------------------------------------

    def _tokens(self, account: Account) -> dict[str, Any]:
        now = int(datetime.now(UTC).timestamp())  # the SDK checks `exp` on the real clock
        serial = next(self._ids)
        access = make_jwt(
            {
                "scope": "com.atproto.appPass",
                "sub": account.did,
                "iat": now,
                "exp": now + int(self.access_ttl.total_seconds()),
                "n": serial,
            }
        )
        refresh = make_jwt(
            {
                "scope": "com.atproto.refresh",
                "sub": account.did,
                "iat": now,
                "exp": now + 90 * 86400,
                "jti": str(serial),
            }
        )
        self.access[access] = account.did
        self.refresh[refresh] = account.did
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "did": account.did,
            "handle": account.handle,
            "email": "host@test.invalid",
            "emailConfirmed": False,
            "active": True,
        }

    def _create_session(self, data: dict[str, Any]) -> Any:
        account = self.accounts.get(str(data.get("identifier", "")).lower())
        if account is None or not account.password or data.get("password") != account.password:
            raise _Reply(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._tokens(account)

    def _refresh_session(self, request: httpx.Request) -> Any:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        did = self.refresh.pop(token, None)  # refresh tokens rotate: each works once
        if did is None:
            raise _Reply(400, "ExpiredToken", "Token has expired")
        return self._tokens(self._by_did(did))

    def _authenticated(self, request: httpx.Request) -> Account:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        did = self.access.get(token)
        if did is None:
            raise _Reply(401, "AuthenticationRequired", "Authentication Required")
        return self._by_did(did)

    def _by_did(self, did: str) -> Account:
        return next(a for a in self.accounts.values() if a.did == did)

    def expire_access_tokens(self) -> None:
        """Every access token stops working (as when they expire on the server)."""
        self.access.clear()

    # -- the AppView ------------------------------------------------------------------------

    def _actor(self, actor: str) -> Account:
        found = next((a for a in self.accounts.values() if actor in (a.did, a.handle)), None)
        if found is None:
            raise _Reply(400, "InvalidRequest", "Profile not found")
        return found

    def _get_profile(self, me: Account, params: dict[str, list[str]], *_: Any) -> Any:
        who = self._actor(params["actor"][0])
        return {"did": who.did, "handle": who.handle, "followersCount": 0, "postsCount": 0}

    def _resolve_handle(self, me: Account, params: dict[str, list[str]], *_: Any) -> Any:
        handle = params["handle"][0].lower()
        if handle not in self.accounts:
            raise _Reply(400, "InvalidRequest", "Unable to resolve handle")
        return {"did": self.accounts[handle].did}

    def _view(self, record: Record) -> dict[str, Any]:
        return {
            "uri": record.uri,
            "cid": record.cid,
            "author": {"did": record.author.did, "handle": record.author.handle, "labels": []},
            "record": record.value,
            "replyCount": 0,
            "repostCount": record.reposts,
            "likeCount": record.likes,
            "quoteCount": 0,
            "indexedAt": _iso(record.indexed_at),
            "labels": [],
        }

    def _search(self, me: Account, params: dict[str, list[str]], *_: Any) -> Any:
        q = params.get("q", [""])[0]
        tags = {t.lower() for t in params.get("tag", [])}
        wanted = {w[1:].lower() for w in q.split() if w.startswith("#")} | tags
        limit = int(params.get("limit", ["25"])[0])
        matches = [
            r
            for r in self.records.values()
            if r.collection == "app.bsky.feed.post" and wanted & _tags_of(r.value)
        ]
        matches.sort(key=lambda r: (r.indexed_at, r.cid), reverse=True)
        cursor = params.get("cursor", [None])[0]
        if cursor:
            ms, _, cid = cursor.partition("__")
            key = (int(ms), cid)
            matches = [r for r in matches if (_ms(r.indexed_at), r.cid) < key]
        page = matches[:limit]
        body: dict[str, Any] = {"posts": [self._view(r) for r in page]}
        if len(matches) > limit:
            last = page[-1]
            body["cursor"] = f"{_ms(last.indexed_at)}__{last.cid}"
        return body

    def _get_posts(self, me: Account, params: dict[str, list[str]], *_: Any) -> Any:
        return {
            "posts": [
                self._view(self.records[u]) for u in params.get("uris", []) if u in self.records
            ]
        }

    def _reasons(self, me: Account, record: Record) -> list[str]:
        """Why `record` notifies `me`: it mentions them (a mention facet with their DID),
        replies to their post, quotes it."""
        value, mine = record.value, f"at://{me.did}/"
        if record.author is me:
            return []
        if record.collection == "app.bsky.feed.repost":
            return ["repost"] if value["subject"]["uri"].startswith(mine) else []
        reasons = []
        for facet in value.get("facets") or []:
            if any(f.get("did") == me.did for f in facet.get("features", [])):
                reasons.append("mention")
        parent = ((value.get("reply") or {}).get("parent") or {}).get("uri", "")
        if parent.startswith(mine):
            reasons.append("reply")
        embed = value.get("embed") or {}
        quoted = str((embed.get("record") or {}).get("uri", ""))
        if embed.get("$type") == "app.bsky.embed.record" and quoted.startswith(mine):
            reasons.append("quote")
        return reasons[:1]

    def _notifications(self, me: Account, params: dict[str, list[str]], *_: Any) -> Any:
        """Newest first, a keyset cursor as the AppView's; `reasons` filters each page after
        it is read, as the reference AppView does (a page may come back short, even empty,
        with a cursor)."""
        wanted = set(params.get("reasons", []))
        limit = int(params.get("limit", ["50"])[0])
        notes = [
            (record, reasons[0])
            for record in self.records.values()
            if (reasons := self._reasons(me, record))
        ]
        notes.sort(key=lambda n: (_ms(n[0].indexed_at), n[0].cid), reverse=True)
        if "cursor" in params:
            ms, cid = params["cursor"][0].split("__")
            notes = [n for n in notes if (_ms(n[0].indexed_at), n[0].cid) < (int(ms), cid)]
        page = notes[:limit]
        body: dict[str, Any] = {
            "notifications": [
                {
                    "uri": record.uri,
                    "cid": record.cid,
                    "author": {"did": record.author.did, "handle": record.author.handle},
                    "reason": reason,
                    "record": record.value,
                    "isRead": False,
                    "indexedAt": _iso(record.indexed_at),
                }
                for record, reason in page
                if not wanted or reason in wanted
            ]
        }
        if len(notes) > limit:
            last = page[-1][0]
            body["cursor"] = f"{_ms(last.indexed_at)}__{last.cid}"
        return body

    # -- the PDS ----------------------------------------------------------------------------

    def _store(self, who: Account, collection: str, rkey: str, value: dict[str, Any]) -> Record:
        uri = f"at://{who.did}/{collection}/{rkey}"
        made = Record(
            uri,
            _cid(uri + json.dumps(value, sort_keys=True)),
            collection,
            rkey,
            who,
            value,
            self._indexed(),
        )
        self.records[uri] = made
        return made

    def _put_record(self, me: Account, _: Any, data: dict[str, Any], *__: Any) -> Any:
        """As the reference PDS: `"swapRecord": null` writes only if the key is free (the
        identical record again: 200, same CID, no commit; another: 400 `InvalidSwap`); a CID
        swaps only that record; no `swapRecord` at all overwrites (an edit)."""
        if data.get("repo") not in (me.did, me.handle):
            raise _Reply(403, "InvalidRequest", "repo does not match the session")
        collection, rkey, value = data["collection"], data["rkey"], data["record"]
        if not is_tid(rkey):
            raise _Reply(
                400,
                "InvalidRequest",
                f"Invalid record key for {collection}: Invalid TID string (got {rkey!r}) at $",
            )
        uri = f"at://{me.did}/{collection}/{rkey}"
        current = self.records.get(uri)
        if "swapRecord" in data:
            swap = data["swapRecord"]
            held = current.cid if current is not None else None
            if current is not None and swap is None and current.value == value:
                return {"uri": uri, "cid": current.cid, "validationStatus": "valid"}
            if swap != held and self.swap_status == 500:
                raise _Reply(500, "InternalServerError", "Internal Server Error")
            if swap != held:
                raise _Reply(400, "InvalidSwap", f"Record was at {held or 'null'}")
        self._validate(collection, value)
        made = self._store(me, collection, rkey, value)
        if current is None and collection == "app.bsky.feed.repost":
            self.records[value["subject"]["uri"]].reposts += 1
        return {
            "uri": made.uri,
            "cid": made.cid,
            "commit": {"cid": _cid(made.uri + "c"), "rev": self._tid()},
            "validationStatus": "valid",
        }

    def _validate(self, collection: str, value: dict[str, Any]) -> None:
        if collection == "app.bsky.feed.repost":
            self._check_ref(value.get("subject"), "$.record.subject")
            return
        text = value.get("text", "")
        graphemes = len(regex.findall(r"\X", text))
        if graphemes > MAX_GRAPHEMES:
            raise _Reply(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: grapheme too big "
                f"(maximum 300, got {graphemes}) at $.record.text",
            )
        if len(text.encode()) > 3000:
            raise _Reply(400, "InvalidRequest", "Invalid app.bsky.feed.post record: text too long")
        reply = value.get("reply")
        if reply:
            self._check_ref(reply.get("root"), "$.record.reply.root")
            self._check_ref(reply.get("parent"), "$.record.reply.parent")
        embed = value.get("embed") or {}
        if embed.get("$type") == "app.bsky.embed.record":
            self._check_ref(embed.get("record"), "$.record.embed.record")
        for facet in value.get("facets") or []:
            index = facet["index"]
            if not 0 <= index["byteStart"] < index["byteEnd"] <= len(text.encode()):
                raise _Reply(400, "InvalidRequest", "Invalid facet byte slice")

    def _check_ref(self, ref: Any, where: str) -> None:
        if not isinstance(ref, dict) or ref.get("uri") not in self.records:
            raise _Reply(400, "InvalidRequest", f"Invalid strong ref at {where}")
        if self.records[ref["uri"]].cid != ref.get("cid"):
            raise _Reply(400, "InvalidRequest", f"CID does not match at {where}")

    def _get_record(self, me: Account, params: dict[str, list[str]], *_: Any) -> Any:
        who = self._actor(params["repo"][0])
        uri = f"at://{who.did}/{params['collection'][0]}/{params['rkey'][0]}"
        record = self.records.get(uri)
        if record is None:
            raise _Reply(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": uri, "cid": record.cid, "value": record.value}

    def _upload_blob(self, me: Account, _: Any, __: Any, request: httpx.Request) -> Any:
        data = request.content
        if len(data) > 1_000_000:
            raise _Reply(400, "BlobTooLarge", "This file is too large")
        link = (
            "bafkrei"
            + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")[:52]
        )
        self.blobs[link] = data
        mime = request.headers.get("content-type", "application/octet-stream")
        return {
            "blob": {"$type": "blob", "ref": {"$link": link}, "mimeType": mime, "size": len(data)}
        }

    # -- the chat service -------------------------------------------------------------------

    def _chat(
        self, nsid: str, me: Account, params: dict[str, list[str]], request: httpx.Request
    ) -> Any:
        if nsid == "chat.bsky.convo.getConvoForMembers":
            others = [self._by_did(d) for d in params.get("members", []) if d != me.did]
            for other in others:
                if not other.accepts_dms:
                    raise _Reply(400, "InvalidRequest", "recipient has disabled incoming messages")
            members = frozenset([me.did, *(o.did for o in others)])
            convo = self.convos.setdefault(members, f"convo{len(self.convos) + 1}")
            return {
                "convo": {
                    "id": convo,
                    "rev": self._tid(),
                    "members": [{"did": d} for d in sorted(members)],
                    "unreadCount": 0,
                }
            }
        if nsid == "chat.bsky.convo.sendMessage":
            data = json.loads(request.content)
            message = Message(self._tid(), data["convoId"], me.did, data["message"]["text"])
            self.messages.append(message)
            return {
                "id": message.id,
                "rev": message.id,
                "text": message.text,
                "sender": {"did": me.did},
                "sentAt": _iso(self.clock()),
            }
        if nsid == "chat.bsky.convo.getMessages":
            convo = params["convoId"][0]
            found = [m for m in reversed(self.messages) if m.convo == convo]
            return {
                "messages": [
                    {
                        "$type": "chat.bsky.convo.defs#messageView",
                        "id": m.id,
                        "rev": m.id,
                        "text": m.text,
                        "sender": {"did": m.sender},
                        "sentAt": _iso(self.clock()),
                    }
                    for m in found
                ]
            }
        raise _Reply(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")

    # -- loopback, for a `qa` subprocess ---------------------------------------------------

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the fake on 127.0.0.1; yields its URL (the plan's `bluesky.service`)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                url = f"http://127.0.0.1{self.path}"
                request = httpx.Request(self.command, url, headers=dict(self.headers), content=body)
                try:
                    response = fake.handle(request)
                except httpx.TimeoutException:
                    self.close_connection = True
                    return
                payload = response.content
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _tags_of(value: dict[str, Any]) -> set[str]:
    """Tags a post carries: its tag facets and the `#words` of its text (any case)."""
    found = {
        w[1:].lower().rstrip(".,!?;:") for w in value.get("text", "").split() if w.startswith("#")
    }
    for facet in value.get("facets") or []:
        for feature in facet.get("features", []):
            if feature.get("$type") == "app.bsky.richtext.facet#tag":
                found.add(str(feature.get("tag", "")).lower())
    return found


def _error_body(status: int) -> dict[str, str]:
    names = {
        401: "ExpiredToken",
        429: "RateLimitExceeded",
        500: "InternalServerError",
        502: "UpstreamFailure",
        503: "NotEnoughResources",
    }
    return {"error": names.get(status, "InvalidRequest"), "message": f"fault injected ({status})"}
