"""Values of Terragrunt expressions that the files alone decide, read with python-hcl2's public API.

`hcl2.loads` gives each attribute as text (`${expr}` or a quoted template); `hcl2.parses_to_tree`
turns that text into a syntax tree, which is walked here. Literals, templates, `local.*`, `values.*`,
the operators `== != && || !`, conditionals and the path functions Terragrunt evaluates without a
network are known; anything else (`dependency.*`, `feature.*`, `run_cmd`, ...) raises `Unknown`,
naming the expression, so a caller can say what it could not decide instead of guessing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree

MAX_PARENT_FOLDERS = 100  # Terragrunt's own bound on find_in_parent_folders


class Unknown(Exception):
    """An expression whose value the files alone cannot give."""


@dataclass
class Scope:
    """Where an expression is evaluated: Terragrunt's functions answer relative to `terragrunt_dir`.

    `locals` holds the raw `locals` block (values as `hcl2.loads` gives them), evaluated on first use.
    """

    terragrunt_dir: Path
    repo_root: Path
    locals: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Any] | None = None  # a stack file's or unit's `values`, when known
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _done: dict[str, Any] = field(default_factory=dict)
    _busy: set[str] = field(default_factory=set)

    def local(self, name: str) -> Any:
        if name in self._done:
            return self._done[name]
        if name not in self.locals or name in self._busy:
            raise Unknown(f"local.{name}")
        self._busy.add(name)
        try:
            value = evaluate(self.locals[name], self)
        finally:
            self._busy.discard(name)
        self._done[name] = value
        return value


def evaluate(raw: Any, scope: Scope) -> Any:
    """The value of one attribute as `hcl2.loads` returned it."""
    if isinstance(raw, bool | int | float) or raw is None:
        return raw
    if isinstance(raw, list):
        return [evaluate(item, scope) for item in raw]
    if isinstance(raw, dict):
        return {_key(key): evaluate(value, scope) for key, value in raw.items() if key != "__is_block__"}
    text = str(raw)
    if text.startswith("${") and text.endswith("}") and not text.startswith('"'):
        text = text[2:-1]
    return expression(text, scope)


def expression(text: str, scope: Scope) -> Any:
    if _is_plain_string(text):
        return text[1:-1]  # most attributes are plain strings: no parse needed
    return _Walker(scope, text).value(_parse(text))


def _is_plain_string(text: str) -> bool:
    inner = text[1:-1]
    return len(text) >= 2 and text[0] == text[-1] == '"' and not any(c in inner for c in '"\\${%')


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Tree[Token]:
    """The syntax tree of one expression; the same text recurs across units, so it is parsed once."""
    try:
        tree = hcl2.parses_to_tree(f"x = {text}\n")
    except Exception as error:  # python-hcl2 raises Lark's errors, several types
        raise Unknown(f"{text}: cannot be parsed ({type(error).__name__})") from None
    attribute = next(tree.find_data("attribute"))
    node = attribute.children[-1]
    if not isinstance(node, Tree):
        raise Unknown(f"{text}: not an expression")
    return node


def _key(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _unescape(text: str) -> str:
    return text.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


class _Walker:
    def __init__(self, scope: Scope, text: str) -> None:
        self.scope = scope
        self.text = text

    def unknown(self, what: str) -> Unknown:
        return Unknown(f"{self.text.strip()}: {what} is not known from the files alone")

    def value(self, node: Tree[Token] | Token) -> Any:
        if isinstance(node, Token):
            raise self.unknown(repr(str(node)))
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            raise self.unknown(str(node.data))
        return handler(node)

    def _trees(self, node: Tree[Token]) -> list[Tree[Token]]:
        return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]

    def _expr_term(self, node: Tree[Token]) -> Any:
        (inner,) = self._trees(node)
        return self.value(inner)

    def _literal_value(self, node: Tree[Token]) -> Any:
        word = str(node.children[0])
        return {"true": True, "false": False, "null": None}[word]

    def _int_lit(self, node: Tree[Token]) -> int:
        return int(str(node.children[0]))

    def _float_lit(self, node: Tree[Token]) -> float:
        return float(str(node.children[0]))

    def _string(self, node: Tree[Token]) -> Any:
        parts = self._trees(node)
        values = [self.value(part) for part in parts]
        if len(values) == 1 and len(parts[0].children) == 1 and isinstance(parts[0].children[0], Tree):
            return values[0]  # "${x}" alone keeps x's type, as in HCL
        return "".join(_to_string(v) for v in values)

    def _string_part(self, node: Tree[Token]) -> Any:
        child = node.children[0]
        if isinstance(child, Tree):
            return self.value(child)
        return _unescape(str(child))

    def _interpolation(self, node: Tree[Token]) -> Any:
        (inner,) = self._trees(node)
        return self.value(inner)

    def _tuple(self, node: Tree[Token]) -> list[Any]:
        return [self.value(child) for child in self._trees(node)]

    def _object(self, node: Tree[Token]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for element in self._trees(node):
            key_node, value_node = self._trees(element)
            (key_expr,) = self._trees(key_node)
            key_term = self._trees(key_expr)
            if key_term and key_term[0].data == "identifier":
                key = str(key_term[0].children[0])
            else:
                key = _to_string(self.value(key_expr))
            result[key] = self.value(value_node)
        return result

    def _identifier(self, node: Tree[Token]) -> Any:
        raise self.unknown(str(node.children[0]))

    def _get_attr_expr_term(self, node: Tree[Token]) -> Any:
        base, attr = self._trees(node)
        name = str(self._trees(attr)[0].children[0])
        base_term = self._trees(base)
        if base_term and base_term[0].data == "identifier":
            root = str(base_term[0].children[0])
            if root == "local":
                return self.scope.local(name)
            if root == "values":
                if self.scope.values is None or name not in self.scope.values:
                    raise self.unknown(f"values.{name}")
                return self.scope.values[name]
            raise self.unknown(f"{root}.{name}")
        container = self.value(base)
        if not isinstance(container, dict) or name not in container:
            raise self.unknown(f".{name}")
        return container[name]

    def _index_expr_term(self, node: Tree[Token]) -> Any:
        base, index = self._trees(node)
        container = self.value(base)
        key = self.value(self._trees(index)[0])
        try:
            return container[key]
        except (KeyError, IndexError, TypeError):
            raise self.unknown(f"[{key!r}]") from None

    def _unary_op(self, node: Tree[Token]) -> Any:
        operator = str(node.children[0])
        operand = self.value(self._trees(node)[-1])
        if operator == "!" and isinstance(operand, bool):
            return not operand
        if operator == "-" and isinstance(operand, int | float):
            return -operand
        raise self.unknown(f"{operator}{operand!r}")

    def _binary_op(self, node: Tree[Token]) -> Any:
        left_node, term = self._trees(node)[:2]
        operator_node, right_node = self._trees(term)[:2]
        operator = str(operator_node.children[0])
        left = self.value(left_node)
        if operator == "&&" and left is False:
            return False
        if operator == "||" and left is True:
            return True
        right = self.value(right_node)
        operations: dict[str, Callable[[Any, Any], Any]] = {
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "&&": lambda a, b: bool(a and b),
            "||": lambda a, b: bool(a or b),
        }
        if operator not in operations:
            raise self.unknown(f"the operator {operator}")
        return operations[operator](left, right)

    def _conditional(self, node: Tree[Token]) -> Any:
        condition, yes, no = self._trees(node)[:3]
        test = self.value(condition)
        if not isinstance(test, bool):
            raise self.unknown("a condition that is not a bool")
        return self.value(yes if test else no)

    def _function_call(self, node: Tree[Token]) -> Any:
        trees = self._trees(node)
        name = str(trees[0].children[0])
        arguments = self._trees(trees[1]) if len(trees) > 1 else []
        if name == "try":
            for argument in arguments:
                try:
                    return self.value(argument)
                except Unknown:
                    continue
            raise self.unknown("every argument of try()")
        function = _FUNCTIONS.get(name)
        if function is None:
            raise self.unknown(f"{name}()")
        values = [self.value(argument) for argument in arguments]
        try:
            return function(self.scope, values)
        except (TypeError, ValueError, IndexError) as error:
            raise self.unknown(f"{name}() ({error})") from None


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise Unknown(f"{value!r} is not a string")


def find_in_parent_folders(start: Path, name: str) -> Path | None:
    """Terragrunt's search: from the PARENT of the config's directory upwards."""
    current = start
    for _ in range(MAX_PARENT_FOLDERS):
        parent = current.parent
        if parent == current:
            return None
        current = parent
        candidate = current / name
        if candidate.exists():
            return candidate
    return None


def _find_in_parent_folders(scope: Scope, args: list[Any]) -> str:
    name = str(args[0]) if args else "terragrunt.hcl"
    found = find_in_parent_folders(scope.terragrunt_dir, name)
    if found is not None:
        return found.as_posix()
    if len(args) > 1:
        return str(args[1])
    raise Unknown(f"find_in_parent_folders({name!r}) finds nothing above {scope.terragrunt_dir}")


def _get_env(scope: Scope, args: list[Any]) -> str:
    value = scope.environ.get(str(args[0]))
    if value is not None:
        return value
    if len(args) > 1:
        return str(args[1])
    raise Unknown(f"get_env({args[0]!r}) is unset")


_FUNCTIONS: dict[str, Callable[[Scope, list[Any]], Any]] = {
    "find_in_parent_folders": _find_in_parent_folders,
    "get_env": _get_env,
    "get_repo_root": lambda scope, _: scope.repo_root.as_posix(),
    "get_terragrunt_dir": lambda scope, _: scope.terragrunt_dir.as_posix(),
    "get_original_terragrunt_dir": lambda scope, _: scope.terragrunt_dir.as_posix(),
    "get_path_to_repo_root": lambda s, _: Path(os.path.relpath(s.repo_root, s.terragrunt_dir)).as_posix(),
    "get_path_from_repo_root": lambda s, _: Path(os.path.relpath(s.terragrunt_dir, s.repo_root)).as_posix(),
    # outside an include (a child's own `include` paths, a stack file) both are "."
    "path_relative_to_include": lambda scope, _: ".",
    "path_relative_from_include": lambda scope, _: ".",
    "basename": lambda _, a: Path(str(a[0])).name,
    "dirname": lambda _, a: Path(str(a[0])).parent.as_posix(),
    "abspath": lambda _, a: os.path.normpath(Path(str(a[0])).absolute()),
    "lower": lambda _, a: str(a[0]).lower(),
    "upper": lambda _, a: str(a[0]).upper(),
    "trimspace": lambda _, a: str(a[0]).strip(),
    "replace": lambda _, a: str(a[0]).replace(str(a[1]), str(a[2])),
    "join": lambda _, a: str(a[0]).join(_to_string(v) for v in a[1]),
    "tostring": lambda _, a: _to_string(a[0]),
    "tobool": lambda _, a: a[0] if isinstance(a[0], bool) else {"true": True, "false": False}[str(a[0])],
    "contains": lambda _, a: a[1] in a[0],
    "startswith": lambda _, a: str(a[0]).startswith(str(a[1])),
    "endswith": lambda _, a: str(a[0]).endswith(str(a[1])),
    "coalesce": lambda _, a: next(v for v in a if v not in (None, "")),
    "merge": lambda _, a: {k: v for item in a for k, v in dict(item).items()},
    "concat": lambda _, a: [v for item in a for v in item],
}
