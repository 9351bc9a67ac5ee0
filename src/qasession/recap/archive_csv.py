"""The CSV export of an archive: rows formatted straight from the reader's post tuples.

The same columns and cells as `render.to_csv` (one row a post, text made inert, formula
starts defused, private data masked unless asked for), without a dictionary a row: a
million-post archive writes a million rows. Rows are formatted where the post is read (in
the scanning process, when there is one) and written in file order by the reading process.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, TextIO

from qasession.recap.render import CSV_COLUMNS, csv_cell

if TYPE_CHECKING:
    from qasession.recap import PostRow
    from qasession.recap.masking import Masker

__all__ = ["CsvExport", "RowFormatter"]

# the row: id, created_at, author, kind, ref, text, likes, reposts, lang (X's tag; "und", as
# the store's export, when there is none), url (no value in an archive), is_question, status,
# flags, duplicate_of, then duplicates, pinned and first_time (the store's)
assert CSV_COLUMNS[:9] == (
    "id", "created_at", "author", "kind", "ref", "text", "likes", "reposts", "lang"
)  # fmt: skip
assert CSV_COLUMNS[10:14] == ("is_question", "status", "flags", "duplicate_of")
assert len(CSV_COLUMNS) == 17


# the statuses the reader gives (an annotated export's own are checked like any text)
_OURS = frozenset({"chatter", "repost", "own", "queued", "merged"})


def _cell(value: str) -> str:
    """`csv_cell` of a string, skipping its work for plain printable ASCII text that cannot
    start a formula (nearly every id, time and handle)."""
    if value.isascii() and value.isprintable() and not value.startswith(("=", "+", "-", "@")):
        return value
    cell: str = csv_cell(value)
    return cell


class RowFormatter:
    """Formats post rows as CSV text, masking their text with `masker` (None: kept)."""

    def __init__(self, masker: Masker | None) -> None:
        self.masker = masker
        self.authors: dict[str, str] = {}
        self.langs: dict[str, str] = {}  # a language tag -> its cell
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")

    def __getstate__(self) -> Masker | None:
        # what the scanning process hands back holds its formatter: the text is taken by then
        return self.masker

    def __setstate__(self, masker: Masker | None) -> None:
        self.__init__(masker)  # type: ignore[misc]

    def lang_cell(self, tag: str | None) -> str:
        """The `lang` cell of a post tagged `tag` by the platform (text like any other)."""
        if not tag:
            return "und"
        cell = self.langs.get(tag)
        if cell is None:
            if len(self.langs) > 1_000:
                self.langs.clear()
            cell = self.langs[tag] = _cell(tag)
        return cell

    def add(self, row: PostRow, lang: str) -> None:
        """One post's row; `lang` is its language cell (`lang_cell`)."""
        pid, author, text, created, kind, ref, likes, reposts, url, is_q, status, flags, dup = row
        if self.masker is not None and text:
            text = self.masker.text(text)
        handle = self.authors.get(author)
        if handle is None:  # "@name" starts like a formula: each author's cell made once
            if len(self.authors) > 200_000:
                self.authors.clear()
            handle = self.authors[author] = _cell(author)
        self.writer.writerow(
            (
                pid if pid.isdigit() and pid.isascii() else _cell(pid),
                _cell(created),
                handle,
                kind,
                "" if ref is None else ref if ref.isdigit() and ref.isascii() else _cell(ref),
                _cell(text),
                likes,
                reposts,
                lang,
                "" if url is None else _cell(url),
                int(is_q),
                status if status in _OURS else _cell(status),
                flags if not flags else _cell(flags),
                "" if dup is None else _cell(dup),
                "",
                "",
                "",
            )
        )

    def take(self) -> str:
        """The text formatted since the last call."""
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


class CsvExport:
    """Where an archive's CSV export goes: `out`, with the header written first."""

    def __init__(self, out: TextIO, masker: Masker | None) -> None:
        self.out = out
        self.masker = masker
        self.rows = 0
        csv.writer(out, lineterminator="\r\n").writerow(CSV_COLUMNS)
