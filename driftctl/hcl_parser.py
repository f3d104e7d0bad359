"""python-hcl2's parse without Lark's position bookkeeping: the same trees, made faster.

`fast_parser()` runs python-hcl2's own LALR(1) tables, lexer and tree builders in a lean loop, and is
used only if it reads a start-up self-check configuration exactly as python-hcl2 does. hcl.py's
`parse_tree` uses it, and lets python-hcl2 parse the text itself whenever it is unavailable or fails.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import hcl2
import hcl2.parser
import hcl2.postlexer
from lark import Token, Tree
from lark.lexer import ContextualLexer, UnlessCallback
from lark.parse_tree_builder import ExpandSingleChild, ParseTreeBuilder
from lark.parsers.lalr_analysis import Shift

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
    tokens keep start_pos, end_pos and line, which is all `hcl._source` and `hcl._line` need. Lexing follows
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
def fast_parser() -> _FastParser | None:
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
