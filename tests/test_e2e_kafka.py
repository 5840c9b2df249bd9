"""KafkaInput and KafkaOutput as users run them (`python -m bytewax.run` in a real
process) against a real Kafka-protocol broker on 127.0.0.1 (tests/kafka_broker.py).
confluent-kafka is only the tests' own client, to put messages in and read them back."""

import os
import random
import signal
import subprocess
import textwrap
import time
from collections import Counter

import pytest

from conftest import _clean_env, interpreter_under_test

confluent_kafka = pytest.importorskip("confluent_kafka")
from test_kafka_broker import WAIT_S, create_topic, produce  # noqa: E402

pytestmark = pytest.mark.ours_only

RUN_TIMEOUT_S = 120


def run_flow(tmp_path, source, *args, timeout=RUN_TIMEOUT_S):
    (tmp_path / "kflow.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [interpreter_under_test(), "-m", "bytewax.run", "kflow:flow", *args],
        cwd=tmp_path, env=_clean_env([tmp_path]), capture_output=True, text=True, timeout=timeout)


def reading_flow(bootstrap, topics, out="FileOutput('out.txt')", extra=""):
    return f"""
        from bytewax.dataflow import Dataflow
        from bytewax.connectors.files import FileOutput
        from bytewax.connectors.stdio import StdOutput
        from bytewax.connectors.kafka import KafkaInput
        flow = Dataflow()
        flow.input("inp", KafkaInput([{bootstrap!r}], {topics!r}, tail=False{extra}))
        flow.map(lambda kv: ("all", f"{{kv[0].decode()}}={{kv[1].decode()}}"))
        flow.output("out", {out})
    """


def read_all(bootstrap, topic, expect, timeout=WAIT_S):
    """Every message of `topic` as (key, value), once `expect` have arrived."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}",
                                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < expect and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and m.error() is None:
            got.append((m.key(), m.value()))
    consumer.close()
    return got


def test_reads_every_partition_of_every_topic_to_its_end(kafka_bootstrap, tmp_path):
    topics = [create_topic(kafka_bootstrap, 3, "in-a"), create_topic(kafka_bootstrap, 2, "in-b")]
    sent = []
    for topic, parts in zip(topics, (3, 2)):
        records = [(i % parts, f"{topic}-k{i}".encode(), f"v{i}".encode()) for i in range(40)]
        produce(kafka_bootstrap, topic, records)
        sent += [f"{k.decode()}={v.decode()}" for _, k, v in records]
    result = run_flow(tmp_path, reading_flow(kafka_bootstrap, topics), "-w", "2")
    assert result.returncode == 0, result.stderr
    assert Counter((tmp_path / "out.txt").read_text().splitlines()) == Counter(sent)


def test_writes_key_value_pairs_that_read_back(kafka_bootstrap, tmp_path):
    topic = create_topic(kafka_bootstrap, 3, "out")
    result = run_flow(tmp_path, f"""
        from bytewax.dataflow import Dataflow
        from bytewax.testing import TestingInput
        from bytewax.connectors.kafka import KafkaOutput
        flow = Dataflow()
        flow.input("inp", TestingInput(range(500)))
        flow.map(lambda i: (f"k{{i % 7}}".encode(), f"v{{i}}".encode()))
        flow.output("out", KafkaOutput([{kafka_bootstrap!r}], {topic!r}))
    """)
    assert result.returncode == 0, result.stderr
    got = read_all(kafka_bootstrap, topic, 500)
    assert Counter(got) == Counter((f"k{i % 7}".encode(), f"v{i}".encode()) for i in range(500))


def test_a_missing_topic_is_an_error_naming_it(kafka_bootstrap, tmp_path):
    result = run_flow(tmp_path, reading_flow(kafka_bootstrap, ["no-such-topic-x1"],
                                             extra=", add_config={'allow.auto.create.topics': 'false'}"))
    assert result.returncode != 0
    assert "RuntimeError" in result.stderr and "no-such-topic-x1" in result.stderr, result.stderr
    assert "panicked" not in result.stderr


def test_kill_and_resume_reads_every_message_exactly_once(kafka_bootstrap, tmp_path):
    """Offsets live in the recovery snapshot: after kill -9 at random moments the file
    output holds each message once (FileOutput cuts back to its snapshot)."""
    topic = create_topic(kafka_bootstrap, 3, "resume")
    records = [(i % 3, f"k{i}".encode(), f"v{i}".encode()) for i in range(1500)]
    produce(kafka_bootstrap, topic, records)
    (tmp_path / "db").mkdir()
    (tmp_path / "kflow.py").write_text(textwrap.dedent(reading_flow(kafka_bootstrap, [topic])))
    rng = random.Random(7)
    kills = 0
    while True:
        proc = subprocess.Popen([interpreter_under_test(), "-m", "bytewax.run", "kflow:flow",
                                 "--sqlite-directory", "db", "--epoch-interval", "0"],
                                cwd=tmp_path, env=_clean_env([tmp_path]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=rng.uniform(0.5, 2.0))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            kills += 1
            assert kills < 40, "the run never finished"
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()
        break
    assert kills >= 1, "no run was killed mid-way; the test proves nothing"
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert Counter(lines) == Counter(f"k{i}=v{i}" for i in range(1500))
