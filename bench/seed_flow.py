"""The seed wordcount with its input file as a parameter, plus a bare loop.

The four step functions are the seed's (examples/wordcount/dataflow.py),
unchanged. ``get_flow(path)`` builds the seed's dataflow over ``path``; run it
with ``python -m bytewax.run "seed_flow:get_flow('data.txt')"``.

``python seed_flow.py PATH`` runs the same four functions in a plain Python
loop, with no dataflow at all, and prints ``(word, count)`` lines like the
flow's StdOutput does. It is the baseline the benchmark compares against.
"""

import re
import sys
from datetime import datetime, timedelta, timezone


def lower(line):
    return line.lower()


def tokenize(line):
    return re.findall(r'[^\s!,.?":;0-9]+', line)


def initial_count(word):
    return word, 1


def add(count1, count2):
    return count1 + count2


def get_flow(path):
    """The seed's dataflow, reading ``path`` instead of the sample text."""
    # Imported here so the bare loop runs without any bytewax installed.
    from bytewax.connectors.files import FileInput
    from bytewax.connectors.stdio import StdOutput
    from bytewax.dataflow import Dataflow
    from bytewax.window import SystemClockConfig, TumblingWindow

    clock_config = SystemClockConfig()
    window_config = TumblingWindow(
        length=timedelta(seconds=5),
        align_to=datetime(2023, 1, 1, tzinfo=timezone.utc),
    )

    flow = Dataflow()
    flow.input("inp", FileInput(path))
    flow.map(lower)
    flow.flat_map(tokenize)
    flow.map(initial_count)
    flow.reduce_window("sum", clock_config, window_config, add)
    flow.output("out", StdOutput())
    return flow


def bare_word_totals(path):
    """Count words in ``path`` with the seed's functions and a dict."""
    totals = {}
    with open(path) as lines:
        for line in lines:
            # FileInput stops at the first empty line; do the same.
            if not line.rstrip("\n"):
                break
            for word in tokenize(lower(line)):
                key, count = initial_count(word)
                if key in totals:
                    totals[key] = add(totals[key], count)
                else:
                    totals[key] = count
    return totals


def main(argv):
    """Run the bare loop over ``argv[1]`` and print one tuple a line."""
    if len(argv) != 2:
        print(f"usage: {argv[0]} TEXT_FILE", file=sys.stderr)
        return 2
    totals = bare_word_totals(argv[1])
    out = sys.stdout
    for item in totals.items():
        out.write(f"{item!r}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
