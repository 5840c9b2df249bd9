"""Kafka connectors, run natively by the engine on librdkafka (no Python call per message).

`KafkaInput` reads topics as `(key, value)` pairs of `bytes` (either may be `None`). Each
topic partition is one partition of the input, named `"{index}-{topic}"`; its position is
kept in the recovery snapshot rather than committed to a consumer group, so a resumed run
continues exactly after the last epoch it completed. `KafkaOutput` produces `(key, value)`
items to one topic, in batches, and waits for every message to be acknowledged before an
epoch is committed.

No Kafka client library is needed in Python.
"""

from typing import Any, Dict, Iterable, List, Optional, Set

from bytewax.inputs import PartitionedInput
from bytewax.outputs import DynamicOutput

__all__ = ["KafkaInput", "KafkaOutput", "OFFSET_BEGINNING", "OFFSET_END"]

#: Start partitions without a snapshot at their beginning (librdkafka's value).
OFFSET_BEGINNING = -2
#: Start partitions without a snapshot at their end: only new messages.
OFFSET_END = -1


def _names(value: Any, what: str) -> List[str]:
    if isinstance(value, str):
        raise TypeError(f"{what} must be an iterable and not a string")
    names = list(value)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"each of {what} must be a str; got {type(name).__name__}")
    return names


def _config(add_config: Optional[Dict[str, str]]) -> Dict[str, str]:
    config = dict(add_config or {})
    for key, value in config.items():
        if not isinstance(key, str):
            raise TypeError(f"add_config keys must be str; got {type(key).__name__}")
        config[key] = value if isinstance(value, str) else str(value)
    return config


class KafkaInput(PartitionedInput):
    """Read `(key, value)` byte pairs from Kafka `topics` on `brokers`.

    With `tail=True` the input waits for new messages forever; with `tail=False` each
    partition ends at the end it had when reached. Partitions without a snapshot start at
    `starting_offset` (`OFFSET_BEGINNING`, `OFFSET_END`, or an offset). `add_config` is
    passed to librdkafka. A topic that does not exist is a `RuntimeError` naming it; so are
    brokers that do not answer within 10 s at start, and a message that cannot be read
    (naming its topic, partition and offset).
    """

    def __init__(
        self,
        brokers: Iterable[str],
        topics: Iterable[str],
        tail: bool = True,
        starting_offset: int = OFFSET_BEGINNING,
        add_config: Optional[Dict[str, str]] = None,
    ):
        self.brokers = _names(brokers, "brokers")
        self.topics = _names(topics, "topics")
        self.tail = bool(tail)
        if not isinstance(starting_offset, int):
            raise TypeError(f"starting_offset must be an int; got {type(starting_offset).__name__}")
        self.starting_offset = starting_offset
        self.add_config = _config(add_config)

    def list_parts(self) -> Set[str]:
        # The engine reads KafkaInput itself; these exist for the abstract base class.
        raise NotImplementedError("KafkaInput is read by the engine; subclassing it is not supported")

    def build_part(self, for_part: str, resume_state: Optional[Any]):
        raise NotImplementedError("KafkaInput is read by the engine; subclassing it is not supported")

    def _plan(self) -> Dict[str, Any]:
        plan = {
            "kind": "kafka",
            "brokers": self.brokers,
            "topics": self.topics,
            "tail": self.tail,
            "starting_offset": self.starting_offset,
        }
        if self.add_config:
            plan["add_config"] = self.add_config
        return plan


class KafkaOutput(DynamicOutput):
    """Produce `(key, value)` items (`bytes` or `str`, or `None`) to Kafka `topic` on `brokers`.

    Messages go out in batches with the default partitioner; every epoch waits for all of
    its messages to be acknowledged (with recovery; without, the end of the run waits).
    librdkafka retries each message until its `message.timeout.ms`; one that still cannot be
    delivered is a `RuntimeError`. `add_config` is passed to librdkafka.
    """

    def __init__(self, brokers: Iterable[str], topic: str, add_config: Optional[Dict[str, str]] = None):
        self.brokers = _names(brokers, "brokers")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str; got {type(topic).__name__}")
        self.topic = topic
        self.add_config = _config(add_config)

    def build(self, worker_index: int, worker_count: int):
        raise NotImplementedError("KafkaOutput is written by the engine; subclassing it is not supported")

    def _plan(self) -> Dict[str, Any]:
        plan = {"kind": "kafka", "brokers": self.brokers, "topic": self.topic}
        if self.add_config:
            plan["add_config"] = self.add_config
        return plan
