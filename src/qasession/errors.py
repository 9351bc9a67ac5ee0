"""Typed errors of the core and the exit codes they map to; the CLI renders them once."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime


class ExitCode(enum.IntEnum):
    """Named exit codes of every `qa` command."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    BAD_PLAN = 3
    AUTH = 4
    PLATFORM = 5
    BUSY = 6
    UNREACHABLE = 7  # the team's database server is out of reach: nothing done, try again
    INTERRUPTED = 130


# The operator's options a hint may offer, as the command line spells them.
CLI_OPTIONS: Mapping[str, str] = {
    "dm": "--mode dm",
    "thread": "--thread",
    "follow_up": "--follow-up",
    "take_over": "--take-over",
    "post_private_data": "--post-private-data",
    "public_without_repost": "--answer-publicly-without-repost",
}


class Hint(str):
    """A hint that offers the operator's options, written with `{option}` placeholders: as a
    string it is spelled for the command line (CLI_OPTIONS); a front end with other controls
    (the terminal UI's keys) spells it its own way with `worded`."""

    template: str

    def __new__(cls, template: str) -> Hint:
        hint = super().__new__(cls, template.format_map(CLI_OPTIONS))
        hint.template = template
        return hint

    def worded(self, options: Mapping[str, str]) -> str:
        return self.template.format_map(options)


class QAError(Exception):
    """Base of every error the tool reports to its user: a message and an optional hint."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(QAError):
    """The command was called wrongly (unknown id, conflicting options)."""

    exit_code = ExitCode.USAGE


class PlanError(QAError):
    """The plan file is wrong; carries where, so the one-line message says file:line:col."""

    exit_code = ExitCode.BAD_PLAN

    def __init__(
        self,
        message: str,
        *,
        path: str = "sessions.yaml",
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.path = path
        self.line = line
        self.column = column
        self.field = field

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: "
        if self.field:
            text += f"{self.field}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(QAError):
    """The configuration cannot work here (a platform this version does not have, a home
    directory that is a file)."""

    exit_code = ExitCode.BAD_PLAN


class AuthError(QAError):
    """Credentials are missing or refused by the platform."""

    exit_code = ExitCode.AUTH


class PlatformError(QAError):
    """The platform failed the call. `retryable` errors (5xx, time-outs) are retried later."""

    exit_code = ExitCode.PLATFORM

    def __init__(self, message: str, hint: str | None = None, *, retryable: bool = False) -> None:
        super().__init__(message, hint)
        self.retryable = retryable


class RateLimited(PlatformError):
    """The platform throttled us; nothing should be sent before `reset_at` (UTC)."""

    def __init__(self, reset_at: datetime, message: str = "rate limited") -> None:
        super().__init__(f"{message}; resets at {reset_at:%H:%M:%S} UTC", retryable=True)
        self.reset_at = reset_at


class DuplicatePost(PlatformError):
    """The platform refused the post as a duplicate of one already made (treat as sent)."""

    def __init__(self, message: str = "duplicate post", existing_id: str | None = None) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class NotFound(PlatformError):
    """The post or user the call refers to does not exist on the platform."""


class TooLong(PlatformError):
    """The text is longer than the platform accepts (its own count, against its own limit)."""


class Unsupported(PlatformError):
    """The platform has no such capability (a quote where there are none, DMs closed)."""


class RecipientClosed(PlatformError):
    """The recipient does not accept direct messages from the host's account."""


class ReplyRestricted(PlatformError):
    """The platform forbids replying to this post (X: the author did not mention the host)."""


class PostUnreachable(ReplyRestricted):
    """The host's account cannot reach this post (a Mastodon post from another instance that
    the host's instance cannot resolve): it cannot be reposted, replied to or quoted, and
    the answer goes out as a stand-alone post that mentions the asker."""


class StoreError(QAError):
    """The state database cannot be used (corrupt, read-only, disk full, locked too long)."""

    def __init__(self, message: str, hint: str | None = None, *, retryable: bool = False) -> None:
        super().__init__(message, hint)
        self.retryable = retryable


class DatabaseUnreachable(StoreError):
    """The team's database server cannot be reached (down, or the network lost): the command
    did nothing (its transaction never committed) and the same command works once it is back."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint, retryable=True)


class SessionBusy(QAError):
    """Another `qa run` holds the session's live loop."""

    exit_code = ExitCode.BUSY


class Interrupted(QAError):
    """The operator stopped the command (Ctrl-C or SIGTERM); state is saved."""

    exit_code = ExitCode.INTERRUPTED
