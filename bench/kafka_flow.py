"""The Kafka passthrough flow of bench/kafka_passthrough.py, for our bytewax and Bytewax
0.16.2 alike: every message of a topic, through one Python `map`, to another topic."""

from bytewax.connectors.kafka import KafkaInput, KafkaOutput
from bytewax.dataflow import Dataflow


def passthrough(key_value):
    """The identity, as a Python function: the flow's one step of user code."""
    return key_value


def get_flow(brokers, in_topic, out_topic):
    flow = Dataflow()
    flow.input("inp", KafkaInput([brokers], [in_topic], tail=False))
    flow.map(passthrough)
    flow.output("out", KafkaOutput([brokers], out_topic))
    return flow
