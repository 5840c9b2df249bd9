"""The seed's wordcount with two steps in WebAssembly and two in Python.

Build the component first (`scripts/build-guests`), then from the repository root:

    python -m bytewax.run examples/wordcount-wasm/mixed.py:flow
"""

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bytewax.connectors.files import FileInput
from bytewax.connectors.stdio import StdOutput
from bytewax.dataflow import Dataflow
from bytewax.wasm import step
from bytewax.window import SystemClockConfig, TumblingWindow

STEPS = Path(__file__).resolve().parent / "wordcount_steps.wasm"

def lower(line):
    return line.lower()

def initial_count(word):
    return word, 1

flow = Dataflow()
flow.input("inp", FileInput("examples/sample_data/wordcount.txt"))
flow.map(lower)
flow.flat_map(step(STEPS, "tokenize"))
flow.map(initial_count)
flow.reduce_window(
    "sum",
    SystemClockConfig(),
    TumblingWindow(length=timedelta(seconds=5), align_to=datetime(2023, 1, 1, tzinfo=timezone.utc)),
    step(STEPS, "add"),
)
flow.output("out", StdOutput())

