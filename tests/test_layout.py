"""The package's layout rule: the core (everything but the commands in `cli/` and the terminal
UI in `tui/`) never imports Typer, Rich or Textual at import time, and never imports Rich at
all: what prints to a terminal with Rich lives in `cli/` or `tui/`."""

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


def core_modules() -> list[Path]:
    core = [
        p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in ("cli", "tui")
    ]
    assert len(core) > 50  # the walk found the package
    return core


def imports_anywhere(path: Path) -> set[str]:
    """The top-level packages `path` imports anywhere: at module level, inside functions or
    `if TYPE_CHECKING:`, or through `importlib.import_module("...")` / `__import__("...")`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            found.add(node.args[0].value.split(".")[0])
    return found


def test_the_core_imports_no_front_end() -> None:
    core = core_modules()
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(module_level_imports(p) & set(FRONT_ENDS)) for p in core
    }
    assert not {name: uses for name, uses in offenders.items() if uses}


def test_the_check_sees_a_front_end_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom rich.table import Table\n\ndef f():\n    import typer\n")
    assert module_level_imports(sample) & set(FRONT_ENDS) == {"rich"}


def test_the_core_never_imports_rich() -> None:
    """Not even lazily: a function that draws with Rich belongs to the CLI or the TUI."""
    offenders = sorted(
        str(p.relative_to(PACKAGE)) for p in core_modules() if "rich" in imports_anywhere(p)
    )
    assert not offenders


def test_the_strict_check_sees_imports_wherever_they_are(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from rich.console import Console\n"
        "def f():\n"
        "    import typer\n"
        "def g():\n"
        "    return importlib.import_module('textual.app')\n"
        "# rich.markup.escape, named in a comment, is no import\n"
    )
    found = imports_anywhere(sample) & set(FRONT_ENDS)
    assert found == {"rich", "typer", "textual"}
    assert module_level_imports(sample) & set(FRONT_ENDS) == set()
