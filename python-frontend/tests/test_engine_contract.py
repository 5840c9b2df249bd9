"""The compiled module's contract: every symbol of ``bytewax._engine`` is declared in
``_engine.pyi`` and used by the Python layer, and nothing is declared that does not exist."""

import ast
from pathlib import Path

import pytest

_engine = pytest.importorskip("bytewax._engine")

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "bytewax"


def _stub_names():
    tree = ast.parse((PACKAGE / "_engine.pyi").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _engine_names():
    return {n for n in dir(_engine) if not n.startswith("_")}


def test_every_engine_symbol_is_in_the_stub_and_back():
    assert _engine_names() == _stub_names()


def test_every_engine_function_is_wrapped_by_the_python_layer():
    sources = "\n".join(
        p.read_text() for p in PACKAGE.rglob("*.py") if p.name != "_engine.pyi"
    )
    unused = sorted(n for n in _engine_names() if f"_engine.{n}" not in sources)
    assert unused == [], f"not used by the bytewax package: {unused}"


def test_plan_version_matches_the_compiler():
    from bytewax._compile import PLAN_VERSION

    assert _engine.PLAN_VERSION == PLAN_VERSION
