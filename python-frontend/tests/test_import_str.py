"""Finding the dataflow an import string names (`_prepare_import`, `_locate_dataflow`).

Runs against Bytewax 0.16.2 too: the error types and texts are the same there.
"""

import sys
import textwrap

import pytest

from bytewax.dataflow import Dataflow
from bytewax.run import _locate_dataflow, _prepare_import

FLOWS_SOURCE = textwrap.dedent(
    """
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingInput

    def make_flow(items, label="made"):
        flow = Dataflow()
        flow.input(label, TestingInput(items))
        return flow

    def no_args():
        return make_flow([1], label="no_args")

    def fails_inside(n):
        return len(n)

    def not_a_flow():
        return 42

    class FlowClass:
        pass

    lambda_factory = lambda: make_flow([], label="lambda")
    flow = make_flow([1, 2], label="flow")
    other = make_flow([3], label="other")
    number = 7
    """
)


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch, tmp_path):
    """Run in a scratch cwd; undo `sys.path` changes and forget modules imported here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        # Only the test's own modules: a library first imported here stays.
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def write(path, source=FLOWS_SOURCE):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def locate(import_str):
    """Resolve `import_str` the way `python -m bytewax.run` does."""
    module_name, _, dataflow_name = _prepare_import(import_str).partition(":")
    return _locate_dataflow(module_name, dataflow_name)


def first_step_id(flow):
    assert isinstance(flow, Dataflow)
    return flow.steps[0]["step_id"]


# --- _prepare_import ---


def test_module_name_defaults_to_flow_attribute(tmp_path):
    assert _prepare_import("wordcount") == "wordcount:flow"
    assert _prepare_import("wordcount:") == "wordcount:flow"
    assert sys.path[0] == str(tmp_path)


def test_dotted_module_name_is_kept():
    assert _prepare_import("pkg.mod:make") == "pkg.mod:make"


def test_file_path_loses_py_and_its_directory_goes_on_sys_path(tmp_path):
    assert _prepare_import("examples/basic.py:flow") == "basic:flow"
    assert sys.path[0] == str(tmp_path / "examples")


def test_package_directories_join_the_module_name(tmp_path):
    write(tmp_path / "app" / "__init__.py", "")
    write(tmp_path / "app" / "flows" / "__init__.py", "")
    assert _prepare_import("app/flows/wc.py") == "app.flows.wc:flow"
    assert sys.path[0] == str(tmp_path)


def test_package_init_file_names_the_package(tmp_path):
    write(tmp_path / "app" / "__init__.py", "")
    assert _prepare_import("app/__init__.py:flow") == "app:flow"


def test_absolute_path(tmp_path):
    target = tmp_path / "deep" / "x.py"
    assert _prepare_import(f"{target}:get()") == "x:get()"
    assert sys.path[0] == str(tmp_path / "deep")


def test_only_the_first_colon_splits():
    assert _prepare_import("mod:make('a:b')") == "mod:make('a:b')"


# --- each form finds its dataflow ---


def test_module_variable(tmp_path):
    write(tmp_path / "flows.py")
    assert first_step_id(locate("flows")) == "flow"
    assert first_step_id(locate("flows:other")) == "other"


def test_file_path_in_package(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "flows.py")
    assert first_step_id(locate("pkg/flows.py:other")) == "other"
    assert "pkg.flows" in sys.modules


def test_file_path_outside_cwd(tmp_path):
    write(tmp_path / "elsewhere" / "standalone_flows.py")
    assert first_step_id(locate(f"{tmp_path}/elsewhere/standalone_flows.py")) == "flow"


def test_factory_with_literal_arguments(tmp_path):
    write(tmp_path / "flows.py")
    flow = locate("flows:make_flow([1, 2, 3], label='lit')")
    assert first_step_id(flow) == "lit"


def test_factory_with_positional_arguments_only(tmp_path):
    write(tmp_path / "flows.py")
    assert first_step_id(locate("flows:make_flow((), 'pos')")) == "pos"


def test_bare_function_name_is_called_without_arguments(tmp_path):
    write(tmp_path / "flows.py")
    assert first_step_id(locate("flows:no_args")) == "no_args"
    assert first_step_id(locate("flows:no_args()")) == "no_args"


def test_lambda_factory_is_called(tmp_path):
    write(tmp_path / "flows.py")
    assert first_step_id(locate("flows:lambda_factory()")) == "lambda"


def test_spaces_around_the_attribute_are_allowed(tmp_path):
    write(tmp_path / "flows.py")
    assert first_step_id(locate("flows: other ")) == "other"


# --- each error ---


def test_missing_module_is_import_error():
    with pytest.raises(ImportError) as info:
        locate("no_such_module_here")
    assert str(info.value) == "Could not import 'no_such_module_here'."


def test_missing_submodule_is_import_error(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    with pytest.raises(ImportError, match=r"^Could not import 'pkg\.absent'\.$"):
        locate("pkg/absent.py")


def test_import_error_inside_module_shows_its_traceback(tmp_path):
    write(tmp_path / "broken.py", "import no_such_dependency_xyz\n")
    with pytest.raises(ImportError) as info:
        locate("broken")
    message = str(info.value)
    assert message.startswith("While importing 'broken', an ImportError was raised:\n\n")
    assert "Traceback (most recent call last):" in message
    assert "ModuleNotFoundError: No module named 'no_such_dependency_xyz'" in message


def test_other_error_inside_module_propagates(tmp_path):
    write(tmp_path / "raiser.py", "raise ValueError('boom while importing')\n")
    with pytest.raises(ValueError, match="boom while importing"):
        locate("raiser")


def test_unparsable_attribute_is_syntax_error(tmp_path):
    write(tmp_path / "flows.py")
    with pytest.raises(SyntaxError) as info:
        locate("flows:make_flow(1")
    assert info.value.msg == "Failed to parse 'make_flow(1' as an attribute name or function call."


def test_expression_that_is_no_name_or_call_is_value_error(tmp_path):
    write(tmp_path / "flows.py")
    with pytest.raises(ValueError) as info:
        locate("flows:flow.steps")
    assert str(info.value) == "Failed to parse 'flow.steps' as an attribute name or function call."


@pytest.mark.parametrize("call", ["mod.make_flow()", "make_flow(1)(2)"])
def test_non_simple_function_reference_is_type_error(tmp_path, call):
    write(tmp_path / "flows.py")
    with pytest.raises(TypeError) as info:
        locate(f"flows:{call}")
    assert str(info.value) == f"Function reference must be a simple name: {call!r}."


@pytest.mark.parametrize("call", ["make_flow(items)", "make_flow(*[1])", "make_flow([], label=f'x')"])
def test_non_literal_arguments_are_value_error(tmp_path, call):
    write(tmp_path / "flows.py")
    with pytest.raises(ValueError) as info:
        locate(f"flows:{call}")
    assert str(info.value) == f"Failed to parse arguments as literal values: {call!r}."


def test_missing_attribute_is_attribute_error(tmp_path):
    write(tmp_path / "flows.py")
    with pytest.raises(AttributeError) as info:
        locate("flows:absent")
    assert str(info.value) == "Failed to find attribute 'absent' in 'flows'."
    assert isinstance(info.value.__cause__, AttributeError)


@pytest.mark.parametrize("call", ["make_flow()", "make_flow([], nope=1)", "no_args(1)", "make_flow"])
def test_wrong_factory_arguments_are_type_error(tmp_path, call):
    write(tmp_path / "flows.py")
    with pytest.raises(TypeError) as info:
        locate(f"flows:{call}")
    assert str(info.value) == (
        f"The factory {call!r} in module 'flows' could not be called with the specified arguments."
    )
    assert isinstance(info.value.__cause__, TypeError)


def test_type_error_inside_factory_propagates_unchanged(tmp_path):
    write(tmp_path / "flows.py")
    with pytest.raises(TypeError, match=r"^object of type 'int' has no len\(\)$"):
        locate("flows:fails_inside(5)")


@pytest.mark.parametrize("attr", ["number", "not_a_flow", "not_a_flow()", "FlowClass", "FlowClass()"])
def test_non_dataflow_result_is_runtime_error(tmp_path, attr):
    write(tmp_path / "flows.py")
    with pytest.raises(RuntimeError) as info:
        locate(f"flows:{attr}")
    assert str(info.value) == f"A valid Bytewax dataflow was not obtained from 'flows:{attr}'."
