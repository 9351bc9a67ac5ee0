"""Where a problem sits in the file, and every problem of a file reported at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from qasession.errors import PlanError
from qasession.plan.limits import MAX_ERRORS
from qasession.plan.messages import PathT, format_path, one_line
from qasession.plan.yaml_marks import Mark


class PlanErrors(PlanError):
    """Several problems of one plan file, as a compiler reports them: sorted by line, one line
    each (`str()` joins them with newlines). Its own fields are those of the first problem,
    so code that reads one PlanError still finds the first in file order."""

    def __init__(self, errors: Sequence[PlanError]) -> None:
        if not errors:
            raise ValueError("PlanErrors needs at least one error")
        first = errors[0]
        super().__init__(
            first.message,
            path=first.path,
            line=first.line,
            column=first.column,
            field=first.field,
            hint=first.hint,
        )
        self.errors: list[PlanError] = list(errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def _position(error: PlanError) -> tuple[int, int]:
    return (error.line or 0, error.column or 0)


class Problems:
    """The problems found so far in one file; `check()` raises them all, or nothing."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._found: dict[str, PlanError] = {}  # by text: a default's mistake is said once

    def __bool__(self) -> bool:
        return bool(self._found)

    def __len__(self) -> int:
        return len(self._found)

    def add(self, error: PlanError) -> None:
        self._found.setdefault(str(error), error)

    def extend(self, errors: Iterable[PlanError]) -> None:
        for error in errors:
            self.add(error)

    def stop(self, error: PlanError) -> NoReturn:
        """Raise `error` with what was found before it (it makes later checks meaningless)."""
        self.add(error)
        self.check()
        raise error  # not reached: check() raised

    def check(self) -> None:
        """Raise what was found: one PlanError alone, several as PlanErrors."""
        if not self._found:
            return
        ordered = sorted(self._found.values(), key=_position)
        if len(ordered) == 1:
            raise ordered[0]
        if len(ordered) > MAX_ERRORS:
            rest = len(ordered) - MAX_ERRORS
            ordered = ordered[:MAX_ERRORS]
            ordered.append(
                PlanError(
                    f"{rest} more problem(s) not shown", path=self.path, hint="fix these first"
                )
            )
        raise PlanErrors(ordered)


def has_path(data: Any, where: PathT) -> bool:
    """Whether `data` (what YAML built) holds a value at `where`."""
    for part in where:
        if isinstance(data, dict):
            try:
                if part not in data:
                    return False
            except TypeError:
                return False
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and not isinstance(part, bool):
            if not 0 <= part < len(data):
                return False
            data = data[part]
        else:
            return False
    return True


class Source:
    """Where each value of the file sits, and how a path inside one session maps to it (a
    value missing from the session but present in `defaults` points at `defaults`)."""

    def __init__(self, path: str, marks: dict[PathT, Mark], raw: Any, defaults: Any) -> None:
        self.path = path
        self.marks = marks
        self.raw = raw
        self.defaults = defaults

    def mark(self, where: PathT) -> tuple[PathT, Mark]:
        """The nearest enclosing path of `where` that has a mark, and that mark."""
        while where not in self.marks:
            where = where[:-1]
        return where, self.marks[where]

    def locate(self, index: int, rel: PathT) -> tuple[PathT, PathT, Mark]:
        """(absolute path of the value, how far it was found, its mark)."""
        own: Any = None
        if isinstance(self.raw, dict) and isinstance(self.raw.get("sessions"), list):
            own = self.raw["sessions"][index]
        sub = tuple(rel)
        while True:
            if has_path(own, sub):
                found: PathT = ("sessions", index, *sub)
                break
            if sub and has_path(self.defaults, sub):
                found = ("defaults", *sub)
                break
            sub = sub[:-1]
        _, mark = self.mark(found)
        return found, sub, mark

    def at(
        self, where: PathT, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> PlanError:
        """An error about the value at the absolute path `where` (or its nearest parent)."""
        _, mark = self.mark(where)
        return PlanError(
            one_line(message),
            path=self.path,
            line=mark.key_line if at_key else mark.line,
            column=mark.key_column if at_key else mark.column,
            field=format_path(where) or None,
            hint=one_line(hint) if hint else None,
        )

    def error(
        self, index: int, rel: PathT, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> PlanError:
        """An error about `rel` inside session `index` (found there or in `defaults`)."""
        found, sub, mark = self.locate(index, rel)
        # A missing key is named in full, at its parent's line.
        label = found + tuple(rel[len(sub) :])
        return PlanError(
            one_line(message),
            path=self.path,
            line=mark.key_line if at_key else mark.line,
            column=mark.key_column if at_key else mark.column,
            field=format_path(label) or None,
            hint=one_line(hint) if hint else None,
        )
