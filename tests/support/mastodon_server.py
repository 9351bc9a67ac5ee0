"""mastodon-mock instances on loopback for the Mastodon adapter's tests: a real Mastodon REST
API server (FastAPI + SQLite in memory) on a free port of 127.0.0.1, with its own domain (so
two of them are two instances), accounts made on demand, fault injection and a way to put a
status from another instance on it (what federation would do, which the mock lacks).

    with MastodonServer(host="acme") as server:      # server.url is the plan's instance
        server.post("alice", "What is new? #AskAcme")
        server.token("acme")                          # the host's MASTODON_ACCESS_TOKEN
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def _mock() -> Any:
    try:
        import mastodon_mock.testing as testing
    except ImportError:  # pragma: no cover - the dev extra brings it
        from tests.support.require import in_ci

        message = "mastodon-mock is not installed (pip install -e '.[dev]')"
        if in_ci():
            pytest.fail(message + "; with CI=true this fails instead of skipping", pytrace=False)
        pytest.skip(message)
    return testing


class MastodonServer:
    """One mastodon-mock instance; `host` is the account whose token the adapter gets."""

    def __init__(self, host: str = "acme", *, ratelimit: int | None = None) -> None:
        testing = _mock()
        from mastodon_mock.config import (
            DatabaseConfig,
            MastodonMockConfig,
            RateLimitConfig,
            SeedAccount,
            SeedConfig,
            StreamingConfig,
        )

        self.host = host
        self._tokens: dict[str, str] = {host: f"token-of-{host}"}
        config = MastodonMockConfig(
            database=DatabaseConfig(path=":memory:"),
            url_scheme="http",
            seed=SeedConfig(accounts=[SeedAccount(username=host, access_token=self._tokens[host])]),
            streaming=StreamingConfig(enabled=False),
            ratelimit=RateLimitConfig(enabled=ratelimit is not None, limit=ratelimit or 300),
        )
        self.server = testing.MockServer(config=config)
        self._clients: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> MastodonServer:
        self.server.start()
        # uri and url of every status and account are built from the domain: one per instance
        self.server.config.domain = f"127.0.0.1:{self.server.port}"
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> MastodonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def domain(self) -> str:
        return str(self.server.config.domain)

    # -- accounts and posts ------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def token(self, username: str) -> str:
        """The access token of `username` (made on first use)."""
        username = username.lstrip("@")
        if username not in self._tokens:
            made = self._request("POST", "/api/v1/_mock/dev_user", {"username": username})
            self._tokens[username] = str(made["access_token"])
        return self._tokens[username]

    def client(self, username: str) -> Any:
        """A Mastodon.py client signed in as `username`."""
        username = username.lstrip("@")
        if username not in self._clients:
            from mastodon import Mastodon

            self._clients[username] = Mastodon(
                access_token=self.token(username), api_base_url=self.url, ratelimit_method="throw"
            )
        return self._clients[username]

    def post(self, username: str, text: str, **options: Any) -> Any:
        """A status by `username` (the Mastodon.py `Status`)."""
        return self.client(username).status_post(text, **options)

    def statuses(self, username: str | None = None) -> list[Any]:
        """Every status of `username` (default: the host), oldest first, direct ones too."""
        who = self.client(username or self.host)
        me = who.account_verify_credentials()
        found: list[Any] = []
        page = who.account_statuses(me["id"], limit=40)
        while page:
            found.extend(page)
            page = who.fetch_next(page)
        return sorted(found, key=lambda s: int(s["id"]))

    def federate(self, status: Any, origin: MastodonServer) -> Any:
        """Put `status` of `origin` on this instance, as federation would: a copy by a remote
        account (`user@origin`) that keeps the original's URI. Returns the copy."""
        from mastodon_mock.db.models import Status

        account = status["account"]
        copier = f"{account['username']}_at_{origin.server.port}"
        copy = self.post(copier, status_text_of(status))
        engine = self._engine()
        from sqlalchemy.orm import Session

        with Session(engine) as db:
            row = db.get(Status, int(copy["id"]))
            assert row is not None
            row.url = str(status["uri"])
            row.account.domain = origin.domain
            row.account.username = account["username"]
            db.commit()
        return self.client(self.host).status(copy["id"])

    def _engine(self) -> Any:
        app = self.server._server.config.app  # the FastAPI app the mock serves
        return app.state.engine

    # -- faults --------------------------------------------------------------------------------

    @contextmanager
    def fault(self, **rule: Any) -> Iterator[Any]:
        """A fault-injection rule for the requests inside the block (see mastodon-mock)."""
        with self.server.fault(**rule) as handle:
            yield handle


def status_text_of(status: Any) -> str:
    from qasession.platforms.mastodon_text import status_text

    return status_text(status)
