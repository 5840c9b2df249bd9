"""Kafka passthrough benchmark: our bytewax vs a bare librdkafka loop vs Bytewax 0.16.2.

Pre-produces N small keyed messages into a topic with a few partitions on a Kafka-protocol
broker on 127.0.0.1 (tests/kafka/start-broker.sh, or --bootstrap), then copies the topic
to a fresh output topic with each contestant, one worker each, side by side in one run:

- ours: `python -m bytewax.run` of bench/kafka_flow.py (KafkaInput(tail=False) → a Python
  identity `map` → KafkaOutput) with the interpreter running this script;
- bare rdkafka: bench/kafka-bare, the same rdkafka as the runtime in a plain
  consume/produce loop that reads each partition from its own queue, as KafkaInput does;
  "bare, one queue" is the same loop on the consumer's single queue (blocking poll);
- bytewax 0.16.2: the same flow file on real Bytewax 0.16.2 (smaller N: it flushes after
  every message).

Each output topic is read back and must hold exactly the messages of its input. Every
contestant runs --repeat times, in rounds; prints the best wall seconds, messages/s and
the ratios. See bench/README.md.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from wordcount import ContestantUnavailable, bench_env, check_ours_importable, ensure_bytewax016_python

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
BARE_DIR = BENCH_DIR / "kafka-bare"
BARE_BIN = BARE_DIR / "target" / "release" / "kafka-bare"
BROKER_SCRIPTS = REPO_ROOT / "tests" / "kafka"
BROKER_STATE = BENCH_DIR / "data" / "kafka-broker"
PARTITIONS = 3
WAIT_S = 60


def kafka():
    try:
        import confluent_kafka
        import confluent_kafka.admin  # noqa: F401  (loads the submodule)
    except ImportError:
        sys.exit("this script needs confluent-kafka to fill and check topics: pip install confluent-kafka")
    return confluent_kafka


class Broker:
    """A throwaway broker from tests/kafka/start-broker.sh, stopped by its pid file."""

    def __enter__(self):
        env = dict(os.environ, KAFKA_STATE_DIR=str(BROKER_STATE))
        env.pop("KAFKA_PORT", None)
        done = subprocess.run(["bash", str(BROKER_SCRIPTS / "start-broker.sh")], env=env, capture_output=True,
                              text=True, timeout=1800)
        lines = [l for l in done.stdout.splitlines() if l.startswith("KAFKA_BOOTSTRAP=")]
        if done.returncode != 0 or not lines:
            sys.exit(f"cannot start the test broker:\n{done.stderr}")
        self.bootstrap = lines[-1].split("=", 1)[1]
        return self

    def __exit__(self, *exc):
        env = dict(os.environ, KAFKA_STATE_DIR=str(BROKER_STATE))
        subprocess.run(["bash", str(BROKER_SCRIPTS / "stop-broker.sh")], env=env, capture_output=True, timeout=60)


def create_topic(bootstrap, name):
    ck = kafka()
    admin = ck.admin.AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([ck.admin.NewTopic(name, PARTITIONS, 1)]).values():
        future.result(WAIT_S)
    return name


def fill(bootstrap, count):
    """A fresh topic with `count` messages (key k0..k999, value the index), spread by key."""
    topic = create_topic(bootstrap, f"bench-in-{uuid.uuid4().hex[:8]}")
    producer = kafka().Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    for i in range(count):
        while True:
            try:
                producer.produce(topic, key=b"k%d" % (i % 1000), value=b"%d" % i)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10000 == 0:
            producer.poll(0)
    if producer.flush(WAIT_S * 5) != 0:
        sys.exit(f"could not fill {topic}")
    return topic


def read_values(bootstrap, topic):
    """Every value of every partition, read to each partition's end."""
    ck = kafka()
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-check", "enable.auto.commit": False,
                            "enable.partition.eof": True})
    partitions = list(consumer.list_topics(topic, timeout=WAIT_S).topics[topic].partitions)
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in partitions])
    values, ended = [], 0
    deadline = time.monotonic() + WAIT_S * 10
    while ended < len(partitions):
        if time.monotonic() > deadline:
            sys.exit(f"reading back {topic} did not reach the end of every partition")
        for m in consumer.consume(10000, 0.5):
            if m.error() is None:
                values.append(m.value())
            elif m.error().code() == ck.KafkaError._PARTITION_EOF:
                ended += 1
            else:
                sys.exit(f"reading back {topic}: {m.error()}")
    consumer.close()
    return values


def ensure_bare():
    sources = [BARE_DIR / "Cargo.toml", *sorted((BARE_DIR / "src").glob("*.rs"))]
    if BARE_BIN.is_file() and all(BARE_BIN.stat().st_mtime >= s.stat().st_mtime for s in sources):
        return BARE_BIN
    print("building bench/kafka-bare (librdkafka from source: minutes) ...", flush=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(BARE_DIR / "Cargo.toml"),
                    "--target-dir", str(BARE_DIR / "target")], check=True)
    return BARE_BIN


def ensure_kafka_in_016(python, explicit):
    probe = subprocess.run([str(python), "-c", "import confluent_kafka"], capture_output=True)
    if probe.returncode == 0:
        return
    if explicit:
        raise ContestantUnavailable(f"{python} has no confluent-kafka, which Bytewax 0.16.2's Kafka connectors "
                                    f"need: {python} -m pip install confluent-kafka")
    print("installing confluent-kafka into the Bytewax 0.16.2 venv ...", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "confluent-kafka"], check=True)


def timed(command, timeout_s, env=None):
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env,
                          stdin=subprocess.DEVNULL, cwd=BENCH_DIR)
    wall_s = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return wall_s


def flow_command(python, bootstrap, in_topic, out_topic, workers):
    command = [str(python), "-m", "bytewax.run", f"kafka_flow:get_flow({bootstrap!r}, {in_topic!r}, {out_topic!r})"]
    return command + (["-w", str(workers)] if workers > 1 else [])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages for ours and bare (default 1000000)")
    parser.add_argument("--bytewax016-messages", type=int, default=20_000,
                        help="messages for Bytewax 0.16.2, which flushes after each one (default 20000)")
    parser.add_argument("--skip-bytewax016", action="store_true", help="do not run Bytewax 0.16.2")
    parser.add_argument("--bytewax016-python", metavar="PYTHON", default=os.environ.get("BENCH_BYTEWAX016_PYTHON"),
                        help="a python with Bytewax 0.16.2 (default: bench/.venv-bytewax016, made on first use)")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="use this broker instead of starting one")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each contestant; the best counts (default 3)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per contestant (default 3600)")
    return parser.parse_args(argv)


def run_all(args, bootstrap):
    """Runs every contestant `args.repeat` times, in rounds (so that a busy moment on the
    shared machine does not fall on one contestant only); keeps each one's best wall time."""
    best, failed = {}, []

    def contestant(name, count, make_command):
        if any(f.startswith(f"{name}:") for f in failed):
            return
        out_topic = create_topic(bootstrap, f"bench-out-{uuid.uuid4().hex[:8]}")
        try:
            wall_s = timed(make_command(out_topic), args.timeout, env=bench_env())
        except (ContestantUnavailable, RuntimeError, OSError, subprocess.SubprocessError) as why:
            failed.append(f"{name}: {why}")
            print(f"{name}: FAILED: {why}", flush=True)
            return
        got = Counter(read_values(bootstrap, out_topic))
        expected = Counter(b"%d" % i for i in range(count))
        if got != expected:
            missing, extra = sum((expected - got).values()), sum((got - expected).values())
            failed.append(f"{name}: output topic differs from the input ({missing} missing, {extra} extra)")
            print(failed[-1], flush=True)
            return
        previous = best.get(name)
        best[name] = (count, wall_s if previous is None else min(previous[1], wall_s))
        print(f"{name}: {count} messages copied and checked in {wall_s:.2f} s", flush=True)

    print(f"filling a {PARTITIONS}-partition topic with {args.messages} messages ...", flush=True)
    big = fill(bootstrap, args.messages)
    contestants = []
    try:
        check_ours_importable(sys.executable)
        contestants.append(("ours", args.messages, lambda out: flow_command(sys.executable, bootstrap, big, out, 1)))
    except ContestantUnavailable as why:
        failed.append(f"ours: {why}")
    bare = ensure_bare()
    contestants.append(("bare rdkafka", args.messages, lambda out: [str(bare), bootstrap, big, out]))
    contestants.append(("bare, one queue", args.messages, lambda out: [str(bare), "--main-queue", bootstrap, big, out]))
    if not args.skip_bytewax016:
        try:
            python016 = ensure_bytewax016_python(args.bytewax016_python)
            ensure_kafka_in_016(python016, args.bytewax016_python)
            small = fill(bootstrap, args.bytewax016_messages)
            contestants.append(("bytewax 0.16.2", args.bytewax016_messages,
                                lambda out: flow_command(python016, bootstrap, small, out, 1)))
        except (ContestantUnavailable, subprocess.CalledProcessError) as why:
            failed.append(f"bytewax 0.16.2: {why}")
    for round_ in range(args.repeat):
        if args.repeat > 1:
            print(f"-- round {round_ + 1} of {args.repeat}", flush=True)
        for name, count, make_command in contestants:
            contestant(name, count, make_command)
    results = [(name, count, wall_s) for name, (count, wall_s) in best.items()]
    return results, failed


def report(results):
    rates = {name: count / wall_s for name, count, wall_s in results}
    print(f"\n{'contestant':<18}{'messages':>10}{'wall s':>10}{'msgs/s':>12}")
    for name, count, wall_s in results:
        print(f"{name:<18}{count:>10}{wall_s:>10.2f}{rates[name]:>12,.0f}")
    if "ours" in rates and "bare rdkafka" in rates:
        print(f"ours / bare rdkafka (msgs/s): {rates['ours'] / rates['bare rdkafka']:.0%}  (goal: at least 70%)")
    if "ours" in rates and "bytewax 0.16.2" in rates:
        print(f"ours / bytewax 0.16.2 (msgs/s): {rates['ours'] / rates['bytewax 0.16.2']:.1f}x  (goal: at least 10x)")


def main(argv=None):
    args = parse_args(argv)
    if args.bootstrap:
        results, failed = run_all(args, args.bootstrap)
    else:
        with Broker() as broker:
            print(f"broker: {broker.bootstrap}", flush=True)
            results, failed = run_all(args, broker.bootstrap)
    report(results)
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
