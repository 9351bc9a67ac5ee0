"""YAML with file:line marks: the loader, duplicate keys, invalid text, YAML's own errors.

A safe loader without YAML 1.1's base-60 numbers, so `duration: 1:30` and `start: 18:00` stay
text instead of becoming 90 and 1080. Documents are composed by libyaml when PyYAML has it
(six times as fast on large plans); a document libyaml refuses is composed again by the
pure-Python parser, whose messages and positions the errors quote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml

from qasession.errors import PlanError
from qasession.plan.limits import MAX_TEXT, MAX_VALUES
from qasession.plan.messages import PathT, clip, format_path, one_line

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"

# What the YAML reader refuses in the file itself (its NON_PRINTABLE), found first so the
# message can name the character.
_UNREADABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# What a value may not hold even when written as an escape ("\x1b", "\ud800"): control
# characters other than tab and newline, and lone UTF-16 surrogates, which no platform,
# terminal or database takes. Other format characters (bidi marks, zero-width joiners in
# emoji) are real text and stay.
_INVALID_IN_VALUE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class Mark(NamedTuple):
    """Where a value (and the key that names it) sits in the file; 1-based."""

    line: int
    column: int
    key_line: int
    key_column: int


def _mark_of(value: yaml.Node, key: yaml.Node | None = None) -> Mark:
    k = key or value
    return Mark(
        value.start_mark.line + 1,
        value.start_mark.column + 1,
        k.start_mark.line + 1,
        k.start_mark.column + 1,
    )


class _Constructing:
    """Construction errors carry the node's mark (a `2026-02-30 10:00:00` matches the
    timestamp pattern but is no date)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, KeyError) as exc:
            shown = f"'{clip(node.value)}'" if isinstance(node, yaml.ScalarNode) else "a value"
            raise yaml.constructor.ConstructorError(
                None, None, f"can't read {shown}: {exc}", node.start_mark
            ) from exc


class _PlanLoader(_Constructing, yaml.SafeLoader):
    """The pure-Python safe loader, minus sexagesimal numbers."""


_FastLoader: type[Any] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CPlanLoader(_Constructing, yaml.CSafeLoader):
        """libyaml's parser with the same resolvers and constructor."""

    _FastLoader = _CPlanLoader


def _plain_resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    return {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$""", re.X
)
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
for _loader in (_PlanLoader, _FastLoader):
    if _loader is not None:
        _loader.yaml_implicit_resolvers = _plain_resolvers()
        _loader.add_implicit_resolver(_INT_TAG, _INT, list("-+0123456789"))
        _loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


# --------------------------------------------------------------------------------------------
# Reading the document


def _character_error(text: str, position: int, path: str) -> PlanError:
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    return PlanError(
        f"invalid character {_name(text[position])}",
        path=path,
        line=line,
        column=column,
        hint="remove it; write text as plain UTF-8",
    )


def _name(ch: str) -> str:
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return f"U+{code:04X} (a lone UTF-16 surrogate)"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"U+{code:04X} (a control character)"
    return f"U+{code:04X}"


def compose(text: str, path: str) -> yaml.Node:
    """The document's node tree; a character YAML refuses, a syntax error, several documents
    or an empty file are a PlanError at the problem's position."""
    bad = _UNREADABLE.search(text)
    if bad is not None:
        raise _character_error(text, bad.start(), path)
    root: yaml.Node | None = None
    if _FastLoader is not None:
        fast = _FastLoader(text)
        try:
            root = fast.get_single_node()
        except yaml.YAMLError:
            root = None  # composed again below, for PyYAML's message and position
        else:
            if root is None:
                raise _empty(path)
            return root
        finally:
            fast.dispose()
    loader = _PlanLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise yaml_error(exc, text, path) from None
    finally:
        loader.dispose()
    if root is None:
        raise _empty(path)
    return root


def _empty(path: str) -> PlanError:
    return PlanError(
        "the plan file is empty",
        path=path,
        line=1,
        hint="run `qa init` for a commented plan to start from",
    )


def construct(root: yaml.Node, text: str, path: str) -> Any:
    """Python values from the node tree (flattens merge keys in place, as PyYAML does)."""
    loader = _PlanLoader("")
    try:
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, text, path, root) from None
    finally:
        loader.dispose()


def _walk(root: yaml.Node) -> Iterator[tuple[PathT, yaml.Node, yaml.Node | None]]:
    """(path with keys as written, node, the key node naming it) of every node once; a node
    reached again through an alias is not walked again."""
    seen: set[int] = set()
    stack: list[tuple[PathT, yaml.Node, yaml.Node | None]] = [((), root, None)]
    while stack:
        where, node, key = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield where, node, key
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                stack.append(((*where, name), value, key_node))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(((*where, i), item, None) for i, item in enumerate(node.value))


def duplicate_keys(root: yaml.Node, path: str) -> list[PlanError]:
    """PyYAML keeps the last of two equal keys silently; a plan with `start:` twice is a
    mistake worth a line number. Merge keys (`<<`) are legitimate and skipped."""
    found: list[PlanError] = []
    for where, node, _ in _walk(root):
        if not isinstance(node, yaml.MappingNode):
            continue
        firsts: dict[tuple[str, str], yaml.Node] = {}
        for key, _value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            first = firsts.setdefault((key.tag, key.value), key)
            if first is not key:
                found.append(
                    PlanError(
                        f"key '{clip(key.value)}' appears twice "
                        f"(first on line {first.start_mark.line + 1})",
                        path=path,
                        line=key.start_mark.line + 1,
                        column=key.start_mark.column + 1,
                        field=format_path((*where, key.value)) or None,
                        hint="keep one of them",
                    )
                )
    return found


def expanded_size(root: yaml.Node, limit: int = MAX_VALUES) -> int:
    """How many values the document holds once aliases are expanded (cycles count once);
    counting stops soon after `limit`."""
    memo: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        ident = id(node)
        if ident in memo:
            return memo[ident]
        if ident in in_progress:
            return 1
        in_progress.add(ident)
        total = 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        for child in children:
            total += size(child)
            if total > limit:
                break
        in_progress.discard(ident)
        memo[ident] = total
        return total

    return size(root)


def _key_of(key_node: yaml.Node, keys: yaml.SafeLoader) -> Any:
    if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR_TAG:
        return key_node.value  # the common case, without the constructor
    try:
        key = keys.construct_object(key_node, deep=True)
        hash(key)
    except (yaml.YAMLError, TypeError, ValueError, RecursionError):
        return None  # an unhashable or unreadable key: Pydantic says what is wrong with it
    return key


def collect_marks(root: yaml.Node) -> dict[PathT, Mark]:
    """Map every path of the constructed document to its mark. Run after construction, so
    merge keys are already flattened; a node reached twice (alias) is walked once, and paths
    through the second route fall back to their parent's mark."""
    keys = _PlanLoader("")
    marks: dict[PathT, Mark] = {(): _mark_of(root)}
    walked: set[int] = set()
    stack: list[tuple[PathT, yaml.Node]] = [((), root)]
    while stack:
        where, node = stack.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                key = _key_of(key_node, keys)
                if key is None:
                    continue
                sub = (*where, key)
                marks[sub] = _mark_of(value, key_node)
                stack.append((sub, value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                sub = (*where, index)
                marks[sub] = _mark_of(item)
                stack.append((sub, item))
    keys.dispose()
    return marks


def _scalars(root: yaml.Node) -> Iterator[yaml.ScalarNode]:
    """Every scalar node, keys included, once."""
    seen: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            yield node
        elif isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _paths_by_node(root: yaml.Node) -> dict[int, PathT]:
    paths: dict[int, PathT] = {}
    for where, node, _ in _walk(root):
        paths.setdefault(id(node), where)
        if isinstance(node, yaml.MappingNode):
            for key, _value in node.value:
                paths.setdefault(
                    id(key), (*where, key.value if isinstance(key, yaml.ScalarNode) else "?")
                )
    return paths


def bad_scalars(root: yaml.Node, path: str) -> list[PlanError]:
    """Every key or value that holds a character no text may carry (written as an escape in
    double quotes, e.g. "\\ud800" or "\\e"), or more than MAX_TEXT characters."""
    found: list[PlanError] = []
    paths: dict[int, PathT] | None = None  # built only when something is wrong
    for node in _scalars(root):
        value: str = node.value
        bad = _INVALID_IN_VALUE.search(value)
        if bad is None and len(value) <= MAX_TEXT:
            continue
        if paths is None:
            paths = _paths_by_node(root)
        if bad is not None:
            message = f"invalid character {_name(bad.group())} in the text"
            hint = "remove it; only tab and newline may be written as escapes"
        else:
            message = (
                f"the text is {len(value):,} characters long; at most {MAX_TEXT:,} are allowed"
            )
            hint = "shorten it"
        found.append(
            PlanError(
                message,
                path=path,
                line=node.start_mark.line + 1,
                column=node.start_mark.column + 1,
                field=format_path(paths.get(id(node), ())) or None,
                hint=hint,
            )
        )
    return found


def path_at(root: yaml.Node | None, line: int, column: int) -> str | None:
    """The field path of the node starting at (line, column), 0-based, if any."""
    if root is None:
        return None
    for where, node, _ in _walk(root):
        if node.start_mark.line == line and node.start_mark.column == column and where:
            return format_path(where)
    return None


_SYNTAX_HINT = "check the indentation; quote values that contain ': ', ' #', '{' or '['"


def yaml_error(
    exc: yaml.YAMLError, text: str, path: str, root: yaml.Node | None = None
) -> PlanError:
    """One line out of PyYAML's multi-line messages, at the problem's position."""
    if isinstance(exc, yaml.reader.ReaderError):
        return _character_error(text, min(exc.position, max(len(text) - 1, 0)), path)
    if not isinstance(exc, yaml.MarkedYAMLError):
        return PlanError(one_line(str(exc)), path=path)
    line = column = None
    where: str | None = None
    hint = _SYNTAX_HINT
    mark = exc.problem_mark or exc.context_mark
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    message = "; ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    if isinstance(exc, yaml.constructor.ConstructorError):
        # a value YAML could not build (a bad date, an unknown !tag), not a syntax slip
        hint = "check the value; quote it if it is meant as text"
        if exc.problem_mark is not None:
            where = path_at(root, exc.problem_mark.line, exc.problem_mark.column)
    else:
        message = "YAML syntax: " + message
    if "\\t" in message or "tab" in message.lower():
        hint = "indent with spaces, not tabs"
    return PlanError(one_line(message), path=path, line=line, column=column, field=where, hint=hint)
