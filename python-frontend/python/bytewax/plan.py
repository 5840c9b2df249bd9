"""Print the JSON plan of a dataflow: ``python -m bytewax.plan dataflow:flow``.

The plan is what the engine runs (format: docs/plan.md, schema: ``plan.schema.json`` in
this package). Python steps appear as references, never as code.
"""

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

from bytewax._compile import compile_flow


def plan_of(flow: Any) -> Dict[str, Any]:
    """The plan `flow` compiles to, as a JSON-ready dict."""
    return compile_flow(flow)[0]


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m bytewax.plan``."""
    parser = argparse.ArgumentParser(
        prog="python -m bytewax.plan",
        description="Print the JSON plan a dataflow compiles to, after the engine has validated it.",
    )
    parser.add_argument("import_str", help="the dataflow, as for `python -m bytewax.run` (e.g. dataflow:flow)")
    parser.add_argument("--compact", action="store_true", help="one line instead of indented JSON")
    args = parser.parse_args(argv)
    from bytewax import _engine
    from bytewax.run import _locate_dataflow, _prepare_import

    module_name, _, attr = _prepare_import(args.import_str).partition(":")
    flow = _locate_dataflow(module_name, attr)
    canonical = json.loads(_engine.validate_plan(json.dumps(plan_of(flow))))
    json.dump(canonical, sys.stdout, indent=None if args.compact else 2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
