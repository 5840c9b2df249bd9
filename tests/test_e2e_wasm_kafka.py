"""`bytewax-wasm run` on plans whose source or sink is `{"kind": "kafka"}`, against the real
test broker on 127.0.0.1 (tests/kafka_broker.py). No Python runs in the dataflow: the
binary reads and writes Kafka itself. confluent-kafka is only the tests' own client, to
put messages in and read them back.
"""

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")
from test_kafka_broker import OFFSET_BEGINNING, create_topic, produce, read_partition  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("BYTEWAX_WASM_BIN") or REPO_ROOT / "target" / "release" / "bytewax-wasm")
TEST_GUESTS = REPO_ROOT / "runtime" / "tests" / "guests" / "test_guests.wasm"
TIMEOUT_S = 120

pytestmark = [
    pytest.mark.ours_only,
    pytest.mark.skipif(not BINARY.is_file(), reason=f"{BINARY} is missing; build it with "
                       "`cargo build --release -p bytewax-runtime --bin bytewax-wasm`"),
]


def run_cli(*args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYTEWAX_")}
    return subprocess.run([str(BINARY), *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)


def write_plan(tmp_path, steps):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"plan_version": 1, "steps": steps}, indent=1))
    return path


def kafka_input(bootstrap, topics, step_id="inp"):
    source = {"kind": "kafka", "brokers": [bootstrap], "topics": topics, "tail": False}
    return {"op": "input", "step_id": step_id, "source": source}


def read_topic(bootstrap, topic, partitions):
    """Every message of the topic as (key, value), read to the end of each partition."""
    got = []
    for partition in range(partitions):
        messages, _ = read_partition(bootstrap, topic, partition, OFFSET_BEGINNING)
        got += [(k, v) for _, k, v in messages]
    return got


def fill(bootstrap, topic, partitions, count):
    """Produce `count` keyed messages spread over the partitions; return them as (key, value)."""
    records = [(i % partitions, f"{topic}-k{i}".encode(), f"v{i}".encode()) for i in range(count)]
    produce(bootstrap, topic, records)
    return [(k, v) for _, k, v in records]


@pytest.mark.parametrize("workers", [1, 2])
def test_plan_copies_topics_through_wasm_and_builtin_steps_to_a_topic(kafka_bootstrap, tmp_path, workers):
    """kafka (two topics, tail=false) → WASM echo → builtin identity → kafka: the output
    topic holds every input message once, key and value unchanged; `validate` accepts it."""
    if not TEST_GUESTS.is_file():
        pytest.skip("guest components are missing; run scripts/build-guests")
    topics = [create_topic(kafka_bootstrap, 3, "plan-a"), create_topic(kafka_bootstrap, 2, "plan-b")]
    sent = fill(kafka_bootstrap, topics[0], 3, 60) + fill(kafka_bootstrap, topics[1], 2, 40)
    out_topic = create_topic(kafka_bootstrap, 2, "plan-out")
    plan = write_plan(tmp_path, [
        kafka_input(kafka_bootstrap, topics),
        {"op": "map", "step_id": "echo", "mapper": {"kind": "wasm", "component": str(TEST_GUESTS), "export": "echo"}},
        {"op": "map", "step_id": "same", "mapper": {"kind": "builtin", "name": "identity"}},
        {"op": "output", "step_id": "out", "sink": {"kind": "kafka", "brokers": [kafka_bootstrap], "topic": out_topic}},
    ])
    checked = run_cli("validate", plan, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    result = run_cli("run", plan, "-w", workers, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Counter(read_topic(kafka_bootstrap, out_topic, 2)) == Counter(sent)


def test_plan_writes_kafka_pairs_to_a_file_as_python_tuples(kafka_bootstrap, tmp_path):
    """kafka → builtin len → file, and the pairs themselves to a second file: exact lines
    (`str()` of a `(bytes, bytes)` tuple, then the pair's length 2)."""
    topic = create_topic(kafka_bootstrap, 3, "plan-file")
    sent = fill(kafka_bootstrap, topic, 3, 30)
    plan = write_plan(tmp_path, [
        kafka_input(kafka_bootstrap, [topic]),
        {"op": "output", "step_id": "pairs", "sink": {"kind": "file", "path": "pairs.txt"}},
        {"op": "map", "step_id": "size", "mapper": {"kind": "builtin", "name": "len"}},
        {"op": "output", "step_id": "sizes", "sink": {"kind": "file", "path": "sizes.txt"}},
    ])
    assert run_cli("validate", plan, cwd=tmp_path).returncode == 0
    result = run_cli("run", plan, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Counter((tmp_path / "pairs.txt").read_text().splitlines()) == Counter(repr(kv) for kv in sent)
    assert (tmp_path / "sizes.txt").read_text().splitlines() == ["2"] * len(sent)


def test_validate_rejects_a_kafka_source_without_topics(tmp_path):
    plan = write_plan(tmp_path, [
        {"op": "input", "step_id": "inp", "source": {"kind": "kafka", "brokers": ["127.0.0.1:9"]}},
        {"op": "output", "step_id": "out", "sink": {"kind": "stdout"}},
    ])
    result = run_cli("validate", plan, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "inp" in result.stderr and "topics" in result.stderr, result.stderr
