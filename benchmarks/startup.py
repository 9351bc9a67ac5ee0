"""Start-up time of `qa --help` against the floor of a bare three-command Typer app.

Prints the median wall time of each over the same number of alternating runs, and their ratio
(target: at most 1.25 — heavy modules are imported only by the commands that need them).

    python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = ROOT.parent / "shared" / "bench" / "typer_floor.py"
TARGET = 1.25


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    qa_script = Path(sys.executable).parent / "qa"
    qa = [str(qa_script)] if qa_script.exists() else [sys.executable, "-m", "qasession"]
    floor = [sys.executable, str(FLOOR)]
    if not FLOOR.exists():
        raise SystemExit(f"the floor app is missing: {FLOOR}")
    timed([*qa, "--help"])  # warm the file cache for both
    timed([*floor, "--help"])
    ours, base = [], []
    for _ in range(args.runs):  # alternate, so machine noise hits both alike
        ours.append(timed([*qa, "--help"]))
        base.append(timed([*floor, "--help"]))
    ours_median, base_median = statistics.median(ours), statistics.median(base)
    ratio = ours_median / base_median
    print(f"qa --help            median {ours_median * 1000:7.1f} ms over {args.runs} runs")
    print(f"typer floor --help   median {base_median * 1000:7.1f} ms over {args.runs} runs")
    verdict = "ok" if ratio <= TARGET else "OVER TARGET"
    print(f"ratio                {ratio:.2f} (target <= {TARGET}: {verdict})")


if __name__ == "__main__":
    main()
