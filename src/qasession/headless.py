"""`qa run --headless`: the live loop with one JSON object per line on stdout per event."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

from qasession.errors import Interrupted
from qasession.session.loop import Runner


def emit_line(event: dict[str, Any]) -> None:
    """One event, one line; ASCII-only JSON, so no raw control byte ever reaches the terminal."""
    sys.stdout.write(json.dumps(event, ensure_ascii=True, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def run_headless(runner: Runner) -> None:
    """Run the session to its end; SIGTERM or Ctrl-C stop it between two ticks (exit 130)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    live = runner.build(emit_line)
    try:
        live.run(stop.is_set)
    except KeyboardInterrupt:
        stop.set()
    if stop.is_set() and not live.ended:
        emit_line({"event": "stopped", "reason": "interrupted; run again to resume"})
        raise Interrupted("interrupted; everything collected is saved, run again to resume")
