"""Tests against real servers installed by `./dev integration <name>`: opt-in, heavy, never part
of the default run. They are collected only when QA_INTEGRATION names them (the dev command sets
it), so `./dev test` and CI neither collect nor need them."""

from __future__ import annotations

import os

_wanted = {name.strip() for name in os.environ.get("QA_INTEGRATION", "").split(",") if name}
collect_ignore_glob = [] if "bluesky" in _wanted else ["test_bluesky_*.py"]
