"""driftctl.names: any directory name prints as valid UTF-8, and two names never print alike."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftctl.model import Selection, Stack, Tool
from driftctl.names import printable, printable_selection, to_bytes


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"prod/app", "prod/app"),
        ("ünï-cødé".encode(), "ünï-cødé"),
        (b'quo"te', 'quo"te'),
        (b"back\\slash", "back\\slash"),
        (b"caf\xe9", '"caf\\xe9"'),
        (b'"caf\\xe9"', '"\\"caf\\\\xe9\\""'),  # a real name that looks like a quoted one
        (b"new\nline", '"new\\nline"'),
        (b"\x1b[31mred", '"\\x1b[31mred"'),
        ("\u0085".encode(), '"\\u0085"'),  # a C1 control character is not the byte 0x85
        (b"\x85", '"\\x85"'),
    ],
)
def test_printable(raw: bytes, shown: str) -> None:
    assert printable(os.fsdecode(raw)) == shown
    shown.encode("utf-8")  # always valid UTF-8


@given(st.binary(max_size=12), st.binary(max_size=12))
def test_two_names_never_print_alike(first: bytes, second: bytes) -> None:
    name, other = os.fsdecode(first), os.fsdecode(second)
    assert (printable(name) == printable(other)) == (first == second)
    assert to_bytes(name) == first


def test_printable_selection_keeps_every_field_of_a_stack(tmp_path: Path) -> None:
    odd = os.fsdecode(b"caf\xe9")
    stack = Stack(id=odd, path=tmp_path / odd, tool=Tool.TERRAGRUNT, source="../modules/x", notes=("n",))
    selection = printable_selection(Selection(stacks=(stack,), mode="all", removed=(odd,), known=(odd, "ok")))
    assert selection.stacks == (replace(stack, id='"caf\\xe9"'),)
    assert (selection.removed, selection.known) == (('"caf\\xe9"',), ('"caf\\xe9"', "ok"))
