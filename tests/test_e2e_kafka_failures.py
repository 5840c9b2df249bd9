"""KafkaInput and KafkaOutput when Kafka misbehaves, against real brokers on 127.0.0.1:
a message batch that cannot be decoded, brokers that are not there at start, and a broker
that goes away while a run writes to it (tests/kafka_broker.py starts and restarts them).

Every wait is bounded: a run that hangs fails its test with the subprocess timeout.
"""

import json
import re
import socket
import subprocess
import textwrap
import threading
import time
from collections import Counter

import pytest

from conftest import _clean_env, interpreter_under_test

confluent_kafka = pytest.importorskip("confluent_kafka")
import confluent_kafka.admin  # noqa: E402,F401  (loads the submodule)
from kafka_broker import start_or_fail  # noqa: E402
from kafka_raw import produce_batch, record_batch  # noqa: E402
from test_e2e_wasm_kafka import BINARY, run_cli  # noqa: E402
from test_kafka_broker import OFFSET_BEGINNING, WAIT_S, create_topic, produce, read_partition  # noqa: E402

pytestmark = pytest.mark.ours_only

RUN_TIMEOUT_S = 120


def run_flow(tmp_path, source, *args):
    (tmp_path / "kflow.py").write_text(textwrap.dedent(source))
    return subprocess.run([interpreter_under_test(), "-m", "bytewax.run", "kflow:flow", *args], cwd=tmp_path,
                          env=_clean_env([tmp_path]), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def topic_with_a_corrupt_batch(bootstrap):
    """A 3-partition topic: 6 good messages, then in partition 1 (at offset 2, after its two
    good ones) a gzip batch whose payload is not gzip."""
    topic = create_topic(bootstrap, 3, "corrupt")
    produce(bootstrap, topic, [(i % 3, f"k{i}".encode(), f"v{i}".encode()) for i in range(6)])
    assert produce_batch(bootstrap, topic, 1, record_batch(b"this is not gzip data" * 3, 2)) == 0
    # The broker kept it as it came: our own client cannot decode it either.
    with pytest.raises(AssertionError, match="_BAD_COMPRESSION"):
        read_partition(bootstrap, topic, 1, OFFSET_BEGINNING)
    return topic


def assert_names_the_corrupt_message(stderr, topic):
    assert f'Kafka topic "{topic}" partition 1 offset 2:' in stderr, stderr
    assert "step 'inp'" in stderr and "the stored message batch there is corrupt" in stderr, stderr
    assert "panicked" not in stderr


def test_an_undecodable_batch_stops_the_python_run_naming_topic_partition_offset(kafka_bootstrap, tmp_path):
    topic = topic_with_a_corrupt_batch(kafka_bootstrap)
    result = run_flow(tmp_path, f"""
        from bytewax.dataflow import Dataflow
        from bytewax.connectors.stdio import StdOutput
        from bytewax.connectors.kafka import KafkaInput
        flow = Dataflow()
        flow.input("inp", KafkaInput([{kafka_bootstrap!r}], [{topic!r}], tail=False))
        flow.output("out", StdOutput())
    """)
    assert result.returncode != 0
    assert "RuntimeError" in result.stderr
    assert_names_the_corrupt_message(result.stderr, topic)


@pytest.mark.skipif(not BINARY.is_file(), reason=f"{BINARY} is missing")
def test_an_undecodable_batch_stops_the_plan_run_naming_topic_partition_offset(kafka_bootstrap, tmp_path):
    topic = topic_with_a_corrupt_batch(kafka_bootstrap)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"plan_version": 1, "steps": [
        {"op": "input", "step_id": "inp", "source": {"kind": "kafka", "brokers": [kafka_bootstrap], "topics": [topic],
                                                      "tail": False}},
        {"op": "output", "step_id": "out", "sink": {"kind": "stdout"}}]}))
    result = run_cli("run", plan, cwd=tmp_path)
    assert result.returncode == 1
    assert_names_the_corrupt_message(result.stderr, topic)


@pytest.mark.parametrize("side", ["input", "output"])
def test_brokers_down_at_start_is_an_error_naming_them_and_the_step(tmp_path, side):
    """Nothing listens on the port: the run exits non-zero (within RUN_TIMEOUT_S; the
    connector gives up after 10 s) with the brokers and the step in the message."""
    brokers = f"127.0.0.1:{free_port()}"
    if side == "input":
        io = f"""flow.input("inp", KafkaInput([{brokers!r}], ["t"], tail=False))
        flow.output("out", StdOutput())"""
    else:
        io = f"""flow.input("inp", TestingInput([(b"k", b"v")]))
        flow.output("out", KafkaOutput([{brokers!r}], "t"))"""
    result = run_flow(tmp_path, f"""
        from bytewax.dataflow import Dataflow
        from bytewax.testing import TestingInput
        from bytewax.connectors.stdio import StdOutput
        from bytewax.connectors.kafka import KafkaInput, KafkaOutput
        flow = Dataflow()
        {io}
    """)
    assert result.returncode != 0
    step = "inp" if side == "input" else "out"
    assert f"step '{step}'" in result.stderr and f"no answer from Kafka brokers {brokers}" in result.stderr, result.stderr
    assert "panicked" not in result.stderr


# --- a broker that goes away while KafkaOutput writes ---------------------------------------------

PHASE_SIZE = 100

# Emits phase k's numbers once the file `go-k` exists, then writes `sent-k`; ends after the
# last phase. The test drives the broker between phases.
PHASED_FLOW = """
    import os, time
    from bytewax.dataflow import Dataflow
    from bytewax.inputs import DynamicInput, StatelessSource
    from bytewax.connectors.kafka import KafkaOutput

    class Phases(StatelessSource):
        def __init__(self):
            self.phase = 0

        def next(self):
            if self.phase == {phases}:
                raise StopIteration()
            if not os.path.exists(f"go-{{self.phase}}"):
                time.sleep(0.02)
                return None
            batch = [(self.phase, i) for i in range({size})]
            open(f"sent-{{self.phase}}", "w").close()
            self.phase += 1
            return batch

    class PhasedInput(DynamicInput):
        def build(self, worker_index, worker_count):
            return Phases()

    flow = Dataflow()
    flow.input("inp", PhasedInput())
    flow.flat_map(lambda batch: batch)
    flow.map(lambda pi: (f"k{{pi[1] % 5}}".encode(), f"{{pi[0]}}-{{pi[1]}}".encode()))
    flow.output("out", KafkaOutput([{bootstrap!r}], {topic!r}, add_config={config!r}))
"""


def phase_values(phase):
    return [f"{phase}-{i}".encode() for i in range(PHASE_SIZE)]


def read_topic_values(bootstrap, topic):
    """Every value in every partition of the topic (however many it has now)."""
    probe = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        partitions = probe.list_topics(topic, timeout=WAIT_S).topics[topic].partitions
    finally:
        probe.close()
    values = []
    for partition in partitions:
        got, _ = read_partition(bootstrap, topic, partition, OFFSET_BEGINNING)
        values += [v for _, _, v in got]
    return values


class PhasedRun:
    """The phased flow in a subprocess, its stderr collected as it comes."""

    def __init__(self, tmp_path, bootstrap, topic, phases, config):
        (tmp_path / "db").mkdir()
        (tmp_path / "kflow.py").write_text(textwrap.dedent(PHASED_FLOW.format(
            phases=phases, size=PHASE_SIZE, bootstrap=bootstrap, topic=topic, config=config)))
        self.proc = subprocess.Popen(
            # With recovery, every epoch waits for its messages to be acknowledged.
            [interpreter_under_test(), "-m", "bytewax.run", "kflow:flow", "--epoch-interval", "0",
             "--sqlite-directory", "db"], cwd=tmp_path,
            env=_clean_env([tmp_path]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True)
        self.reader.start()

    def stderr(self):
        return "".join(self.lines)

    def wait_for(self, predicate, what, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                self.reader.join(WAIT_S)
                raise AssertionError(f"the run ended while waiting for {what}: {self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s; stderr so far: {self.stderr()}")
            time.sleep(0.05)

    def finish(self):
        """Wait for the end (bounded); return the exit status and all of stderr."""
        self.proc.wait(timeout=RUN_TIMEOUT_S)
        self.reader.join(WAIT_S)
        return self.proc.returncode, self.stderr()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT_S)


def create_topic_named(bootstrap, topic):
    """Create `topic` with one partition, unless the producer's metadata request already
    auto-created it."""
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": bootstrap})
    future = admin.create_topics([confluent_kafka.admin.NewTopic(topic, 1, 1)])[topic]
    try:
        future.result(WAIT_S)
    except confluent_kafka.KafkaException as exc:
        if exc.args[0].code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def test_output_retries_across_a_broker_restart_and_delivers_every_message(tmp_path):
    """Phase 0 is written and acknowledged; the broker stops; phase 1 is produced while it
    is down; the broker restarts on the same port (empty: its storage is in memory, so
    phase 0 is gone with it); phase 2 follows. The run ends cleanly and the new broker
    holds every message of phases 1 and 2 exactly once."""
    broker = start_or_fail(tmp_path / "broker")
    run = None
    try:
        topic = create_topic(broker.bootstrap, 1, "restart-out")
        run = PhasedRun(tmp_path, broker.bootstrap, topic, 3, {})
        (tmp_path / "go-0").touch()
        run.wait_for(lambda: len(read_topic_values(broker.bootstrap, topic)) == PHASE_SIZE, "phase 0 in the topic")

        port = broker.port
        broker.stop()
        (tmp_path / "go-1").touch()
        # The epoch's flush says every 10 s what it still waits for: proof that phase 1
        # met the dead broker, rather than slipping through after the restart.
        run.wait_for(lambda: "still waiting for brokers" in run.stderr(), "a flush waiting on the stopped broker")
        broker.start(port=port)
        create_topic_named(broker.bootstrap, topic)
        (tmp_path / "go-2").touch()

        returncode, stderr = run.finish()
        assert returncode == 0, stderr
        got = read_topic_values(broker.bootstrap, topic)
        assert Counter(got) == Counter(phase_values(1) + phase_values(2))
    finally:
        if run is not None:
            run.kill()
        broker.stop()


def test_output_fails_the_run_when_messages_cannot_be_delivered(tmp_path):
    """The broker stops for good after phase 0: phase 1's messages expire after
    message.timeout.ms and the run fails saying so, rather than ending as if they were
    written."""
    broker = start_or_fail(tmp_path / "broker")
    run = None
    try:
        topic = create_topic(broker.bootstrap, 1, "lost-out")
        run = PhasedRun(tmp_path, broker.bootstrap, topic, 2, {"message.timeout.ms": "3000"})
        (tmp_path / "go-0").touch()
        run.wait_for(lambda: len(read_topic_values(broker.bootstrap, topic)) == PHASE_SIZE, "phase 0 in the topic")
        broker.stop()
        (tmp_path / "go-1").touch()
        returncode, stderr = run.finish()
        assert returncode != 0
        # Usually all of phase 1 in one report; never a success.
        undelivered = re.search(rf'(\d+) message\(s\) could not be delivered to topic "{topic}"', stderr)
        assert undelivered and 1 <= int(undelivered.group(1)) <= PHASE_SIZE, stderr
        assert "step 'out'" in stderr and "panicked" not in stderr, stderr
    finally:
        if run is not None:
            run.kill()
        broker.stop()
