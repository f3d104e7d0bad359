"""The little of Terragrunt/Terraform HCL that changed-stack selection needs: which paths a file refers to.

A file is read with python-hcl2's raw parse tree (the hcl2 8.x grammar; its rule names are what this
module walks) and reduced to `FileRefs`: every include, dependency, source, module call and file read,
each with its path left as an unevaluated `PathExpr`. Evaluation happens in changed.py because the same
included file means different paths for every stack that includes it (`get_terragrunt_dir()` is the
including stack's directory).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import gc
import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import hcl2.parser
import hcl2.postlexer
from lark import Token, Tree
from lark.lexer import ContextualLexer, UnlessCallback
from lark.parse_tree_builder import ExpandSingleChild, ParseTreeBuilder
from lark.parsers.lalr_analysis import Shift


class Dialect(str, enum.Enum):
    TERRAGRUNT = "terragrunt"  # terragrunt.hcl, root.hcl, anything included or read_terragrunt_config'd
    TERRAFORM = "terraform"  # *.tf of a stack or a module
    TERRAFORM_JSON = "terraform-json"  # *.tf.json: only module sources are read from it


class RefKind(str, enum.Enum):
    INCLUDE = "include"
    READ_CONFIG = "read_terragrunt_config"
    READ_FILE = "file"
    READ_DIR = "fileset"
    DEPENDENCY = "dependency"
    SOURCE = "source"
    MODULE = "module"


# ---- path expressions: what a path attribute says, before it is evaluated for a stack ----


@dataclass(frozen=True)
class Lit:
    """Literal text of a string."""

    text: str


@dataclass(frozen=True)
class Call:
    """A function whose value changed.py can compute without running Terragrunt (see PATH_FUNCTIONS)."""

    name: str
    args: tuple[PathExpr, ...] = ()


@dataclass(frozen=True)
class LocalVar:
    """`local.<name>`, looked up in the same file's `locals`."""

    name: str


@dataclass(frozen=True)
class IncludeLocal:
    """`include.<label>.locals.<name>`, looked up in the included file's `locals`."""

    label: str
    name: str


@dataclass(frozen=True)
class ConfigLocal:
    """`local.<config>.locals.<name>` where `local.<config> = read_terragrunt_config(...)`."""

    config: str
    name: str


@dataclass(frozen=True)
class Opaque:
    """Anything else (variables, conditionals, other functions): unknown text, kept for messages."""

    text: str


Part = Lit | Call | LocalVar | IncludeLocal | ConfigLocal | Opaque
# the parts concatenate: `"${get_terragrunt_dir()}/../x"` is (Call("get_terragrunt_dir"), Lit("/../x"))
PathExpr = tuple[Part, ...]

# functions evaluated statically; `path.module` is Terraform's, modelled as a call;
# read_terragrunt_config is kept as a call so that `local.x.locals.y` can be followed into the file
PATH_FUNCTIONS = frozenset(
    {
        "get_terragrunt_dir",
        "get_original_terragrunt_dir",
        "get_parent_terragrunt_dir",
        "get_repo_root",
        "get_path_to_repo_root",
        "path_relative_to_include",
        "path_relative_from_include",
        "find_in_parent_folders",
        "dirname",
        "path.module",
        "path.root",
        "read_terragrunt_config",
    }
)

# functions whose first argument is a path the configuration reads
READ_FUNCTIONS: Mapping[str, RefKind] = {
    "read_terragrunt_config": RefKind.READ_CONFIG,
    "file": RefKind.READ_FILE,
    "fileexists": RefKind.READ_FILE,
    "filebase64": RefKind.READ_FILE,
    "filemd5": RefKind.READ_FILE,
    "filesha1": RefKind.READ_FILE,
    "filesha256": RefKind.READ_FILE,
    "filesha512": RefKind.READ_FILE,
    "filebase64sha256": RefKind.READ_FILE,
    "filebase64sha512": RefKind.READ_FILE,
    "templatefile": RefKind.READ_FILE,
    "sops_decrypt_file": RefKind.READ_FILE,
    "read_tfvars_file": RefKind.READ_FILE,
    "mark_as_read": RefKind.READ_FILE,
    "fileset": RefKind.READ_DIR,
}

_VAR_FILE_ATTRIBUTES = ("required_var_files", "optional_var_files")


@dataclass(frozen=True)
class Ref:
    """One path a file refers to."""

    kind: RefKind
    expr: PathExpr
    text: str  # the expression as written, for messages
    line: int
    name: str = ""  # the include's label, the dependency's name, or the reading function


@dataclass(frozen=True)
class FileRefs:
    refs: tuple[Ref, ...] = ()
    locals: Mapping[str, PathExpr] = field(default_factory=dict)


@dataclass(frozen=True)
class ParseFailure:
    """A file python-hcl2 cannot read; `message` is one line."""

    message: str


class HclError(Exception):
    """Text that python-hcl2 cannot parse."""


# ---- parsing (pure: text in, references out) ----

_READ_CALL = r"\b(?:" + "|".join(READ_FUNCTIONS) + r")\s*\("
# Cheap and sound pre-filters: a file with none of these cannot hold a reference, so it is not parsed.
# A Terragrunt reference needs one of these blocks or a read function; a Terraform one a `module` block
# (`path.module}` does not match: a block label or `{` must follow the keyword) or a read function.
_MAY_REFER = {
    Dialect.TERRAGRUNT: re.compile(r"\b(?:include|dependency|dependencies|terraform|locals)\b|" + _READ_CALL),
    Dialect.TERRAFORM: re.compile(r"\bmodule\s*[\"A-Za-z_{]|\blocals\b|" + _READ_CALL),
}
# any read function's name, anywhere (a substring test: every call of one has the name in its text)
_READ_NAME = re.compile("|".join(map(re.escape, READ_FUNCTIONS)))
# a read call inside a heredoc, whose template python-hcl2 keeps as one opaque token
_HEREDOC_READ = re.compile(r"\b(" + "|".join(READ_FUNCTIONS) + r')\s*\(\s*(?:"([^"\\$%]*)"\s*[,)])?')
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_EXPRESSIONS = frozenset({"expr_term", "binary_op", "unary_op", "conditional"})
_OPAQUE_TOKENS = frozenset({"HEREDOC_TEMPLATE", "HEREDOC_TEMPLATE_TRIM", "TEMPLATE_STRING"})


def parse_text(text: str, dialect: Dialect) -> FileRefs:
    """The references in one file's text; raises HclError when python-hcl2 cannot parse it."""
    text = text.removeprefix("\ufeff")
    if not _MAY_REFER[dialect].search(text):
        return FileRefs()
    return _file_refs(parse_tree(text), text, dialect)


def parse_tree(text: str) -> Tree[Token]:
    """python-hcl2's parse tree of the text (`hcl2.parses_to_tree`), found the fast way when possible.

    Nodes carry no `meta`; `_source` and `_line` work positions out from the tokens. When the fast
    parser fails for any reason, python-hcl2 parses the text itself: its tree, or its error.
    """
    fast = _fast_parser()
    if fast is not None:
        with contextlib.suppress(Exception):  # a syntax error, or anything else: python-hcl2 decides
            return fast.parse(text + "\n")  # parses_to_tree appends a newline too (lark issue 237)
    try:
        tree: Tree[Token] = hcl2.parses_to_tree(text)
    except Exception as error:  # lark raises several unrelated types; any of them means "unparseable"
        raise HclError(_one_line(str(error)) or type(error).__name__) from error
    return tree


def parse_bytes(data: bytes, dialect: Dialect) -> FileRefs | ParseFailure:
    """`parse_text` for a file's bytes, with failures as values (this also runs in worker processes)."""
    try:
        text = data.decode("utf-8")
        if dialect is Dialect.TERRAFORM_JSON:
            return _json_module_refs(json.loads(text))
        return parse_text(text, dialect)
    except UnicodeDecodeError as error:
        return ParseFailure(f"not UTF-8 ({error.reason} at byte {error.start})")
    except json.JSONDecodeError as error:
        return ParseFailure(f"cannot parse JSON: {error}")
    except HclError as error:
        return ParseFailure(f"cannot parse: {error}")


def _json_module_refs(document: object) -> FileRefs:
    """`{"module": {"name": {"source": "../x"}}}` (a block may also be a list of bodies)."""
    modules = document.get("module") if isinstance(document, dict) else None
    refs: list[Ref] = []
    for name, bodies in (modules or {}).items() if isinstance(modules, dict) else ():
        for body in bodies if isinstance(bodies, list) else [bodies]:
            source = body.get("source") if isinstance(body, dict) else None
            if isinstance(source, str):
                refs.append(Ref(RefKind.MODULE, (Lit(source),), json.dumps(source), 0, str(name)))
    return FileRefs(tuple(refs))


def _one_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


def _file_refs(tree: Tree[Token], text: str, dialect: Dialect) -> FileRefs:
    body = _child_tree(tree, "body")
    if body is None:
        return FileRefs()
    refs: list[Ref] = []
    local_exprs: dict[str, PathExpr] = {}
    for kind, labels, block_body in _blocks(body):
        if kind == "locals":
            local_exprs.update((name, _path_expr(value, text)) for name, value in _attributes(block_body))
        elif dialect is Dialect.TERRAGRUNT:
            refs.extend(_terragrunt_block_refs(kind, labels, block_body, text))
        elif kind == "module":
            refs.extend(
                _ref(RefKind.MODULE, value, text, labels[0] if labels else "")
                for name, value in _attributes(block_body)
                if name == "source"
            )
    # item by item from the last, which is the order of one walk over the whole tree; an item whose
    # text holds no read function's name holds no call of one (names are identifiers, never escaped)
    for item in reversed(body.children):
        if isinstance(item, Tree) and _may_read(item, text):
            refs.extend(_read_calls(item, text))
    # source order (iter_subtrees walks bottom-up), so messages name the first offending line
    return FileRefs(tuple(sorted(refs, key=lambda ref: ref.line)), local_exprs)


def _terragrunt_block_refs(kind: str, labels: tuple[str, ...], body: Tree[Token], text: str) -> Iterator[Ref]:
    label = labels[0] if labels else ""
    for name, value in _attributes(body):
        if kind == "include" and name == "path":
            yield _ref(RefKind.INCLUDE, value, text, label)
        elif kind == "dependency" and name == "config_path":
            yield _ref(RefKind.DEPENDENCY, value, text, label)
        elif kind == "dependencies" and name == "paths":
            yield from (_ref(RefKind.DEPENDENCY, item, text) for item in _elements(value))
        elif kind == "terraform" and name == "source":
            yield _ref(RefKind.SOURCE, value, text)
    if kind == "terraform":
        for inner_kind, _, inner_body in _blocks(body):
            if inner_kind != "extra_arguments":
                continue
            for name, value in _attributes(inner_body):
                if name in _VAR_FILE_ATTRIBUTES:
                    yield from (_ref(RefKind.READ_FILE, item, text, name) for item in _elements(value))


def _read_calls(tree: Tree[Token], text: str) -> Iterator[Ref]:
    """Every call of a read function, wherever it is (locals, inputs, generate blocks, nested calls)."""
    # a plain depth-first walk: lark's iter_subtrees de-duplicates by id and costs several times more
    pending = [tree]
    while pending:
        node = pending.pop()
        if node.data == "function_call":
            name = _function_name(node)
            kind = READ_FUNCTIONS.get(name or "")
            arguments = _arguments(node) if kind is not None else []
            if name and kind is not None and arguments:
                yield Ref(kind, _path_expr(arguments[0], text), _source(node, text), _line(node), name)
        for child in node.children:
            if isinstance(child, Tree):
                pending.append(child)
            elif child.type in _OPAQUE_TOKENS:
                yield from _heredoc_reads(child)


def _may_read(node: Tree[Token], text: str) -> bool:
    first, last = _edge_token(node, first=True), _edge_token(node, first=False)
    if first is None or last is None or first.start_pos is None or last.end_pos is None:
        return first is not None  # no tokens: nothing to find; no positions: look anyway
    return _READ_NAME.search(text, first.start_pos, last.end_pos) is not None


def _heredoc_reads(token: Token) -> Iterator[Ref]:
    # python-hcl2 does not parse inside heredocs; a literal path is still recognisable, anything else
    # is kept opaque so that selection can fall back rather than miss the file
    for match in _HEREDOC_READ.finditer(str(token)):
        name, literal = match.group(1), match.group(2)
        expr: PathExpr = (Lit(literal),) if literal is not None else (Opaque(match.group(0) + "…"),)
        line = (token.line or 1) + str(token).count("\n", 0, match.start())
        yield Ref(READ_FUNCTIONS[name], expr, match.group(0).rstrip(), line, name)


def _ref(kind: RefKind, value: Tree[Token], text: str, name: str = "") -> Ref:
    return Ref(kind, _path_expr(value, text), _source(value, text), _line(value), name)


def _path_expr(node: Tree[Token], text: str) -> PathExpr:
    if node.data == "expr_term":
        inner = [child for child in _trees(node) if child.data != "new_line_or_comment"]
        if len(inner) == 1:
            child = inner[0]
            if child.data in _EXPRESSIONS:  # parenthesised
                return _path_expr(child, text)
            if child.data == "string":
                return _string_expr(child, text)
            if child.data == "function_call":
                name = _function_name(child)
                if name in PATH_FUNCTIONS:
                    return (Call(name or "", tuple(_path_expr(a, text) for a in _arguments(child))),)
            if child.data == "get_attr_expr_term":
                part = _traversal(_dotted(child))
                if part is not None:
                    return (part,)
    return (Opaque(_source(node, text)),)


def _string_expr(node: Tree[Token], text: str) -> PathExpr:
    parts: list[Part] = []
    for string_part in _trees(node):
        for piece in string_part.children:
            if isinstance(piece, Token):
                if piece.type == "STRING_CHARS":
                    parts.append(Lit(_unescape(str(piece))))
                else:  # $${ and %%{ are escapes for a literal ${ and %{
                    parts.append(Lit(str(piece)[1:]))
            elif piece.data == "interpolation":
                parts.extend(_path_expr(_trees(piece)[0], text))
            else:  # %{ if } / %{ for } template directives
                parts.append(Opaque(_source(piece, text)))
    return _merge_literals(parts)


def _merge_literals(parts: Iterable[Part]) -> PathExpr:
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, Lit) and merged and isinstance(merged[-1], Lit):
            merged[-1] = Lit(merged[-1].text + part.text)
        else:
            merged.append(part)
    return tuple(merged)


def _traversal(names: tuple[str, ...] | None) -> Part | None:
    if names is None:
        return None
    if len(names) == 2 and names[0] == "local":
        return LocalVar(names[1])
    if len(names) == 4 and names[0] == "include" and names[2] == "locals":
        return IncludeLocal(names[1], names[3])
    if len(names) == 4 and names[0] == "local" and names[2] == "locals":
        return ConfigLocal(names[1], names[3])
    if names == ("path", "module"):
        return Call("path.module")
    if names in (("path", "root"), ("path", "cwd")):
        return Call("path.root")
    return None


def _dotted(node: Tree[Token]) -> tuple[str, ...] | None:
    """`a.b.c` as ("a", "b", "c"); None for anything with an index or a splat."""
    if node.data == "identifier":
        return (_identifier(node),)
    if node.data == "expr_term":
        inner = _trees(node)
        return _dotted(inner[0]) if len(inner) == 1 else None
    if node.data == "get_attr_expr_term":
        base, attr = _trees(node)
        prefix = _dotted(base)
        names = [_identifier(child) for child in _trees(attr) if child.data == "identifier"]
        return prefix + tuple(names) if prefix is not None and len(names) == 1 else None
    return None


def _unescape(raw: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, match.group(0))

    return _ESCAPE.sub(replace, raw)


# ---- tree helpers (the hcl2 8.x grammar's rule names) ----


def _trees(node: Tree[Token]) -> list[Tree[Token]]:
    return [child for child in node.children if isinstance(child, Tree)]


def _child_tree(node: Tree[Token], data: str) -> Tree[Token] | None:
    return next((child for child in _trees(node) if child.data == data), None)


def _identifier(node: Tree[Token]) -> str:
    return str(node.children[0]) if node.children else ""


def _blocks(body: Tree[Token]) -> Iterator[tuple[str, tuple[str, ...], Tree[Token]]]:
    for block in _trees(body):
        if block.data != "block":
            continue
        names = [child for child in _trees(block) if child.data != "new_line_or_comment"]
        inner = names.pop() if names and names[-1].data == "body" else None
        if inner is None or not names:
            continue
        labels = tuple(_label(child) for child in names[1:])
        yield _identifier(names[0]), labels, inner


def _label(node: Tree[Token]) -> str:
    if node.data == "string":
        return "".join(str(piece) for part in _trees(node) for piece in part.children)
    return _identifier(node)


def _attributes(body: Tree[Token]) -> Iterator[tuple[str, Tree[Token]]]:
    for attribute in _trees(body):
        if attribute.data == "attribute":
            name, *rest = _trees(attribute)
            if rest:
                yield _identifier(name), rest[-1]


def _elements(value: Tree[Token]) -> list[Tree[Token]]:
    """The items of a tuple literal; anything else is one (opaque) item."""
    inner = _trees(value) if value.data == "expr_term" else []
    if len(inner) == 1 and inner[0].data == "tuple":
        return [item for item in _trees(inner[0]) if item.data != "new_line_or_comment"]
    return [value]


def _function_name(node: Tree[Token]) -> str | None:
    identifiers = [child for child in _trees(node) if child.data == "identifier"]
    # provider-namespaced calls (provider::x::f) are not Terraform's built-in file readers
    return _identifier(identifiers[0]) if len(identifiers) == 1 else None


def _arguments(node: Tree[Token]) -> list[Tree[Token]]:
    arguments = _child_tree(node, "arguments")
    if arguments is None:
        return []
    return [child for child in _trees(arguments) if child.data != "new_line_or_comment"]


def _source(node: Tree[Token], text: str) -> str:
    first, last = _edge_token(node, first=True), _edge_token(node, first=False)
    if first is None or last is None or first.start_pos is None or last.end_pos is None:
        return node.data
    return " ".join(text[first.start_pos : last.end_pos].split())


def _line(node: Tree[Token]) -> int:
    first = _edge_token(node, first=True)
    return first.line or 0 if first is not None else 0


def _edge_token(node: Tree[Token], first: bool) -> Token | None:
    """The first (or last) token of a node: its position is the node's, as Lark's `meta` would say.

    Every token the grammar matches stays in the tree (none is filtered out), so a node's text runs
    from its first token's start to its last token's end, whatever rules were inlined on the way.
    """
    for child in node.children if first else reversed(node.children):
        if isinstance(child, Token):
            return child
        if isinstance(child, Tree):
            found = _edge_token(child, first)
            if found is not None:
                return found
    return None


# ---- python-hcl2's parse without Lark's position bookkeeping ----

# What a state does on a terminal or, after a reduction, a rule name: (the state shifted to, or -1 to
# reduce; the rule's length; its name, to look the next state up; the node builder, None when the
# node is the rule's only child (`?expression: or_expr`), so that only the state changes).
_Action = tuple[int, int, str, Callable[[list[Any]], Any] | None]
# per lexer state: the scanner's patterns, keyword callbacks (NAME -> IF), ignored and multi-line terminals
_Scanner = tuple[
    tuple[Callable[[str, int], re.Match[str] | None], ...],
    Mapping[str, Callable[[str], str | None]],
    frozenset[str],
    frozenset[str],
]
_NEWLINE = "NL_OR_COMMENT"
_END = "$END"


class _FastParser:
    """python-hcl2's own LALR(1) parse, run by a lean loop: the trees equal `hcl2.parses_to_tree`'s.

    Everything that decides the tree is python-hcl2's Lark parser's: its parse table, its contextual
    lexer's per-state scanners and keyword callbacks, its post-lexer's rule (a newline before a binary
    operator joins the operator), and Lark's tree builders for its rules, made without
    `propagate_positions`. Tracking positions through every reduction is most of Lark's cost; here the
    tokens keep start_pos, end_pos and line, which is all `_source` and `_line` need. Lexing follows
    Lark's order exactly: a token is scanned in the parser state before a pending newline is fed.
    Any error raises; the caller then lets python-hcl2 parse the text itself.
    """

    def __init__(self, lark: Any) -> None:
        options = lark.options
        if (options.parser, options.lexer, options.transformer) != ("lalr", "contextual", None):
            raise TypeError("not python-hcl2's LALR parser")
        if type(options.postlex) is not hcl2.postlexer.PostLexer:
            raise TypeError("an unknown post-lexer")
        lexer = lark.parser.lexer.lexer
        if not isinstance(lexer, ContextualLexer):
            raise TypeError("not a contextual lexer")
        table = lark.parser.parser.parser.parse_table
        builders = ParseTreeBuilder(  # type: ignore[no-untyped-call]
            lark.rules, Tree, False, False, options.maybe_placeholders
        )
        callbacks = builders.create_callback(None)  # type: ignore[no-untyped-call]
        self._actions: dict[int, dict[str, _Action]] = {}
        for state, moves in table.states.items():
            actions: dict[str, _Action] = {}
            for symbol, (action, argument) in moves.items():
                if action is Shift:
                    actions[symbol] = (argument, 0, "", None)
                else:
                    build = callbacks[argument]
                    unit = len(argument.expansion) == 1 and type(build) is ExpandSingleChild
                    actions[symbol] = (
                        -1,
                        len(argument.expansion),
                        argument.origin.name,
                        None if unit else build,
                    )
            self._actions[state] = actions
        (start,) = options.start
        self._start: int = table.start_states[start]
        self._end: int = table.end_states[start]
        # made when first needed: compiling all of them costs more than a hundred files' parses
        self._lexers: dict[int, Any] = lexer.lexers
        self._scanners: dict[int, _Scanner] = {}
        self._by_lexer: dict[int, _Scanner] = {}  # many states share one lexer
        self._merge = frozenset(hcl2.postlexer.OPERATOR_TYPES)
        # (state below, state, terminal) -> the state after every unit reduction that follows
        self._chains: dict[tuple[int, int, str], int] = {}
        self._new_token: Callable[..., Token] = Token._future_new  # Token() without its checks

    def _unit_chain(self, below: int, state: int, kind: str) -> int:
        """Where a run of unit reductions (expression <- or_expr <- ... <- expr_term) ends.

        Each pops only the top state and pushes the goto from `below`, so the run depends on
        `below`, the top state and the terminal alone: it is worked out once and remembered.
        """
        action = self._actions[state].get(kind)
        while action is not None and action[0] < 0 and action[3] is None:
            state = self._actions[below][action[2]][0]
            action = self._actions[state].get(kind)
        return state

    def _scanner_for(self, state: int) -> _Scanner:
        basic = self._lexers[state]
        scanner = self._by_lexer.get(id(basic))
        if scanner is None:
            scanner = self._by_lexer[id(basic)] = self._scanner(basic)
        self._scanners[state] = scanner
        return scanner

    @staticmethod
    def _scanner(basic: Any) -> _Scanner:
        patterns = tuple(pattern.match for pattern in basic.scanner._mres)  # builds the scanner too
        keywords: dict[str, Callable[[str], str | None]] = {}
        for name, callback in basic.callback.items():
            if not isinstance(callback, UnlessCallback):  # only keyword callbacks are understood here
                raise TypeError(f"an unknown lexer callback for {name}")
            keywords[name] = callback.scanner.fullmatch
        ignore = frozenset(basic.ignore_types)
        if ignore & keywords.keys():
            raise TypeError("a callback on an ignored terminal")
        return patterns, keywords, ignore, frozenset(basic.newline_types)

    def parse(self, text: str) -> Tree[Token]:
        actions, scanners, merge, chains = self._actions, self._scanners, self._merge, self._chains
        new_token = self._new_token
        states = [self._start]
        values: list[Any] = []

        def feed(token: Token) -> None:
            kind = token.type
            while True:
                shift, size, name, build = actions[states[-1]][kind]
                if shift >= 0:
                    states.append(shift)
                    values.append(token)
                    return
                if build is None:  # the node is the rule's only child: only the state changes
                    key = (states[-2], states[-1], kind)
                    target = chains.get(key)
                    if target is None:
                        target = chains[key] = self._unit_chain(*key)
                    states[-1] = target
                    continue
                children = values[-size:] if size else []
                if size:
                    del states[-size:]
                    del values[-size:]
                values.append(build(children))
                states.append(actions[states[-1]][name][0])

        pending: Token | None = None  # a newline, held back until the next token is known
        position, line, length = 0, 1, len(text)
        while position < length:
            scanner = scanners.get(states[-1])
            if scanner is None:
                scanner = self._scanner_for(states[-1])
            patterns, keywords, ignore, multiline = scanner
            found = None
            for pattern in patterns:
                found = pattern(text, position)
                if found is not None:
                    break
            if found is None or found.end() == position:
                raise SyntaxError(f"unexpected character at {position}")
            kind, value, start = found.lastgroup or "", found.group(), position
            position, token_line = found.end(), line
            if kind in multiline:
                line += value.count("\n")
            if kind in ignore:
                continue
            if kind in keywords:
                kind = keywords[kind](value) or kind
            token = new_token(kind, value, start, token_line, None, None, None, position)
            if kind == _NEWLINE:
                if pending is not None:
                    feed(pending)
                pending = token
                continue
            if pending is not None:
                if kind in merge:  # the post-lexer joins the newline to the operator, at its position
                    token = new_token(kind, pending + value, start, token_line, None, None, None, position)
                else:
                    feed(pending)
                pending = None
            feed(token)
        if pending is not None:
            feed(pending)
        while True:
            shift, size, name, build = actions[states[-1]][_END]
            if shift >= 0:
                raise SyntaxError("a shift at the end")
            if build is None:
                states[-1] = actions[states[-2]][name][0]
            else:
                children = values[-size:] if size else []
                if size:
                    del states[-size:]
                    del values[-size:]
                values.append(build(children))
                states.append(actions[states[-1]][name][0])
            if states[-1] == self._end:
                tree = values[-1]
                if not isinstance(tree, Tree):
                    raise SyntaxError("no tree")
                return tree


# One configuration with every construct of the grammar: the fast parser is used only if it reads
# this exactly as python-hcl2 does (a python-hcl2 or Lark upgrade that changes anything disables it).
_SELF_CHECK = r"""
# comment
include "root" { path = find_in_parent_folders("root.hcl") }
locals {
  a = "x/${local.b}/%{ if true }y%{ else }z%{ endif }/$${no}/%%{no}\\\"q\u00e9\n\t"
  b = [for k, v in var.m : "${k}=${v}" if v != null]
  t = "%{~ if var.x == \"a\" ~}y%{ endif }%{ for x in var.l }${x},%{ endfor }"
  c = { for k in keys(var.m) : k => var.m[k]... }
  d = var.x ? (-1 + 2.5e3) * 3 / 4 % 5 : !true
  e = var.list[0].name
  f = var.list.*.id
  g = var.list[*].tags["n"]
  h = provider::p::f(1, 2...)
  i = x.0
  j = 1 ==
    2 ||
    false &&
    null
  /* block
     comment */
  k = <<-EOT
    text ${file("a.txt")}
  EOT
  l = <<EOT
raw
EOT
  in = { for = 1, if = "x" }
  m = a.b.c // trailing
}
block label "quoted" {
  inner { x = 1 }
}
"""


@functools.cache
def _fast_parser() -> _FastParser | None:
    try:
        parser = _FastParser(hcl2.parser.parser())
        if not _same_trees(parser.parse(_SELF_CHECK + "\n"), hcl2.parses_to_tree(_SELF_CHECK)):
            return None
    except Exception:  # an hcl2/Lark version whose internals differ: python-hcl2 parses everything
        return None
    return parser


def _same_trees(fast: Tree[Token], reference: Tree[Token]) -> bool:
    """Equal trees (Tree equality compares rule names and tokens' types and text) and token positions."""
    if fast != reference:
        return False
    tokens = zip(fast.scan_values(_is_token), reference.scan_values(_is_token), strict=True)
    return all((a.start_pos, a.end_pos, a.line) == (b.start_pos, b.end_pos, b.line) for a, b in tokens)


def _is_token(value: object) -> bool:
    return isinstance(value, Token)


# ---- the stored form of FileRefs, for the cache kept between runs ----

# bump whenever what is extracted or how it is stored changes: stores of another version are ignored
STORE_VERSION = 3
try:
    _PARSER_VERSION = importlib.metadata.version("python-hcl2")
except importlib.metadata.PackageNotFoundError:  # vendored or run from a checkout
    _PARSER_VERSION = "unknown"


def encode(value: FileRefs | ParseFailure, table: dict[Ref, int]) -> object:
    """A JSON-able form of a parse result, its references as numbers in `table` (added as needed).

    Many files refer to the same things the same way (every stack's include of root.hcl): the store
    keeps each reference once, in `encode_refs(table)`.
    """
    if isinstance(value, ParseFailure):
        return {"failure": value.message}
    return {
        "refs": [table.setdefault(ref, len(table)) for ref in value.refs],
        "locals": {name: _encode_expr(expr) for name, expr in value.locals.items()},
    }


def encode_refs(table: Mapping[Ref, int]) -> list[object]:
    """The JSON-able form of `encode`'s table, in the order of its numbers."""
    return [[r.kind.value, _encode_expr(r.expr), r.text, r.line, r.name] for r in table]


def decode_refs(data: object) -> tuple[Ref, ...]:
    """The inverse of `encode_refs`; ValueError for anything it would not have produced."""
    return tuple(_decode_ref(item) for item in _list(data))


def decode(data: object, refs: Sequence[Ref]) -> FileRefs | ParseFailure:
    """The inverse of `encode`, given `decode_refs` of its table; ValueError for what it never makes."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    if "failure" in data:
        return ParseFailure(_str(data["failure"]))
    found = tuple(refs[_index(item, len(refs))] for item in _list(data.get("refs")))
    local_exprs = data.get("locals")
    if not isinstance(local_exprs, dict):
        raise ValueError("locals is not an object")
    return FileRefs(found, {_str(name): _decode_expr(expr) for name, expr in local_exprs.items()})


def _encode_expr(expr: PathExpr) -> list[object]:
    encoded: list[object] = []
    for part in expr:
        if isinstance(part, Lit):
            encoded.append(["L", part.text])
        elif isinstance(part, Call):
            encoded.append(["C", part.name, [_encode_expr(arg) for arg in part.args]])
        elif isinstance(part, LocalVar):
            encoded.append(["V", part.name])
        elif isinstance(part, IncludeLocal):
            encoded.append(["I", part.label, part.name])
        elif isinstance(part, ConfigLocal):
            encoded.append(["G", part.config, part.name])
        else:
            encoded.append(["O", part.text])
    return encoded


def _decode_expr(data: object) -> PathExpr:
    parts: list[Part] = []
    for item in _list(data):
        fields = _list(item)
        tag, size = (fields[0], len(fields)) if fields else (None, 0)
        if tag == "L" and size == 2:
            parts.append(Lit(_str(fields[1])))
        elif tag == "C" and size == 3:
            parts.append(Call(_str(fields[1]), tuple(_decode_expr(arg) for arg in _list(fields[2]))))
        elif tag == "V" and size == 2:
            parts.append(LocalVar(_str(fields[1])))
        elif tag == "I" and size == 3:
            parts.append(IncludeLocal(_str(fields[1]), _str(fields[2])))
        elif tag == "G" and size == 3:
            parts.append(ConfigLocal(_str(fields[1]), _str(fields[2])))
        elif tag == "O" and size == 2:
            parts.append(Opaque(_str(fields[1])))
        else:
            raise ValueError(f"unknown part {tag!r}")
    return tuple(parts)


def _decode_ref(data: object) -> Ref:
    kind, expr, text, line, name = _list(data)
    if not isinstance(line, int) or isinstance(line, bool):
        raise ValueError("line is not an integer")
    return Ref(RefKind(_str(kind)), _decode_expr(expr), _str(text), line, _str(name))


def _index(data: object, size: int) -> int:
    if not isinstance(data, int) or isinstance(data, bool) or not 0 <= data < size:
        raise ValueError("not a reference's number")
    return data


def _list(data: object) -> list[object]:
    if not isinstance(data, list):
        raise ValueError("not a list")
    return data


def _str(data: object) -> str:
    if not isinstance(data, str):
        raise ValueError("not a string")
    return data


# ---- reading files (I/O), with a per-content cache and parallel parsing of many files ----

_PARALLEL_AT = 64  # below this, starting worker processes costs more than it saves


class RefCache:
    """Parses each file once; files with identical bytes (copied stacks) share one parse.

    With a `store` file, results are also kept between runs, keyed by content: python-hcl2 costs a
    few milliseconds per file, which for thousands of stacks is most of a selection's time.
    """

    def __init__(self, workers: int | None = None, store: Path | None = None) -> None:
        self._by_path: dict[tuple[str, Dialect], FileRefs | ParseFailure | None] = {}
        self._by_content: dict[tuple[bytes, Dialect], FileRefs | ParseFailure] = {}
        # parses still under way in a batch (see _Batch): content -> where, path -> content
        self._waiting: dict[tuple[bytes, Dialect], tuple[_Batch, int]] = {}
        self._later: dict[tuple[str, Dialect], tuple[bytes, Dialect]] = {}
        self._batches: list[_Batch] = []
        self._workers = workers if workers is not None else _default_workers()
        self._store = store
        self._stored, self._stored_refs = _load_store(store) if store is not None else ({}, ())
        self._parsed = 0  # files actually parsed (not found in memory or the store)

    @property
    def parsed(self) -> int:
        return self._parsed

    def get(self, path: str, dialect: Dialect) -> FileRefs | ParseFailure | None:
        """The file's references; None when it does not exist."""
        key = (path, dialect)
        if key not in self._by_path:
            content = self._later.pop(key, None)
            if content is None:
                self.preload([path], dialect)
            else:
                self._by_path[key] = self._resolve(content)
        return self._by_path[key]

    def preload(self, paths: Sequence[str], dialect: Dialect) -> None:
        """Reads the files not seen yet and parses them, in worker processes when there are many.

        Those are parsed while the caller goes on: `get` then waits for a file's parse, or parses
        its chunk here when no worker has started it (see _Batch).
        """
        pending: dict[tuple[bytes, Dialect], bytes] = {}
        digests: dict[str, bytes] = {}
        for path in paths:
            if (path, dialect) in self._by_path or (path, dialect) in self._later:
                continue
            data = _read(path)
            if data is None or isinstance(data, ParseFailure):
                self._by_path[(path, dialect)] = data
                continue
            digest = hashlib.blake2b(data, digest_size=16).digest()
            digests[path] = digest
            key = (digest, dialect)
            if key not in self._by_content and key not in self._waiting and not self._restore(key):
                pending[key] = data
        texts = list(pending.values())
        self._parsed += len(texts)
        batch = self._start(texts, dialect)
        if batch is None:
            self._by_content.update(zip(pending, _parse_chunk(texts, dialect), strict=True))
        else:
            self._waiting.update((key, (batch, index)) for index, key in enumerate(pending))
        for path, digest in digests.items():
            key = (digest, dialect)
            if key in self._by_content:
                self._by_path[(path, dialect)] = self._by_content[key]
            else:
                self._later[(path, dialect)] = key

    def ready(self, path: str, dialect: Dialect) -> bool:
        """Whether `get` would answer at once: no parse to run here, none to wait for."""
        content = self._later.get((path, dialect))
        if content is None or content in self._by_content:
            return (path, dialect) in self._by_path or content is not None
        batch, index = self._waiting[content]
        return batch.ready(index)

    def close(self) -> None:
        """Stops the worker processes; what they had not parsed yet is parsed here when asked for."""
        for batch in self._batches:
            batch.close()
        self._batches.clear()

    def save(self) -> None:
        """Writes what this run used to the store; a cache that cannot be written is no error."""
        if self._store is None:
            return
        if not self._parsed and {_store_key(key) for key in self._by_content} == self._stored.keys():
            return  # nothing parsed, nothing dropped: the store already says all of it
        for content in list(self._waiting):
            self._resolve(content)
        table: dict[Ref, int] = {}
        entries = {_store_key(key): encode(value, table) for key, value in self._by_content.items()}
        document = {
            "version": STORE_VERSION,
            "parser": _PARSER_VERSION,
            "refs": encode_refs(table),
            "entries": entries,
        }
        try:
            self._store.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._store.with_name(f"{self._store.name}.{os.getpid()}.tmp")
            text = json.dumps(document, separators=(",", ":"), check_circular=False)  # a tree of lists
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(self._store)  # atomic: a concurrent run reads the old or the new file
        except OSError:
            return

    def _resolve(self, content: tuple[bytes, Dialect]) -> FileRefs | ParseFailure:
        if content not in self._by_content:
            batch, index = self._waiting.pop(content)
            self._by_content[content] = batch.result(index)
        return self._by_content[content]

    def _restore(self, key: tuple[bytes, Dialect]) -> bool:
        stored = self._stored.get(_store_key(key))
        if stored is None:
            return False
        try:
            self._by_content[key] = decode(stored, self._stored_refs)
        except (ValueError, TypeError):
            return False
        return True

    def _start(self, texts: list[bytes], dialect: Dialect) -> _Batch | None:
        if self._workers < 2 or len(texts) < _PARALLEL_AT:
            return None
        self.close()  # one pool at a time: forking next to a running pool's thread is unsafe
        batch = _Batch.start(texts, dialect, self._workers)
        if batch is not None:
            self._batches.append(batch)
        return batch


class _Batch:
    """Files parsed in `workers - 1` child processes and in this one, chunk by chunk.

    The children take chunks from the start. A result asked for is awaited if a child has its
    chunk, else its chunk is parsed here and then. changed.py builds stack inputs from the
    start while the children's results are `ready` and from the end otherwise: this process does
    its own work on results as they come, parses from the end only when it would wait, and the
    results it parses need no pickling.
    """

    def __init__(self, pool: ProcessPoolExecutor, texts: list[bytes], dialect: Dialect, workers: int) -> None:
        # small chunks: whoever finishes first idles for at most the chunks handed to a child
        self._size = size = max(16, len(texts) // (workers * 32))
        self._pool, self._dialect = pool, dialect
        self._chunks = [texts[start : start + size] for start in range(0, len(texts), size)]
        self._results: list[list[FileRefs | ParseFailure] | None] = [None] * len(self._chunks)
        self._left = len(self._chunks)
        self._futures: list[Future[list[FileRefs | ParseFailure]]] = [
            pool.submit(_parse_chunk, chunk, dialect) for chunk in self._chunks
        ]

    @classmethod
    def start(cls, texts: list[bytes], dialect: Dialect, workers: int) -> _Batch | None:
        """None when no worker process can start: then the caller parses everything itself."""
        # fork is cheap (the parser built here is inherited) but unsafe once other threads run;
        # then the platform default is used
        fork = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
        if fork:
            _fast_parser()
        try:
            pool = ProcessPoolExecutor(
                workers - 1, mp_context=multiprocessing.get_context("fork" if fork else None)
            )
        except (OSError, RuntimeError):
            return None
        try:
            return cls(pool, texts, dialect, workers)
        except (OSError, RuntimeError):
            pool.shutdown(cancel_futures=True)
            return None

    def result(self, index: int) -> FileRefs | ParseFailure:
        number, offset = divmod(index, self._size)
        chunk = self._results[number]
        if chunk is None:
            future = self._futures[number]
            try:
                chunk = (
                    _parse_chunk(self._chunks[number], self._dialect) if future.cancel() else future.result()
                )
            except (OSError, RuntimeError):  # a worker died (BrokenProcessPool): parse here instead
                chunk = _parse_chunk(self._chunks[number], self._dialect)
            self._results[number] = chunk
            self._left -= 1
            if not self._left:
                self._pool.shutdown()
        return chunk[offset]

    def ready(self, index: int) -> bool:
        number = index // self._size
        return self._results[number] is not None or self._futures[number].done()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def _store_key(key: tuple[bytes, Dialect]) -> str:
    return f"{key[1].value}:{key[0].hex()}"


def _load_store(store: Path) -> tuple[dict[str, object], tuple[Ref, ...]]:
    """The stored entries and their references; none when missing, unreadable or of another version."""
    try:
        document = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, ()
    if not isinstance(document, dict) or document.get("version") != STORE_VERSION:
        return {}, ()
    if document.get("parser") != _PARSER_VERSION:  # another parser may read files differently
        return {}, ()
    entries = document.get("entries")
    try:
        refs = decode_refs(document.get("refs"))
    except (ValueError, TypeError):
        return {}, ()
    return (entries, refs) if isinstance(entries, dict) else ({}, ())


def _read(path: str) -> bytes | ParseFailure | None:
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 - hot path, str paths avoid Path objects
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as error:
        return ParseFailure(f"cannot read: {error.strerror}")


def _default_workers() -> int:
    cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _parse_chunk(texts: list[bytes], dialect: Dialect) -> list[FileRefs | ParseFailure]:
    # parse trees hold no reference cycles: the cycle collector would only walk them, again and again
    enabled = gc.isenabled()
    gc.disable()
    try:
        return [parse_bytes(data, dialect) for data in texts]
    finally:
        if enabled:
            gc.enable()
