"""The dataflow API server, `cli_main`, and `python -m bytewax.run` as a process.

Tests that run a flow need the compiled engine and skip without it.
"""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import bytewax

from bytewax._api_server import DataflowApiServer, serve_dataflow_api_if_enabled
from bytewax._encoder import encode_dataflow
from bytewax.dataflow import Dataflow
from bytewax.recovery import SqliteRecoveryConfig
from bytewax.run import cli_main
from bytewax.testing import TestingInput, TestingOutput

# Where this test process imports `bytewax` from (the installed build, not the source tree,
# which has no compiled engine in a fresh clone).
PYTHON_DIR = Path(bytewax.__file__).resolve().parents[1]
API_ENV = ["BYTEWAX_DATAFLOW_API_ENABLED", "BYTEWAX_DATAFLOW_API_PORT", "BYTEWAX_DATAFLOW_API_CACHE_PATH"]
DOC = '{"steps": [], "type": "Dataflow"}'


@pytest.fixture
def engine():
    """Skip the test when the compiled engine is not built."""
    pytest.importorskip("bytewax._engine")


@pytest.fixture
def recovering_engine():
    """Skip the test when the compiled engine is not built with recovery."""
    engine = pytest.importorskip("bytewax._engine")
    if not hasattr(engine, "RECOVERY_FORMAT"):
        pytest.skip("bytewax._engine has no RECOVERY_FORMAT: recovery not built yet")


@pytest.fixture(autouse=True)
def no_api_env(monkeypatch, tmp_path):
    for name in API_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port, path="/dataflow", method="GET"):
    """(status, content-type, body) of a request to 127.0.0.1:port."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("content-type"), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type"), error.read().decode()


def assert_refused(port):
    with pytest.raises(urllib.error.URLError) as info:
        get(port)
    assert isinstance(info.value.reason, ConnectionRefusedError)


# --- DataflowApiServer ---


def test_get_dataflow_answers_the_json():
    with DataflowApiServer(DOC, host="127.0.0.1", port=0) as server:
        assert get(server.port) == (200, "application/json", DOC)
        assert get(server.port, "/dataflow/") == (200, "application/json", DOC)
        assert get(server.port, "/dataflow?pretty=1") == (200, "application/json", DOC)


@pytest.mark.parametrize("path", ["/", "/other", "/dataflow.json", "/dataflows"])
def test_other_paths_are_404(path):
    with DataflowApiServer(DOC, host="127.0.0.1", port=0) as server:
        assert get(server.port, path) == (404, None, "")


def test_other_methods_on_dataflow_are_405():
    with DataflowApiServer(DOC, host="127.0.0.1", port=0) as server:
        assert get(server.port, method="POST")[0] == 405
        assert get(server.port, method="DELETE")[0] == 405


def test_stopped_server_frees_the_port():
    server = DataflowApiServer(DOC, host="127.0.0.1", port=0).start()
    port = server.port
    assert get(port)[0] == 200
    server.stop()
    assert_refused(port)


# --- serve_dataflow_api_if_enabled (what cli_main uses) ---


def small_flow():
    flow = Dataflow()
    flow.input("inp", TestingInput([1, 2]))
    flow.map(str)
    flow.output("out", TestingOutput([]))
    return flow


def test_not_enabled_serves_and_writes_nothing(tmp_path):
    with serve_dataflow_api_if_enabled(small_flow()) as server:
        assert server is None
    assert not (tmp_path / "dataflow.json").exists()


def test_enabled_writes_cache_and_serves_on_port_from_env(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    port = free_port()
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_ENABLED", "")
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", str(port))
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_CACHE_PATH", str(cache))
    flow = small_flow()
    with serve_dataflow_api_if_enabled(flow) as server:
        assert server.port == port
        assert get(port) == (200, "application/json", encode_dataflow(flow))
    assert (cache / "dataflow.json").read_text() == encode_dataflow(flow)
    assert_refused(port)


def test_cache_defaults_to_cwd(monkeypatch, tmp_path):
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_ENABLED", "1")
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", str(free_port()))
    with serve_dataflow_api_if_enabled(small_flow()):
        pass
    assert (tmp_path / "dataflow.json").read_text() == encode_dataflow(small_flow())


def test_missing_cache_directory_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_ENABLED", "1")
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", str(free_port()))
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_CACHE_PATH", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError):
        with serve_dataflow_api_if_enabled(small_flow()):
            pass


def test_bad_port_is_an_error(monkeypatch):
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_ENABLED", "1")
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", "http")
    with pytest.raises(ValueError, match="BYTEWAX_DATAFLOW_API_PORT"):
        with serve_dataflow_api_if_enabled(small_flow()):
            pass


# --- cli_main ---


def test_cli_main_checks_the_recovery_directory_before_running(engine, tmp_path):
    seen = []
    flow = Dataflow()
    flow.input("inp", TestingInput([1]))
    flow.output("out", TestingOutput(seen))
    with pytest.raises(RuntimeError, match="recovery directory '.*no-such-dir' does not exist"):
        cli_main(flow, processes=2, recovery_config=SqliteRecoveryConfig(tmp_path / "no-such-dir"))
    assert seen == []


def test_cli_main_recovers_and_continues(recovering_engine, tmp_path):
    def run_once():
        seen = []
        flow = Dataflow()
        flow.input("inp", TestingInput([1, 2]))
        flow.output("out", TestingOutput(seen))
        cli_main(flow, epoch_interval=0, recovery_config=SqliteRecoveryConfig(tmp_path))
        return seen

    assert run_once() == [1, 2]
    assert (tmp_path / "worker0.sqlite3").is_file()
    assert run_once() == []


def test_cli_main_processes_conflict_with_cluster_options():
    with pytest.raises(RuntimeError, match=r"^Can't specify both 'processes' and 'process_id/addresses'$"):
        cli_main(small_flow(), process_id=0, addresses=["localhost:2101"])


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"epoch_interval": "10"}, TypeError),
        ({"epoch_interval": -1.0}, ValueError),
        ({"processes": 0}, ValueError),
        ({"workers_per_process": 0}, ValueError),
    ],
)
def test_cli_main_rejects_bad_values(kwargs, error):
    with pytest.raises(error):
        cli_main(small_flow(), **kwargs)


def test_cli_main_runs_and_serves_api_during_the_run(engine, monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_ENABLED", "true")
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", str(port))
    seen = []

    def fetch_api(item):
        return item, get(port)

    flow = Dataflow()
    flow.input("inp", TestingInput(["only"]))
    flow.map(fetch_api)
    flow.output("out", TestingOutput(seen))
    cli_main(flow, epoch_interval=0.5)
    assert seen == [("only", (200, "application/json", encode_dataflow(flow)))]
    assert_refused(port)


def test_cli_main_without_api_runs_the_flow_only(engine, tmp_path):
    seen = []
    flow = Dataflow()
    flow.input("inp", TestingInput([1, 2, 3]))
    flow.map(lambda x: x * 10)
    flow.output("out", TestingOutput(seen))
    cli_main(flow, processes=1, workers_per_process=1, epoch_interval=1.0)
    assert seen == [10, 20, 30]
    assert not (tmp_path / "dataflow.json").exists()


def test_api_stops_when_the_flow_fails(engine, monkeypatch):
    port = free_port()
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_ENABLED", "1")
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", str(port))

    def explode(item):
        raise ZeroDivisionError(item)

    flow = Dataflow()
    flow.input("inp", TestingInput([1]))
    flow.map(explode)
    flow.output("out", TestingOutput([]))
    with pytest.raises(ZeroDivisionError):
        cli_main(flow)
    assert_refused(port)


def test_run_main_never_serves_the_api(engine, monkeypatch, tmp_path):
    from bytewax.testing import run_main

    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_ENABLED", "1")
    monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", str(free_port()))
    seen = []
    flow = Dataflow()
    flow.input("inp", TestingInput([1]))
    flow.output("out", TestingOutput(seen))
    run_main(flow)
    assert seen == [1]
    assert not (tmp_path / "dataflow.json").exists()


# --- python -m bytewax.run as a process ---

FLOWS_SOURCE = textwrap.dedent(
    """
    import pathlib, sys
    from bytewax.connectors.stdio import StdOutput
    from bytewax.dataflow import Dataflow
    from bytewax.inputs import DynamicInput, StatelessSource
    from bytewax.testing import TestingInput

    pathlib.Path("imported.marker").touch()

    def explode(item):
        raise ValueError(f"bad item {item}")

    class _Idle(StatelessSource):
        def __init__(self):
            self.announced = False

        def next(self):
            if not self.announced:
                self.announced = True
                print("ready", flush=True)
            return None

        def close(self):
            pass

    class IdleForever(DynamicInput):
        def build(self, worker_index, worker_count):
            return _Idle()

    flow = Dataflow()
    flow.input("inp", TestingInput(["a", "b"]))
    flow.output("out", StdOutput())

    failing = Dataflow()
    failing.input("inp", TestingInput([1]))
    failing.map(explode)
    failing.output("out", StdOutput())

    endless = Dataflow()
    endless.input("inp", IdleForever())
    endless.output("out", StdOutput())
    """
)


def run_cli(tmp_path, *argv, env=None, **popen_kwargs):
    """Start `python -m bytewax.run` in tmp_path with our package and a clean BYTEWAX_* env."""
    (tmp_path / "flows.py").write_text(FLOWS_SOURCE)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("BYTEWAX_")}
    child_env["PYTHONPATH"] = str(PYTHON_DIR)
    child_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", *argv],
        cwd=tmp_path,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen_kwargs,
    )


@pytest.mark.parametrize(
    "argv, env",
    [(["--sqlite-directory", "rec"], {}), ([], {"BYTEWAX_SQLITE_DIRECTORY": "rec"})],
)
def test_missing_recovery_directory_exits_2_with_one_line(engine, tmp_path, argv, env):
    proc = run_cli(tmp_path, "flows:flow", *argv, env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert out == ""
    assert err.splitlines() == [
        "python -m bytewax.run: error: argument --sqlite-directory: recovery directory 'rec' does not "
        "exist; create it before running the dataflow (SqliteRecoveryConfig keeps worker{i}.sqlite3 "
        "files in it)"
    ]
    # Refused before the user's module was imported.
    assert not (tmp_path / "imported.marker").exists()
    assert not (tmp_path / "rec").exists()


@pytest.mark.parametrize(
    "argv, env",
    [
        (["--sqlite-directory", "rec"], {}),
        ([], {"BYTEWAX_SQLITE_DIRECTORY": "rec"}),
        (["--sqlite-directory", "rec", "-p", "2"], {}),
        (["-w", "2"], {"BYTEWAX_SQLITE_DIRECTORY": "rec"}),
    ],
)
def test_recovery_option_resumes_where_the_last_run_ended(recovering_engine, tmp_path, argv, env):
    (tmp_path / "rec").mkdir()
    for expected in ("a\nb\n", ""):
        proc = run_cli(tmp_path, "flows:flow", "--epoch-interval", "0", *argv, env=env)
        out, err = proc.communicate(timeout=120)
        assert (proc.returncode, out) == (0, expected), err
    assert (tmp_path / "rec" / "worker0.sqlite3").is_file()


def test_bad_flag_exits_2_before_import(tmp_path):
    proc = run_cli(tmp_path, "flows:flow", "-p", "zero")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.splitlines()[-1] == (
        "python -m bytewax.run: error: argument -p/--processes: invalid int value: 'zero'"
    )
    assert not (tmp_path / "imported.marker").exists()


def test_run_prints_output(engine, tmp_path):
    proc = run_cli(tmp_path, "flows.py")
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out) == (0, "a\nb\n"), err


def test_user_error_exits_1_with_its_traceback(engine, tmp_path):
    proc = run_cli(tmp_path, "flows:failing")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback (most recent call last):" in err
    assert 'raise ValueError(f"bad item {item}")' in err
    assert "ValueError: bad item 1" in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_ends_with_one_line_and_sigint_status(engine, tmp_path):
    # A child started from a background shell may inherit an ignored SIGINT.
    proc = run_cli(
        tmp_path, "flows:endless",
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGINT
    assert err.splitlines() == [
        "KeyboardInterrupt: interrupt signal received, all processes have been shut down"
    ]
