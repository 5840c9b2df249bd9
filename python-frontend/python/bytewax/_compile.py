"""Compiling a `Dataflow` into a version-1 JSON plan (see docs/plan.md).

The plan holds references, never code: each Python object a step needs is registered in a
side table under a string key, and the engine gets both.
"""

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Tuple

from bytewax import _engine
from bytewax.connectors.files import DirInput, FileInput
from bytewax.connectors.kafka import KafkaInput, KafkaOutput
from bytewax.connectors.stdio import StdOutput
from bytewax.inputs import DynamicInput, PartitionedInput
from bytewax.outputs import DynamicOutput, PartitionedOutput
from bytewax.wasm import WasmStep
from bytewax.window import (
    EventClockConfig,
    SessionWindow,
    SlidingWindow,
    SystemClockConfig,
    TumblingWindow,
)

# The engine decides which plan version it reads.
PLAN_VERSION = _engine.PLAN_VERSION

# Dataflow step type -> (plan op, function fields in order).
_FUNCTION_STEPS = {
    "Map": ("map", ("mapper",)),
    "FlatMap": ("flat_map", ("mapper",)),
    "Filter": ("filter", ("predicate",)),
    "FilterMap": ("filter_map", ("mapper",)),
    "Inspect": ("inspect", ("inspector",)),
    "InspectEpoch": ("inspect_epoch", ("inspector",)),
    "Reduce": ("reduce", ("reducer", "is_complete")),
    "StatefulMap": ("stateful_map", ("builder", "mapper")),
    "ReduceWindow": ("reduce_window", ("reducer",)),
    "FoldWindow": ("fold_window", ("builder", "folder")),
    "CollectWindow": ("collect_window", ()),
}


class _Registry:
    """The side table of Python objects a plan refers to."""

    def __init__(self) -> None:
        self.objects: Dict[str, Any] = {}

    def function(self, ref: str, func: Callable) -> Dict[str, Any]:
        if isinstance(func, WasmStep):
            return func._plan_ref()
        self.objects[ref] = func
        name = getattr(func, "__name__", None) or type(func).__name__
        return {"kind": "python", "ref": ref, "name": name}

    def obj(self, ref: str, obj: Any) -> str:
        self.objects[ref] = obj
        return ref


def _millis(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


def _instant(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def _clock(step_id: str, config: Any, reg: _Registry) -> Dict[str, Any]:
    if isinstance(config, SystemClockConfig):
        return {"type": "system"}
    if isinstance(config, EventClockConfig):
        return {
            "type": "event",
            "dt_getter": reg.function(f"{step_id}.dt_getter", config.dt_getter),
            "wait_for_system_duration_ms": _millis(config.wait_for_system_duration),
        }
    raise TypeError(f"step {step_id!r}: unknown clock config {type(config).__name__}")


def _window(step_id: str, config: Any) -> Dict[str, Any]:
    if isinstance(config, TumblingWindow):
        return {"type": "tumbling", "length_ms": _millis(config.length), "align_to": _instant(config.align_to)}
    if isinstance(config, SlidingWindow):
        return {
            "type": "sliding",
            "length_ms": _millis(config.length),
            "offset_ms": _millis(config.offset),
            "align_to": _instant(config.align_to),
        }
    if isinstance(config, SessionWindow):
        return {"type": "session", "gap_ms": _millis(config.gap)}
    raise TypeError(f"step {step_id!r}: unknown window config {type(config).__name__}")


def _source(step_id: str, inp: Any, reg: _Registry) -> Dict[str, Any]:
    # Only the exact class runs natively: a subclass may override how lines are read.
    if type(inp) is FileInput:
        return {"kind": "file", "path": str(inp.path)}
    if type(inp) is KafkaInput:
        return inp._plan()
    if type(inp) is DirInput and not any(c in inp.glob_pat for c in "/[]") and "**" not in inp.glob_pat:
        # The host matches file names with `*` and `?`; richer patterns stay with Python's glob.
        return {"kind": "dir", "path": str(inp.dir), "glob": inp.glob_pat}
    if isinstance(inp, (PartitionedInput, DynamicInput)):
        return {
            "kind": "python",
            "ref": reg.obj(f"{step_id}.input", inp),
            "partitioned": isinstance(inp, PartitionedInput),
            "class": type(inp).__name__,
        }
    raise TypeError(
        f"step {step_id!r}: input must be a `PartitionedInput` or `DynamicInput`, got {type(inp).__name__}"
    )


def _sink(step_id: str, out: Any, reg: _Registry) -> Dict[str, Any]:
    if type(out) is StdOutput:
        return {"kind": "stdout"}
    if type(out) is KafkaOutput:
        return out._plan()
    if isinstance(out, (PartitionedOutput, DynamicOutput)):
        return {
            "kind": "python",
            "ref": reg.obj(f"{step_id}.output", out),
            "partitioned": isinstance(out, PartitionedOutput),
            "class": type(out).__name__,
        }
    raise TypeError(
        f"step {step_id!r}: output must be a `PartitionedOutput` or `DynamicOutput`, got {type(out).__name__}"
    )


def _generated_id(op: str, index: int, taken: set) -> str:
    # Stateless steps have no id in 0.16; give each one so errors can name it.
    candidate = f"{op}#{index}"
    while candidate in taken:
        candidate += "'"
    return candidate


def compile_flow(flow: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Return ``(plan, callables)`` for `flow`; raises ``ValueError`` like 0.16 for a flow
    without input or output."""
    steps: List[Dict[str, Any]] = flow.steps
    kinds = [s["type"] for s in steps]
    if "Input" not in kinds:
        raise ValueError("Dataflow needs to contain at least one input")
    if "Output" not in kinds:
        raise ValueError("Dataflow needs to contain at least one output")
    taken = {s["step_id"] for s in steps if "step_id" in s}
    reg = _Registry()
    plan_steps = []
    for index, step in enumerate(steps):
        kind = step["type"]
        if kind == "Input":
            sid = step["step_id"]
            plan_steps.append({"op": "input", "step_id": sid, "source": _source(sid, step["input"], reg)})
            continue
        if kind == "Output":
            sid = step["step_id"]
            plan_steps.append({"op": "output", "step_id": sid, "sink": _sink(sid, step["output"], reg)})
            continue
        op, fields = _FUNCTION_STEPS[kind]
        sid = step.get("step_id") or _generated_id(op, index, taken)
        taken.add(sid)
        entry: Dict[str, Any] = {"op": op, "step_id": sid}
        if "clock_config" in step:
            entry["clock"] = _clock(sid, step["clock_config"], reg)
            entry["window"] = _window(sid, step["window_config"])
        for field in fields:
            entry[field] = reg.function(f"{sid}.{field}", step[field])
        plan_steps.append(entry)
    return {"plan_version": PLAN_VERSION, "steps": plan_steps}, reg.objects
