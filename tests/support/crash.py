"""`python -m tests.support.crash ARGS` runs `qa ARGS` with crash points armed:
`QA_CRASH_AT=name:N` kills the process (SIGKILL) the Nth time it passes the point `name`."""

from __future__ import annotations

import os
import signal

from qasession import checkpoints


def arm(target: str) -> None:
    point, _, nth = target.partition(":")
    counts = {"n": 0}
    limit = int(nth or 1)

    def hook(name: str) -> None:
        if name != point:
            return
        counts["n"] += 1
        if counts["n"] >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoints.install(hook)


if __name__ == "__main__":
    from qasession.cli import main

    if os.environ.get("QA_CRASH_AT"):
        arm(os.environ["QA_CRASH_AT"])
    main()
