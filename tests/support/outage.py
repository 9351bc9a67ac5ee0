"""A platform that fails for a while: every call in the window raises what a platform down
raises (503, or credentials refused), before or after it; the rest is the wrapped adapter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from qasession.errors import AuthError, PlatformError


class FakeOutage:
    """Wraps an adapter: from `start` to `end` (on `clock`) every read and write fails."""

    CALLS = ("search", "post", "repost", "send_dm", "find_sent", "lookup", "me")

    def __init__(
        self, inner: Any, now: Callable[[], datetime], start: datetime, end: datetime, *,
        auth: bool = False,
    ) -> None:  # fmt: skip
        self.inner = inner
        self.now = now
        self.start = start
        self.end = end
        self.auth = auth
        self.failed_calls = 0

    def down(self) -> bool:
        return self.start <= self.now() < self.end

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if name not in self.CALLS:
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down():
                self.failed_calls += 1
                if self.auth:
                    raise AuthError("401 Unauthorized (token expired)")
                raise PlatformError("503 Service Unavailable", retryable=True)
            return value(*args, **kwargs)

        return call
