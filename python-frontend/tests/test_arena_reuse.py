"""The engine keeps CPython's freed object arenas mapped for reuse.

A flow builds and drops a batch of Python values over and over; unmapping the arenas
each time made the kernel zero fresh pages for every batch. Counted here in minor page
faults (not time), in fresh interpreters with and without the engine imported.
"""

import subprocess
import sys

# Builds and drops ~40 MB of small objects once to warm up, then five more times, and
# prints the page faults of those five rounds.
_CHURN = """
import gc, resource, sys
if sys.argv[1] == "engine":
    import bytewax._engine
def churn():
    items = [(f"w{i}", i) for i in range(300_000)]
    del items
    gc.collect()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
before = faults()
for _ in range(5):
    churn()
print(faults() - before)
"""


def _faults_after_warm_up(mode):
    done = subprocess.run(
        [sys.executable, "-c", _CHURN, mode], capture_output=True, text=True, check=True, timeout=120
    )
    return int(done.stdout)


def test_rebuilt_batches_reuse_arenas_instead_of_faulting_in_fresh_pages():
    plain = _faults_after_warm_up("plain")
    with_engine = _faults_after_warm_up("engine")
    # Without the engine, each round maps its arenas anew: ~10,000 pages per round.
    assert plain > 5 * 5_000, f"the churn itself faulted only {plain} pages"
    assert with_engine < plain / 10, f"{with_engine} faults with the engine, {plain} without"
