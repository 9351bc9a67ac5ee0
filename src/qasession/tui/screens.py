"""The live UI's modal screens: help, a yes/no confirmation, the Ctrl-C choice, and the
approval panel of a team's drafts."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

KEYS: tuple[tuple[str, str], ...] = (
    ("In the queue", ""),
    ("↑ ↓", "move through the ranked questions (# is the question's number)"),
    ("Home, End", "the first, the last question"),
    ("a, Enter", "answer the selected question (focus the answer box)"),
    ("m", "change the answer mode: dot → reply → quote → dm (for this question only)"),
    ("t", "post a long answer as a numbered thread (toggle, this question only)"),
    ("f", "allow what looks like private data in this answer (asks first)"),
    ("r", "answer a question carrying private data in public, never reposted (asks first)"),
    ("e", "several platforms: also post it as a community answer where it was not asked"),
    ("s", "skip the question (it leaves the queue; a pinned one asks first)"),
    ("u", "unskip: bring back the question skipped last (again: the one before)"),
    ("p", "pin or unpin the question (pinned come first)"),
    ("b", "block the author (asks first; their questions leave the queue)"),
    ("n", "jot a note for the recap, stamped with the session clock (never posted)"),
    ("/", "filter: words match text or author; @name authors; flag:troll flags"),
    ("d", "the drafts waiting for approval (y approve, x reject with a reason)"),
    ("?", "this help"),
    ("q, Ctrl-C", "post the closing now, or quit without closing (asks)"),
    ("In the answer box (its Ctrl keys work in the queue too)", ""),
    ("Enter", "check the answer and queue it (the loop posts it at once)"),
    ("Ctrl-O", "change the answer mode"),
    ("Ctrl-T", "thread on/off"),
    ("Ctrl-F", "allow private data in this answer (asks first)"),
    ("Ctrl-R", "answer a private question in public without repost (asks first)"),
    ("Ctrl-E", "community answer on the other platforms on/off (several platforms)"),
    ("Escape", "back to the queue"),
)
SETTINGS_NOTE = (
    "Mode, thread and the two allowances are for one question: the next one starts again from "
    "the plan's mode (dm for a question carrying private data), thread off, nothing allowed. "
    "Times in the log are in the plan's time zone."
)

DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 90;
    height: auto;
    max-height: 90%;
    border: thick $accent;
    background: $surface;
    padding: 1 2;
}}
{name} Horizontal {{
    height: auto;
    margin-top: 1;
}}
{name} Button {{
    margin-right: 2;
}}
"""


def keys_text() -> Text:
    out = Text()
    for key, what in KEYS:
        if not what:
            out.append(f"\n{key}\n" if out else f"{key}\n", style="bold underline")
            continue
        out.append(f"  {key:<12}", style="bold cyan")
        out.append(f"{what}\n")
    out.append(f"\n{SETTINGS_NOTE}\n", style="dim")
    return out


class HelpScreen(ModalScreen[None]):
    """Every key, in one place."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HelpScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Keys", style="bold"))
            with VerticalScroll():
                yield Static(keys_text(), id="help-keys")
            yield Button("Close", id="help-close")

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#help-close")
    def close_pressed(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question (y / n, Escape is no)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: Text, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="confirm-question")
            with Horizontal():
                yield Button(f"{self.yes} (y)", variant="error", id="confirm-yes")
                yield Button(f"{self.no} (n)", variant="primary", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


class CloseScreen(ModalScreen[str | None]):
    """Ctrl-C: post the closing now ("close"), quit without closing ("quit"), or go back."""

    DEFAULT_CSS = DIALOG_CSS.format(name="CloseScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,c", "choose('close')", "Post the closing"),
        Binding("q", "choose('quit')", "Quit without closing"),
        Binding("n,escape", "choose(None)", "Cancel"),
    ]

    def __init__(self, closing_requested: bool, tail_minutes: float) -> None:
        super().__init__()
        self.closing_requested = closing_requested
        self.tail_minutes = tail_minutes

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.closing_requested:
                yield Static(
                    Text(
                        "The closing is on its way; the session keeps reading replies for "
                        f"{self.tail_minutes:g} minutes after it, then ends.\n\nQuit now? "
                        "Everything is saved; `qa run` again resumes."
                    ),
                    id="close-question",
                )
            else:
                yield Static(
                    Text(
                        "Post the closing now and end?\n\nThe session keeps reading replies "
                        f"for {self.tail_minutes:g} minutes after the closing, then ends. "
                        "Quitting without closing saves everything; `qa run` again resumes."
                    ),
                    id="close-question",
                )
            with Horizontal():
                if not self.closing_requested:
                    yield Button("Post the closing now (y)", variant="error", id="close-close")
                yield Button("Quit without closing (q)", variant="warning", id="close-quit")
                yield Button("Cancel (Esc)", variant="primary", id="close-cancel")

    def on_mount(self) -> None:
        self.query_one("#close-cancel", Button).focus()

    def action_choose(self, choice: str | None) -> None:
        if choice == "close" and self.closing_requested:
            return
        self.dismiss(choice)

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        choices = {"close-close": "close", "close-quit": "quit"}
        self.dismiss(choices.get(event.button.id or ""))


class DraftsScreen(ModalScreen[tuple[str, int, str] | None]):
    """The approval panel: the drafts waiting, each with the exact posts it makes; `y`
    approves the highlighted one, `x` rejects it with a reason, ↑ ↓ choose, Escape closes.
    Returns ("approve", draft id, "") or ("reject", draft id, reason)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="DraftsScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "approve", "Approve"),
        Binding("x", "reject", "Reject"),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("down", "move(1)", "Next", show=False),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, drafts: list[dict[str, object]]) -> None:
        super().__init__()
        self.drafts = drafts
        self.index = 0
        self.body = Static(id="drafts-body")
        self.reason = Input(placeholder="why (its author sees it); Enter rejects", id="drafts-why")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Drafts waiting for approval", style="bold"))
            with VerticalScroll():
                yield self.body
            yield self.reason
            yield Static(Text("y approve · x reject (with a reason) · ↑ ↓ · Esc", style="dim"))

    def on_mount(self) -> None:
        self.reason.display = False
        self.show()

    def show(self) -> None:
        from qasession.tui.view import drafts_text

        self.body.update(drafts_text(self.drafts, self.index))

    def action_move(self, step: int) -> None:
        if self.drafts:
            self.index = (self.index + step) % len(self.drafts)
            self.show()

    def _chosen(self) -> int | None:
        return int(str(self.drafts[self.index]["id"])) if self.drafts else None

    def action_approve(self) -> None:
        chosen = self._chosen()
        if chosen is not None and not self.reason.display:
            self.dismiss(("approve", chosen, ""))

    def action_reject(self) -> None:
        if self._chosen() is not None:
            self.reason.display = True
            self.reason.focus()

    @on(Input.Submitted, "#drafts-why")
    def reason_given(self, event: Input.Submitted) -> None:
        chosen = self._chosen()
        if chosen is not None and event.value.strip():
            self.dismiss(("reject", chosen, event.value.strip()))

    def action_close(self) -> None:
        self.dismiss(None)


class NoteScreen(ModalScreen[str | None]):
    """One line for the host's note; Enter keeps it, Escape drops it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    NoteScreen { align: center middle; }
    NoteScreen > Vertical { width: 80%; height: auto; border: thick $primary; padding: 1 2;
        background: $surface; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("A note for the recap (never posted). Enter keeps it, Escape drops it.")
            yield Input(placeholder="e.g. great question on pricing", id="note")

    @on(Input.Submitted, "#note")
    def keep(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
