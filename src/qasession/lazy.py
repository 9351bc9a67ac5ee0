"""Packages that import their modules on first use (PEP 562): a command that needs one name of
`qasession.plan` or `qasession.triage` does not pay for the rest at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, homes: Mapping[str, tuple[str, ...]], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """The module `__getattr__` of `package`: each name of `homes` (module -> names) is
    imported from `package.module` when first asked for, then kept in `namespace` (the
    package's globals) as a plain attribute."""
    where = {name: module for module, names in homes.items() for name in names}

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # once found, a plain attribute
        return value

    return getattr_
