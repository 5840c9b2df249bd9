"""KafkaInput / KafkaOutput construction: 0.16's checks, and what they compile to.
(Reading and writing against a real broker is in tests/test_e2e_kafka.py.)"""

import json

import pytest

from bytewax import _engine
from bytewax._compile import compile_flow
from bytewax.connectors.kafka import OFFSET_BEGINNING, OFFSET_END, KafkaInput, KafkaOutput
from bytewax.dataflow import Dataflow


def test_a_string_of_brokers_or_topics_is_refused_as_in_0_16():
    with pytest.raises(TypeError, match="brokers must be an iterable and not a string"):
        KafkaInput("localhost:9092", ["t"])
    with pytest.raises(TypeError, match="topics must be an iterable and not a string"):
        KafkaInput(["localhost:9092"], "t")
    with pytest.raises(TypeError, match="brokers must be an iterable and not a string"):
        KafkaOutput("localhost:9092", "t")


def test_the_offsets_are_librdkafkas():
    assert (OFFSET_BEGINNING, OFFSET_END) == (-2, -1)


def test_both_compile_to_native_kafka_steps_the_engine_accepts():
    flow = Dataflow()
    flow.input("inp", KafkaInput(["b1:9092", "b2:9092"], ["a", "b"], tail=False, starting_offset=OFFSET_END,
                                 add_config={"fetch.wait.max.ms": 50}))
    flow.output("out", KafkaOutput(["b1:9092"], "sink"))
    plan, _ = compile_flow(flow)
    assert plan["steps"][0]["source"] == {
        "kind": "kafka", "brokers": ["b1:9092", "b2:9092"], "topics": ["a", "b"], "tail": False,
        "starting_offset": -1, "add_config": {"fetch.wait.max.ms": "50"},
    }
    assert plan["steps"][1]["sink"] == {"kind": "kafka", "brokers": ["b1:9092"], "topic": "sink"}
    assert json.loads(_engine.validate_plan(json.dumps(plan))) == plan
