"""`Dataflow.input` / `Dataflow.output` with user subclasses of the connector ABCs."""

from datetime import timedelta

from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicInput, PartitionedInput, StatefulSource, StatelessSource
from bytewax.outputs import DynamicOutput, PartitionedOutput, StatefulSink, StatelessSink
from bytewax.testing import TestingInput, TestingOutput, cluster_main, run_main


class _ListSource(StatefulSource):
    """Emits its items, with an optional "nothing now" (None) between them."""

    def __init__(self, part, items, resume_state, log, gaps=False):
        self._part = part
        self._items = items
        self._pos = 0 if resume_state is None else resume_state
        self._log = log
        self._gap_next = False
        self._gaps = gaps

    def next(self):
        if self._gap_next:
            self._gap_next = False
            return None
        if self._pos >= len(self._items):
            raise StopIteration()
        item = self._items[self._pos]
        self._pos += 1
        self._gap_next = self._gaps
        return item

    def snapshot(self):
        self._log.append(("snapshot", self._part, self._pos))
        return self._pos

    def close(self):
        self._log.append(("close", self._part))


class _PartsInput(PartitionedInput):
    """Partitions named in `parts`; each emits "<part>-<i>" for i < 3."""

    def __init__(self, parts, log, skip=(), gaps=False):
        self._parts = parts
        self._log = log
        self._skip = skip
        self._gaps = gaps

    def list_parts(self):
        return set(self._parts)

    def build_part(self, for_part, resume_state):
        self._log.append(("build_part", for_part, resume_state))
        if for_part in self._skip:
            return None
        items = [f"{for_part}-{i}" for i in range(3)]
        return _ListSource(for_part, items, resume_state, self._log, self._gaps)


def _collect(flow_input, run=run_main):
    flow = Dataflow()
    flow.input("inp", flow_input)
    out = []
    flow.output("out", TestingOutput(out))
    run(flow)
    return out


def test_partitioned_input_emits_items_of_every_partition_in_order():
    log = []
    out = _collect(_PartsInput(["p1", "p2"], log))
    assert sorted(out) == ["p1-0", "p1-1", "p1-2", "p2-0", "p2-1", "p2-2"]
    assert [x for x in out if x.startswith("p1")] == ["p1-0", "p1-1", "p1-2"]


def test_partitioned_input_builds_each_partition_once_without_resume_state():
    log = []
    _collect(_PartsInput(["p1", "p2"], log))
    builds = sorted(e for e in log if e[0] == "build_part")
    assert builds == [("build_part", "p1", None), ("build_part", "p2", None)]


def test_partitioned_input_snapshots_final_position_then_closes_at_eof():
    log = []
    _collect(_PartsInput(["p1", "p2"], log))
    for part in ("p1", "p2"):
        events = [e for e in log if e[1] == part and e[0] != "build_part"]
        assert events[-1] == ("close", part)
        assert ("snapshot", part, 3) in events[:-1]
        assert events.count(("close", part)) == 1


def test_partition_whose_build_part_returns_none_is_skipped():
    log = []
    out = _collect(_PartsInput(["p1", "skipped"], log, skip={"skipped"}))
    assert out == ["p1-0", "p1-1", "p1-2"]


def test_none_from_next_means_nothing_now_not_end():
    log = []
    out = _collect(_PartsInput(["p"], log, gaps=True))
    assert out == ["p-0", "p-1", "p-2"]


def test_each_partition_is_built_on_exactly_one_of_two_workers():
    log = []
    parts = [f"p{i}" for i in range(6)]
    out = _collect(_PartsInput(parts, log),
                   run=lambda flow: cluster_main(flow, [], 0, worker_count_per_proc=2))
    assert sorted(e[1] for e in log if e[0] == "build_part") == parts
    assert sorted(out) == sorted(f"{p}-{i}" for p in parts for i in range(3))


class _CountdownSource(StatelessSource):
    def __init__(self, worker_index, log):
        self._left = [None, f"w{worker_index}-a", None, f"w{worker_index}-b"]
        self._worker_index = worker_index
        self._log = log

    def next(self):
        if not self._left:
            raise StopIteration()
        return self._left.pop(0)

    def close(self):
        self._log.append(("close", self._worker_index))


class _PerWorkerInput(DynamicInput):
    def __init__(self, log):
        self._log = log

    def build(self, worker_index, worker_count):
        self._log.append(("build", worker_index, worker_count))
        return _CountdownSource(worker_index, self._log)


def test_dynamic_input_builds_one_source_for_the_single_worker():
    log = []
    out = _collect(_PerWorkerInput(log))
    assert out == ["w0-a", "w0-b"]
    assert log == [("build", 0, 1), ("close", 0)]


def test_dynamic_input_builds_one_source_per_worker():
    log = []
    out = _collect(_PerWorkerInput(log),
                   run=lambda flow: cluster_main(flow, [], 0, worker_count_per_proc=2))
    assert sorted(e for e in log if e[0] == "build") == [("build", 0, 2), ("build", 1, 2)]
    assert sorted(e for e in log if e[0] == "close") == [("close", 0), ("close", 1)]
    assert sorted(out) == ["w0-a", "w0-b", "w1-a", "w1-b"]


class _RecordingSink(StatefulSink):
    def __init__(self, part, resume_state, log):
        self._part = part
        self._written = 0 if resume_state is None else resume_state
        self._log = log

    def write(self, value):
        self._written += 1
        self._log.append(("write", self._part, value))

    def snapshot(self):
        self._log.append(("snapshot", self._part, self._written))
        return self._written

    def close(self):
        self._log.append(("close", self._part))


class _EvenOddOutput(PartitionedOutput):
    """Keys are decimal strings; even ones go to partition "even"."""

    def __init__(self, log):
        self._log = log

    def list_parts(self):
        return {"even", "odd"}

    def assign_part(self, item_key):
        self._log.append(("assign_part", item_key))
        return "even" if int(item_key) % 2 == 0 else "odd"

    def build_part(self, for_part, resume_state):
        self._log.append(("build_part", for_part, resume_state))
        return _RecordingSink(for_part, resume_state, self._log)


def _run_even_odd(items, log, epoch_interval=None):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.output("parts", _EvenOddOutput(log))
    downstream = []
    flow.output("out", TestingOutput(downstream))
    run_main(flow, epoch_interval=epoch_interval)
    return downstream


def test_partitioned_output_writes_only_values_to_assigned_partition():
    log = []
    _run_even_odd([("1", "a"), ("2", "b"), ("3", "c")], log)
    assert [e for e in log if e[0] == "write" and e[1] == "odd"] == [
        ("write", "odd", "a"), ("write", "odd", "c")]
    assert [e for e in log if e[0] == "write" and e[1] == "even"] == [("write", "even", "b")]
    assert sorted(e[1] for e in log if e[0] == "assign_part") == ["1", "2", "3"]


def test_partitioned_output_builds_each_part_once_and_closes_at_eof():
    log = []
    _run_even_odd([("1", "a"), ("2", "b")], log, epoch_interval=timedelta(0))
    builds = sorted(e for e in log if e[0] == "build_part")
    assert builds == [("build_part", "even", None), ("build_part", "odd", None)]
    for part in ("even", "odd"):
        events = [e for e in log if e[0] != "assign_part" and e[1] == part]
        assert events[-1] == ("close", part)
        assert events.count(("close", part)) == 1
        snapshots = [e for e in events if e[0] == "snapshot"]
        assert snapshots and snapshots[-1] == ("snapshot", part, 1)


def test_partitioned_output_passes_key_value_pairs_downstream():
    log = []
    downstream = _run_even_odd([("1", "a"), ("2", "b")], log)
    assert sorted(downstream) == [("1", "a"), ("2", "b")]


class _ListSink(StatelessSink):
    def __init__(self, worker_index, log):
        self._worker_index = worker_index
        self._log = log

    def write(self, item):
        self._log.append(("write", self._worker_index, item))

    def close(self):
        self._log.append(("close", self._worker_index))


class _PerWorkerOutput(DynamicOutput):
    def __init__(self, log):
        self._log = log

    def build(self, worker_index, worker_count):
        self._log.append(("build", worker_index, worker_count))
        return _ListSink(worker_index, self._log)


def test_dynamic_output_writes_items_unchanged_then_closes():
    log = []
    flow = Dataflow()
    flow.input("inp", TestingInput([1, ("k", 2), "s"]))
    flow.output("out", _PerWorkerOutput(log))
    run_main(flow)
    assert log == [("build", 0, 1), ("write", 0, 1), ("write", 0, ("k", 2)),
                   ("write", 0, "s"), ("close", 0)]


def test_items_after_a_stateful_step_stay_on_the_worker_owning_their_key():
    log = []
    flow = Dataflow()
    flow.input("inp", TestingInput([(k, 1) for k in "abcdefgh" * 3]))
    flow.stateful_map("count", lambda: 0, lambda n, v: (n + v, n + v))
    flow.output("out", _PerWorkerOutput(log))
    cluster_main(flow, [], 0, worker_count_per_proc=2)
    workers_of_key = {}
    for event, worker, item in (e for e in log if e[0] == "write"):
        workers_of_key.setdefault(item[0], set()).add(worker)
    assert sorted(workers_of_key) == list("abcdefgh")
    assert all(len(ws) == 1 for ws in workers_of_key.values())


def test_output_passes_items_on_so_two_outputs_chain():
    first, second = [], []
    flow = Dataflow()
    flow.input("inp", TestingInput([1, 2]))
    flow.output("first", TestingOutput(first))
    flow.map(lambda x: x + 10)
    flow.output("second", TestingOutput(second))
    run_main(flow)
    assert first == [1, 2]
    assert second == [11, 12]


def test_second_input_replaces_the_current_stream():
    early, late = [], []
    flow = Dataflow()
    flow.input("inp1", TestingInput([1, 2]))
    flow.map(lambda x: x * 100)
    flow.output("early", TestingOutput(early))
    flow.input("inp2", TestingInput(["a", "b"]))
    flow.output("late", TestingOutput(late))
    run_main(flow)
    assert early == [100, 200]
    assert late == ["a", "b"]
