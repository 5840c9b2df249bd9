"""``python -m bytewax.run`` as a command: import forms, errors, flags."""

import textwrap

import pytest

FACTORY_MODULE = '''
from bytewax.connectors.files import FileInput
from bytewax.connectors.stdio import StdOutput
from bytewax.dataflow import Dataflow


def get_flow(path, suffix="."):
    flow = Dataflow()
    flow.input("inp", FileInput(path))
    flow.map(lambda line: line.strip().upper() + suffix)
    flow.output("out", StdOutput())
    return flow
'''

FAILING_MODULE = '''
from bytewax.connectors.stdio import StdOutput
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingInput


class WordCountBroken(Exception):
    pass


def explode(state, value):
    raise WordCountBroken(f"exploded on item {value}")


flow = Dataflow()
flow.input("inp", TestingInput([("key", 7)]))
flow.stateful_map("explode_step", lambda: None, explode)
flow.output("out", StdOutput())
'''

RUN_FLAGS = [
    ("-p", "--processes"),
    ("-w", "--workers-per-process"),
    ("-i", "--process-id"),
    ("-a", "--addresses"),
    ("--sqlite-directory",),
    ("--epoch-interval",),
]


def write_module(directory, name, source):
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_factory_call_with_literal_arguments(run_bytewax, tmp_path):
    write_module(tmp_path, "factory_flow", FACTORY_MODULE)
    data = tmp_path / "lines.txt"
    data.write_text("alpha\nbeta\ngamma\n")

    result = run_bytewax(
        f"factory_flow:get_flow({str(data)!r}, suffix='!')", pythonpath=[tmp_path]
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ALPHA!", "BETA!", "GAMMA!"]


def test_missing_module_fails_and_names_it(run_bytewax):
    result = run_bytewax("no_such_module_for_e2e:flow")

    assert result.returncode != 0
    assert "no_such_module_for_e2e" in result.stderr
    assert result.stdout == ""


def test_user_exception_exits_nonzero_with_type_and_message(run_bytewax, tmp_path):
    write_module(tmp_path, "failing_flow", FAILING_MODULE)

    result = run_bytewax("failing_flow:flow", pythonpath=[tmp_path])

    assert result.returncode != 0
    assert "WordCountBroken" in result.stderr
    assert "exploded on item 7" in result.stderr


@pytest.mark.ours_only
def test_user_exception_names_the_step_without_a_panic(run_bytewax, tmp_path):
    write_module(tmp_path, "failing_flow", FAILING_MODULE)

    result = run_bytewax("failing_flow:flow", pythonpath=[tmp_path])

    assert result.returncode != 0
    assert "explode_step" in result.stderr
    # Real Bytewax prints a Rust panic backtrace here; we must not.
    assert "panicked" not in result.stderr


def test_help_exits_zero_and_lists_every_flag(run_bytewax):
    result = run_bytewax("--help")

    assert result.returncode == 0, result.stderr
    assert "import_str" in result.stdout
    for spellings in RUN_FLAGS:
        for flag in spellings:
            assert flag in result.stdout, flag


@pytest.mark.ours_only
def test_missing_sqlite_directory_exits_2_naming_it(run_bytewax, wordcount_dir, tmp_path):
    missing = tmp_path / "no-such-dir"

    result = run_bytewax("--sqlite-directory", str(missing), "dataflow:flow", pythonpath=[wordcount_dir])

    # Real Bytewax 0.16 fails inside SQLite with a traceback; we say what is wrong first.
    assert result.returncode == 2, result.stderr
    assert result.stdout == "", "the flow must not run"
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "--sqlite-directory" in message and f"'{missing}' does not exist" in message, message
    assert not missing.exists()
