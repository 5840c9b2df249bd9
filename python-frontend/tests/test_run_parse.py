"""Command line parsing of `python -m bytewax.run` (`bytewax.run._parse_args`).

Runs against Bytewax 0.16.2 too (`-m "not ours_only"`): the flags, env
variables, errors and the warning are the same there.
"""

import os
import sys
import warnings
from pathlib import Path

import pytest

from bytewax.run import _parse_args

_ENV_NAMES = [
    "BYTEWAX_PROCESSES",
    "BYTEWAX_WORKERS_PER_PROCESS",
    "BYTEWAX_PROCESS_ID",
    "BYTEWAX_ADDRESSES",
    "BYTEWAX_SQLITE_DIRECTORY",
    "BYTEWAX_EPOCH_INTERVAL",
    "BYTEWAX_POD_NAME",
    "BYTEWAX_STATEFULSET_NAME",
    "BYTEWAX_HOSTFILE_PATH",
]


@pytest.fixture(autouse=True)
def clean_cli_env(monkeypatch, tmp_path):
    """No BYTEWAX_* variables from outside, a scratch cwd, and `sys.path` restored."""
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))


def parse(monkeypatch, *argv, **env):
    """Parse `argv` as the command line with `env` set; return the namespace as a dict."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["python -m bytewax.run", *argv])
    return vars(_parse_args())


def parse_error(monkeypatch, capsys, *argv, **env):
    """Parse and expect argparse's exit 2; return the error line printed."""
    with pytest.raises(SystemExit) as exit_info:
        parse(monkeypatch, *argv, **env)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_defaults(monkeypatch):
    assert parse(monkeypatch, "dataflow") == {
        "import_str": "dataflow:flow",
        "processes": None,
        "workers_per_process": None,
        "process_id": None,
        "addresses": None,
        "sqlite_directory": None,
        "epoch_interval": 10,
    }


def test_short_flags(monkeypatch):
    args = parse(monkeypatch, "dataflow:other", "-p", "2", "-w", "3", "--epoch-interval", "0")
    assert args["import_str"] == "dataflow:other"
    assert (args["processes"], args["workers_per_process"], args["epoch_interval"]) == (2, 3, 0)


def test_glued_short_flags_and_long_flags(monkeypatch):
    args = parse(
        monkeypatch,
        "dataflow",
        "-w2",
        "--process-id",
        "1",
        "--addresses",
        "a:1;b:2",
        "--sqlite-directory",
        "rec",
    )
    assert args["workers_per_process"] == 2
    assert args["process_id"] == 1
    assert args["addresses"] == "a:1;b:2"
    assert args["sqlite_directory"] == Path("rec")


def test_long_scaling_flags(monkeypatch):
    args = parse(monkeypatch, "dataflow", "--processes", "4", "--workers-per-process", "5")
    assert (args["processes"], args["workers_per_process"]) == (4, 5)


def test_env_variables_give_defaults(monkeypatch):
    args = parse(
        monkeypatch,
        "dataflow",
        BYTEWAX_WORKERS_PER_PROCESS="2",
        BYTEWAX_PROCESS_ID="1",
        BYTEWAX_ADDRESSES="a:1;b:2",
        BYTEWAX_SQLITE_DIRECTORY="rec",
        BYTEWAX_EPOCH_INTERVAL="3",
    )
    assert args["workers_per_process"] == 2
    assert args["process_id"] == 1
    assert args["addresses"] == "a:1;b:2"
    assert args["sqlite_directory"] == Path("rec")
    assert args["epoch_interval"] == 3


def test_env_processes(monkeypatch):
    assert parse(monkeypatch, "dataflow", BYTEWAX_PROCESSES="4")["processes"] == 4


def test_flags_win_over_env(monkeypatch):
    args = parse(
        monkeypatch, "dataflow", "-p", "3", "--epoch-interval", "7",
        BYTEWAX_PROCESSES="4", BYTEWAX_EPOCH_INTERVAL="3",
    )
    assert (args["processes"], args["epoch_interval"]) == (3, 7)


def test_bad_int_flag_is_an_argparse_error(monkeypatch, capsys):
    line = parse_error(monkeypatch, capsys, "dataflow", "-p", "x")
    assert line == "python -m bytewax.run: error: argument -p/--processes: invalid int value: 'x'"


def test_bad_int_env_is_reported_like_the_flag(monkeypatch, capsys):
    line = parse_error(monkeypatch, capsys, "dataflow", BYTEWAX_WORKERS_PER_PROCESS="many")
    assert line.endswith("argument -w/--workers-per-process: invalid int value: 'many'")


def test_epoch_interval_is_whole_seconds(monkeypatch, capsys):
    line = parse_error(monkeypatch, capsys, "dataflow", "--epoch-interval", "0.5")
    assert line.endswith("argument --epoch-interval: invalid int value: '0.5'")


def test_import_str_is_required(monkeypatch, capsys):
    line = parse_error(monkeypatch, capsys)
    assert line.endswith("error: the following arguments are required: import_str")


def test_process_id_needs_addresses(monkeypatch, capsys):
    line = parse_error(monkeypatch, capsys, "dataflow", "-i", "0")
    assert line == (
        "python -m bytewax.run: error: the addresses option is required if a process_id is passed"
    )


def test_addresses_without_process_id_parse(monkeypatch):
    args = parse(monkeypatch, "dataflow", "-a", "a:1;b:2")
    assert (args["process_id"], args["addresses"]) == (None, "a:1;b:2")


@pytest.mark.parametrize(
    "argv",
    [
        ["-p", "2", "-i", "0", "-a", "a:1;b:2"],
        ["-p2", "-a", "a:1"],
    ],
)
def test_processes_with_cluster_options_warns_and_is_dropped(monkeypatch, argv):
    with pytest.warns(UserWarning) as record:
        args = parse(monkeypatch, "dataflow", *argv)
    assert [str(w.message) for w in record] == [
        "Both '-p' and '-a/-i' specified. Ignoring the '-p' option, but this should be fixed"
    ]
    assert args["processes"] is None
    assert args["addresses"] is not None


def test_processes_alone_does_not_warn(monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse(monkeypatch, "dataflow", "-p", "2")["processes"] == 2


def test_statefulset_pod_name_gives_process_id(monkeypatch):
    args = parse(
        monkeypatch, "dataflow",
        BYTEWAX_POD_NAME="wordcount-3", BYTEWAX_STATEFULSET_NAME="wordcount",
        BYTEWAX_ADDRESSES="a:1;b:2;c:3;d:4",
    )
    assert args["process_id"] == 3


def test_pod_name_alone_is_ignored(monkeypatch):
    assert parse(monkeypatch, "dataflow", BYTEWAX_POD_NAME="wordcount-3")["process_id"] is None


def test_explicit_process_id_wins_over_pod_name(monkeypatch):
    args = parse(
        monkeypatch, "dataflow", "-i", "1", "-a", "a:1;b:2",
        BYTEWAX_POD_NAME="wordcount-3", BYTEWAX_STATEFULSET_NAME="wordcount",
    )
    assert args["process_id"] == 1


def test_pod_name_without_addresses_is_an_error(monkeypatch, capsys):
    line = parse_error(
        monkeypatch, capsys, "dataflow",
        BYTEWAX_POD_NAME="wordcount-0", BYTEWAX_STATEFULSET_NAME="wordcount",
    )
    assert line.endswith("the addresses option is required if a process_id is passed")


@pytest.mark.ours_only
def test_pod_name_of_another_statefulset_is_an_argparse_error(monkeypatch, capsys):
    # Bytewax 0.16 crashes with a ValueError traceback here.
    line = parse_error(
        monkeypatch, capsys, "dataflow",
        BYTEWAX_POD_NAME="other-3", BYTEWAX_STATEFULSET_NAME="wordcount", BYTEWAX_ADDRESSES="a:1",
    )
    assert "BYTEWAX_POD_NAME='other-3'" in line


def write_hostfile(tmp_path):
    hostfile = tmp_path / "hosts.txt"
    hostfile.write_text("host-0:2101\n\n  host-1:2101  \n\t\nhost-2:2101\n")
    return str(hostfile)


def test_hostfile_gives_addresses_for_pod(monkeypatch, tmp_path):
    args = parse(
        monkeypatch, "dataflow",
        BYTEWAX_POD_NAME="flow-1", BYTEWAX_STATEFULSET_NAME="flow",
        BYTEWAX_HOSTFILE_PATH=write_hostfile(tmp_path),
    )
    assert args["process_id"] == 1
    assert args["addresses"] == "host-0:2101;host-1:2101;host-2:2101"


def test_hostfile_gives_addresses_for_process_id_flag(monkeypatch, tmp_path):
    args = parse(monkeypatch, "dataflow", "-i", "2", BYTEWAX_HOSTFILE_PATH=write_hostfile(tmp_path))
    assert args["addresses"] == "host-0:2101;host-1:2101;host-2:2101"


def test_addresses_flag_wins_over_hostfile(monkeypatch, tmp_path):
    args = parse(
        monkeypatch, "dataflow", "-i", "0", "-a", "x:1",
        BYTEWAX_HOSTFILE_PATH=write_hostfile(tmp_path),
    )
    assert args["addresses"] == "x:1"


def test_hostfile_unused_without_process_id(monkeypatch, tmp_path):
    args = parse(monkeypatch, "dataflow", BYTEWAX_HOSTFILE_PATH=write_hostfile(tmp_path))
    assert args["addresses"] is None


@pytest.mark.ours_only
def test_missing_hostfile_is_an_argparse_error(monkeypatch, capsys, tmp_path):
    # Bytewax 0.16 crashes with a FileNotFoundError traceback here.
    line = parse_error(
        monkeypatch, capsys, "dataflow", "-i", "0",
        BYTEWAX_HOSTFILE_PATH=str(tmp_path / "nowhere.txt"),
    )
    assert "BYTEWAX_HOSTFILE_PATH" in line and "nowhere.txt" in line


def test_file_path_import_str_becomes_module_name(monkeypatch, tmp_path):
    (tmp_path / "flows").mkdir()
    args = parse(monkeypatch, "flows/wordcount.py:get_flow('x:y')")
    assert args["import_str"] == "wordcount:get_flow('x:y')"
    assert sys.path[0] == str(tmp_path / "flows")


def test_help_lists_groups_flags_and_env_variables(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(monkeypatch, "--help")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "usage: python -m bytewax.run [-h] [-p PROCESSES] [-w WORKERS_PER_PROCESS]\n"
        "                             [-i PROCESS_ID] [-a ADDRESSES]\n"
        "                             [--sqlite-directory SQLITE_DIRECTORY]\n"
        "                             [--epoch-interval EPOCH_INTERVAL]\n"
        "                             import_str\n"
    )
    for text in [
        "\nScaling:\n",
        "\nRecovery:\n",
        "-p PROCESSES, --processes PROCESSES",
        "-w WORKERS_PER_PROCESS, --workers-per-process WORKERS_PER_PROCESS",
        "-i PROCESS_ID, --process-id PROCESS_ID",
        "-a ADDRESSES, --addresses ADDRESSES",
        "--sqlite-directory SQLITE_DIRECTORY",
        "--epoch-interval EPOCH_INTERVAL",
    ]:
        assert text in out
    flat = " ".join(out.split())
    for name in _ENV_NAMES[:6]:
        assert f"[env: {name}]" in flat
    assert '"localhost:2021;localhost:2022;localhost:2023"' in flat


def test_parse_leaves_environment_alone(monkeypatch):
    before = dict(os.environ)
    parse(monkeypatch, "dataflow")
    assert dict(os.environ) == before
