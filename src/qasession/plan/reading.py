"""Reading the plan file from disk, within limits: a regular file of at most MAX_PLAN_BYTES,
read without blocking on a FIFO and never more than the limit + 1 bytes; valid UTF-8."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from qasession.errors import PlanError
from qasession.plan.limits import MAX_PLAN_BYTES

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO with no writer would wait forever
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _open(path: Path, shown: str) -> int:
    try:
        return os.open(path, _FLAGS)
    except FileNotFoundError:
        raise PlanError(
            "no plan file", path=shown, hint="run `qa init` to write one, or pass -f PATH"
        ) from None
    except IsADirectoryError:
        raise _directory(shown) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PlanError(f"can't read the plan: {reason}", path=shown) from None


def _directory(shown: str) -> PlanError:
    return PlanError("this is a directory, not a plan file", path=shown, hint="pass -f PATH")


def _too_big(shown: str) -> PlanError:
    return PlanError(
        f"the plan file is larger than {MAX_PLAN_BYTES:,} bytes",
        path=shown,
        hint="a plan is a short YAML file; split it into several plans",
    )


def _check_kind(mode: int, shown: str) -> None:
    if stat.S_ISDIR(mode):
        raise _directory(shown)
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise PlanError(
        f"the plan must be a regular file, and this is {kind}",
        path=shown,
        hint="pass -f with the path of a YAML file",
    )


def read_plan_bytes(path: Path) -> bytes:
    """The file's bytes: a PlanError for a missing or special file, or one over the limit."""
    shown = str(path)
    fd = _open(path, shown)
    try:
        info = os.fstat(fd)
        _check_kind(info.st_mode, shown)
        if info.st_size > MAX_PLAN_BYTES:
            raise _too_big(shown)
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_PLAN_BYTES:  # the size may have been wrong (or changed)
            chunk = os.read(fd, MAX_PLAN_BYTES + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise PlanError(f"can't read the plan: {exc.strerror or exc}", path=shown) from None
    finally:
        os.close(fd)
    if total > MAX_PLAN_BYTES:
        raise _too_big(shown)
    return b"".join(chunks)


def decode_plan(data: bytes, shown: str) -> str:
    """UTF-8 text (a BOM is allowed); an invalid byte is a PlanError at its line and column."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        before = data[line_start : exc.start].removeprefix(b"\xef\xbb\xbf")
        column = len(before.decode("utf-8", "replace")) + 1
        raise PlanError(
            f"invalid UTF-8 byte 0x{data[exc.start]:02X}: the file is not UTF-8 text",
            path=shown,
            line=line,
            column=column,
            hint="save it as UTF-8",
        ) from None
