"""Named points of the live path (before and after a send, before and after a page is saved)
where a test may stop the process to prove that nothing is lost or doubled. The installed
package only names them; the crash tests install a hook (see tests/support/crash.py)."""

from __future__ import annotations

from collections.abc import Callable

_hook: Callable[[str], None] | None = None


def reached(name: str) -> None:
    """The code passed the point `name` (a no-op unless a test installed a hook)."""
    if _hook is not None:
        _hook(name)


def install(hook: Callable[[str], None] | None) -> None:
    global _hook
    _hook = hook
