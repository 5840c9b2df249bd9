"""Finding the `Dataflow` an import string names (the forms `python -m bytewax.run` accepts).

- `module` or `module:name`: a variable of an importable module (`name` defaults to `flow`);
- `path/to/file.py[:name]`: a file; enclosing packages become part of the module name;
- `module:make_flow('data.txt', n=3)`: a function called with Python literal arguments.
"""

import os
import sys

# `ast`, `inspect` and `traceback` are imported where used: `_prepare_import` runs in a
# `-p` parent too, which never locates the flow.

_DEFAULT_ATTR = "flow"


def _prepare_import(import_str: str) -> str:
    """Turn an import string into `module:attr`, putting the module's root on `sys.path`.

    A file path loses its `.py`; every enclosing directory that is a package
    joins the dotted module name, and the first directory that is not a
    package goes to the front of `sys.path`.
    """
    path, _, attr = import_str.partition(":")
    path = os.path.realpath(path)
    stem, ext = os.path.splitext(path)
    if ext == ".py":
        path = stem
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)

    module_parts = []
    while True:
        path, part = os.path.split(path)
        module_parts.append(part)
        if not os.path.exists(os.path.join(path, "__init__.py")):
            break
    if sys.path[0] != path:
        sys.path.insert(0, path)
    return f"{'.'.join(reversed(module_parts))}:{attr or _DEFAULT_ATTR}"


def _raised_before_entering(function, error: BaseException) -> bool:
    """True when `error` came from calling `function` (bad arguments), not from its body."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is function.__code__:
            return False
        tb = tb.tb_next
    return True


def _parse_attr_expression(dataflow_name: str):
    """Split `name` or `name(literal, key=literal)` into (name, args, kwargs)."""
    import ast

    try:
        expr = ast.parse(dataflow_name.strip(), mode="eval").body
    except SyntaxError:
        raise SyntaxError(
            f"Failed to parse {dataflow_name!r} as an attribute name or function call."
        ) from None

    if isinstance(expr, ast.Name):
        return expr.id, [], {}
    if not isinstance(expr, ast.Call):
        raise ValueError(
            f"Failed to parse {dataflow_name!r} as an attribute name or function call."
        )
    if not isinstance(expr.func, ast.Name):
        raise TypeError(f"Function reference must be a simple name: {dataflow_name!r}.")
    try:
        args = [ast.literal_eval(arg) for arg in expr.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expr.keywords}
    except ValueError:
        # Only literals: the import string must not run arbitrary code.
        raise ValueError(
            f"Failed to parse arguments as literal values: {dataflow_name!r}."
        ) from None
    return expr.func.id, args, kwargs


def _import_module(module_name: str):
    import traceback

    try:
        __import__(module_name)
    except ImportError as error:
        # A traceback deeper than this frame means the module exists but an
        # import inside it failed; show that traceback to the user.
        if error.__traceback__ is not None and error.__traceback__.tb_next is not None:
            raise ImportError(
                f"While importing {module_name!r}, an ImportError was raised:"
                f"\n\n{traceback.format_exc()}"
            ) from None
        raise ImportError(f"Could not import {module_name!r}.") from None
    return sys.modules[module_name]


def _locate_dataflow(module_name: str, dataflow_name: str):
    """Import `module_name` and get the `Dataflow` that `dataflow_name` names or builds."""
    import inspect

    from bytewax.dataflow import Dataflow

    module = _import_module(module_name)
    name, args, kwargs = _parse_attr_expression(dataflow_name)
    try:
        attr = getattr(module, name)
    except AttributeError as error:
        raise AttributeError(f"Failed to find attribute {name!r} in {module.__name__!r}.") from error

    if inspect.isfunction(attr):
        try:
            flow = attr(*args, **kwargs)
        except TypeError as error:
            if not _raised_before_entering(attr, error):
                raise
            raise TypeError(
                f"The factory {dataflow_name!r} in module {module.__name__!r} "
                "could not be called with the specified arguments."
            ) from error
    else:
        flow = attr

    if isinstance(flow, Dataflow):
        return flow
    raise RuntimeError(
        f"A valid Bytewax dataflow was not obtained from '{module.__name__}:{dataflow_name}'."
    )
