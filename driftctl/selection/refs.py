"""Reference extraction: which paths a Terragrunt/Terraform file refers to, read with python-hcl2.

A file is parsed with python-hcl2's public `parses_to_tree` (the hcl2 8.x grammar; its rule names are
what this module walks) and reduced to `FileRefs`: every include, dependency, source, module call and
file read, each with its path left as an unevaluated `PathExpr`. Evaluation is evaluate.py's, because the
same included file means different paths for every unit that includes it (`get_terragrunt_dir()` is the
including unit's directory).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import hcl2
from lark import Token, Tree


class Dialect(str, enum.Enum):
    TERRAGRUNT = "terragrunt"  # terragrunt.hcl, root.hcl, anything included or read_terragrunt_config'd
    TERRAGRUNT_JSON = "terragrunt-json"  # terragrunt.hcl.json: the same blocks in JSON syntax
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


@dataclass(frozen=True)
class ValuesVar:
    """`values.<name>` in a Stacks unit's config: the `values` its `unit` block passes."""

    name: str


Part = Lit | Call | LocalVar | IncludeLocal | ConfigLocal | ValuesVar | Opaque
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
        "get_path_from_repo_root",
        "dirname",
        "basename",
        "get_env",
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
    # a stack file's `unit` blocks: their literal `path` -> the `values` they pass
    units: Mapping[str, Mapping[str, PathExpr]] = field(default_factory=dict)


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
    Dialect.TERRAGRUNT: re.compile(
        r"\b(?:include|dependency|dependencies|terraform|locals|unit)\b|" + _READ_CALL
    ),
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


def parse_text(text: str, dialect: Dialect, skip: Callable[[str], str] = str) -> FileRefs:
    """The references in one file's text; raises HclError when python-hcl2 cannot parse it.

    `skip` may blank what cannot hold a reference, keeping offsets: only the rest is parsed.
    """
    text = text.removeprefix("\ufeff")
    if not _MAY_REFER[dialect].search(text):
        return FileRefs()
    return _file_refs(parse_tree(skip(text)), text, dialect)


def parse_tree(text: str) -> Tree[Token]:
    """python-hcl2's parse tree of the text; HclError with one line when it cannot parse it."""
    try:
        tree: Tree[Token] = hcl2.parses_to_tree(text)
    except Exception as error:  # lark raises several unrelated types; any of them means "unparseable"
        raise HclError(_one_line(str(error)) or type(error).__name__) from error
    return tree


def parse_bytes(data: bytes, dialect: Dialect, skip: Callable[[str], str] = str) -> FileRefs | ParseFailure:
    """`parse_text` for a file's bytes, with failures as values."""
    try:
        text = data.decode("utf-8")
        if dialect is Dialect.TERRAFORM_JSON:
            return _json_module_refs(json.loads(text))
        if dialect is Dialect.TERRAGRUNT_JSON:
            return parse_text(native_syntax(json.loads(text)), Dialect.TERRAGRUNT)
        return parse_text(text, dialect, skip)
    except UnicodeDecodeError as error:
        return ParseFailure(f"not UTF-8 ({error.reason} at byte {error.start})")
    except json.JSONDecodeError as error:
        return ParseFailure(f"cannot parse JSON: {error}")
    except HclError as error:
        return ParseFailure(f"cannot parse: {error}")


# the blocks of a Terragrunt config that hold references, and whether each level of them is labelled
_JSON_BLOCKS = {
    "include": None,
    "dependency": True,
    "dependencies": False,
    "terraform": False,
    "locals": False,
}


def native_syntax(document: object) -> str:
    """A `terragrunt.hcl.json` document's reference-holding blocks in native syntax (lines differ).

    In HCL's JSON syntax every string is a template, as a quoted string is in native syntax, so the
    strings carry over as they are; python-hcl2 then reads the result like any other config.
    """
    if not isinstance(document, dict):
        raise HclError("a terragrunt.hcl.json document must be an object")
    blocks: list[str] = []
    for kind, labelled in _JSON_BLOCKS.items():
        for body in _bodies(document.get(kind)):
            if labelled is None:  # include: labelled unless its body is the block itself
                labelled = "path" not in body
            items = body.items() if labelled else [("", body)]
            for label, inner in items:
                for block in _bodies(inner):
                    name = f" {json.dumps(label)}" if label else ""
                    attributes = "".join(
                        f"  {key} = {_native(value)}\n" for key, value in block.items() if key.isidentifier()
                    )
                    blocks.append(f"{kind}{name} {{\n{attributes}}}\n")
    return "".join(blocks)


def _template(text: str) -> str:
    """A JSON string as a quoted native template: literal parts escaped, interpolations as written."""
    out, depth, quoted, index = ['"'], 0, False, 0
    while index < len(text):
        char = text[index]
        if depth == 0:
            if text.startswith(("${", "%{"), index) and not text.startswith(("$${", "%%{"), index - 1):
                out.append(text[index : index + 2])
                depth, index = 1, index + 2
                continue
            out.append({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, char))
        else:  # an expression: copied as written, to its closing brace
            out.append(char)
            if quoted:
                quoted = char != '"' or text[index - 1] == "\\"
            elif char == '"':
                quoted = True
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
        index += 1
    return "".join([*out, '"'])


def _bodies(value: object) -> list[dict[str, object]]:
    values = value if isinstance(value, list) else [value]
    return [item for item in values if isinstance(item, dict)]


def _native(value: object) -> str:
    if isinstance(value, str):
        return _template(value)
    if isinstance(value, list):
        return "[" + ", ".join(_native(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_native(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


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
    units: dict[str, Mapping[str, PathExpr]] = {}
    for kind, labels, block_body in _blocks(body):
        if kind == "locals":
            local_exprs.update((name, _path_expr(value, text)) for name, value in _attributes(block_body))
        elif kind == "unit" and dialect is Dialect.TERRAGRUNT:
            attributes = dict(_attributes(block_body))
            path = _path_expr(attributes["path"], text) if "path" in attributes else ()
            if len(path) == 1 and isinstance(path[0], Lit):
                units[path[0].text] = _object(attributes.get("values"), text)
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
    return FileRefs(tuple(sorted(refs, key=lambda ref: ref.line)), local_exprs, units)


def _object(node: Tree[Token] | None, text: str) -> dict[str, PathExpr]:
    """An object literal's keys (names or strings) and their expressions; empty for anything else."""
    inner = _trees(node) if node is not None and node.data == "expr_term" else []
    if len(inner) != 1 or inner[0].data != "object":
        return {}
    found: dict[str, PathExpr] = {}
    for element in _trees(inner[0]):
        if element.data != "object_elem":
            continue
        key, value = [child for child in _trees(element) if child.data != "new_line_or_comment"][:2]
        name = _path_expr(_trees(key)[0], text) if _trees(key) else ()
        written = _dotted(_trees(key)[0]) if _trees(key) else None
        if written is not None and len(written) == 1:
            found[written[0]] = _path_expr(value, text)
        elif len(name) == 1 and isinstance(name[0], Lit):
            found[name[0].text] = _path_expr(value, text)
    return found


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
    if len(names) == 2 and names[0] == "values":
        return ValuesVar(names[1])
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
