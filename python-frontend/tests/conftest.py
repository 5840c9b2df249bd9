"""Shared pytest setup for the operator-level tests of the Python API.

The same files run against two products: our `bytewax` package and the real
Bytewax 0.16.2 (as the reference for behaviour and error texts). Tests that
check a deliberate difference of ours are marked `ours_only`; deselect them
against 0.16.2 with `-m "not ours_only"`.
"""

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "ours_only: checks behaviour where bytewax-wasm deliberately differs from "
        "Bytewax 0.16.2 (deselect with -m 'not ours_only' against 0.16.2)",
    )
    config.addinivalue_line(
        "markers",
        "windowing: event-time clocks, sliding/session windows, fold/collect "
        "windows (select with -m windowing)",
    )


def error_notes(exc):
    """All notes the engine attached to an exception (empty when none)."""
    return list(getattr(exc, "__notes__", []))


@pytest.fixture
def notes_of():
    """Gives tests the note-reading helper without importing conftest."""
    return error_notes
