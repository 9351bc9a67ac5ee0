"""The package's layout rule: the core (everything but the commands in `cli/` and the terminal
UI in `tui/`) never imports Typer, Rich or Textual at import time."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "qasession"
FRONT_ENDS = ("typer", "rich", "textual")


def module_level_imports(path: Path) -> set[str]:
    """The top-level packages `path` imports when it is imported (not inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_the_core_imports_no_front_end() -> None:
    core = [
        p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in ("cli", "tui")
    ]
    assert len(core) > 50  # the walk found the package
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(module_level_imports(p) & set(FRONT_ENDS)) for p in core
    }
    assert not {name: uses for name, uses in offenders.items() if uses}


def test_the_check_sees_a_front_end_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom rich.table import Table\n\ndef f():\n    import typer\n")
    assert module_level_imports(sample) & set(FRONT_ENDS) == {"rich"}
