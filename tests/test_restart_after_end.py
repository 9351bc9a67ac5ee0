"""A run restarted after the session's end still reads what was posted while none ran."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from qasession.session.loop import LiveSession, LiveSettings
from tests.test_live import T0, World


def test_a_restart_past_the_tail_reads_what_came_meanwhile(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home)
    w.run_until(T0 + timedelta(minutes=30))  # the run stops mid-session (killed)
    late = w.say("@late", "Did I miss it? #AskAcme", at=T0 + timedelta(minutes=50))
    w.clock.advance(3 * 3600)  # ...and comes back long after the end and its tail
    events: list[dict[str, object]] = []
    again = LiveSession(
        w.session, w.store, w.platform, w.clock, events.append,
        settings=LiveSettings(seed=3, tail=timedelta(minutes=5)),
    )  # fmt: skip
    for _ in range(100):
        if again.ended:
            break
        w.clock.advance(max(again.tick(), 0.5))
    assert again.ended
    assert w.store.post_row("t", late) is not None, "read before the end was declared"
    kinds = [e["event"] for e in events]
    assert kinds.index("question") < kinds.index("ended")
