"""`MastodonProxy`: a loopback HTTP proxy in front of one mastodon-mock instance, for two things
a real instance does and the mock cannot be made to do:

- `drop_answer(method, path)`: the next such request that the instance does (a 2xx) is done
  there, and its answer never comes back (the connection is held until the client gives up): a
  time-out *after* the post went through. mastodon-mock's own time-out and latency faults
  hold a request *before* the instance handles it.
- `resolves(origin)`: `GET /api/v2/search?q=<a status URL of origin>&resolve=true` fetches
  that status from `origin` and puts a copy on this instance (`MastodonServer.federate`, what
  federation does), then answers with the copy, as a real instance resolves a remote post.
  The mock's own search only matches text.

Everything else is forwarded as it is. The plan's `instance` is `proxy.url`.

    with MastodonProxy(server) as proxy:
        proxy.drop_answer("POST", "/api/v1/statuses")
"""

from __future__ import annotations

import http.client
import json
import select
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.mastodon_server import MastodonServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "proxy-connection",
    "te",
    "upgrade",
}


class MastodonProxy:
    def __init__(self, upstream: MastodonServer, *, hold: float = 10.0) -> None:
        self.upstream = upstream
        self.hold = hold  # the longest a dropped answer keeps the client waiting
        self.drops: list[tuple[str, str]] = []
        self.dropped: list[dict[str, Any]] = []  # the answers the client never got
        self.origins: dict[str, MastodonServer] = {}  # domain -> instance it resolves from
        self.resolved: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- controls ----------------------------------------------------------------------------

    def drop_answer(self, method: str, path: str) -> None:
        with self._lock:
            self.drops.append((method.upper(), path))

    def resolves(self, origin: MastodonServer) -> None:
        self.origins[origin.domain] = origin

    def _take_drop(self, method: str, path: str) -> bool:
        with self._lock:
            if (method, path) in self.drops:
                self.drops.remove((method, path))
                return True
        return False

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> MastodonProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- the HTTP side -----------------------------------------------------------------------

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        target = urlsplit(self.upstream.url)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            conn.close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        method, path = handler.command, handler.path
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        resolved = self._resolve(path, headers)
        if resolved is not None:
            status, answer_headers, answer = resolved
        else:
            status, answer_headers, answer = self._forward(method, path, headers, body)
        if 200 <= status < 300 and self._take_drop(method, urlsplit(path).path):
            self.dropped.append(json.loads(answer or b"null"))
            handler.close_connection = True
            # hold the connection, answering nothing, until the client gives up
            select.select([handler.connection], [], [], self.hold)
            return
        try:
            handler.send_response(status)
            for name, value in answer_headers:
                if name.lower() not in HOP_BY_HOP:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up first (its own time-out)

    def _resolve(
        self, path: str, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """A search with resolve for a status URL of a known origin: federated, answered."""
        parts = urlsplit(path)
        if parts.path != "/api/v2/search":
            return None
        query = parse_qs(parts.query)
        wanted = (query.get("q") or [""])[0]
        if (query.get("resolve") or [""])[0].lower() not in ("true", "1"):
            return None
        origin = self.origins.get(urlsplit(wanted).netloc)
        if origin is None:
            return None
        status_id = wanted.rstrip("/").rsplit("/", 1)[-1]
        original = origin.client(origin.host).status(status_id)
        copy = self.upstream.federate(original, origin)
        self.resolved.append(wanted)
        status, answer_headers, raw = self._forward(
            "GET", f"/api/v1/statuses/{copy['id']}", headers, b""
        )
        statuses = [json.loads(raw)] if status == 200 else []
        answer = json.dumps({"accounts": [], "statuses": statuses, "hashtags": []}).encode()
        kept = [(k, v) for k, v in answer_headers if k.lower() == "content-type"]
        return 200, kept, answer
