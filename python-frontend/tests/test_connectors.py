"""Built-in connectors (files and stdio) driven through real dataflows."""

import re

import pytest

from bytewax.connectors.files import CSVInput, DirInput, DirOutput, FileInput, FileOutput
from bytewax.connectors.stdio import StdOutput
from bytewax.dataflow import Dataflow
from bytewax.inputs import PartitionedInput
from bytewax.outputs import DynamicOutput, PartitionedOutput
from bytewax.testing import TestingInput, TestingOutput, run_main


def _read_all(flow_input):
    flow = Dataflow()
    flow.input("inp", flow_input)
    out = []
    flow.output("out", TestingOutput(out))
    run_main(flow)
    return out


def _write_all(items, flow_output):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.output("write", flow_output)
    downstream = []
    flow.output("out", TestingOutput(downstream))
    run_main(flow)
    return downstream


def test_file_input_emits_lines_without_newlines(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("one\ntwo words\nthree\n")
    assert _read_all(FileInput(path)) == ["one", "two words", "three"]


def test_file_input_accepts_a_str_path_and_a_last_line_without_newline(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("a\nb")
    assert _read_all(FileInput(str(path))) == ["a", "b"]


def test_file_input_is_one_partition_named_after_the_path(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("a\n")
    file_input = FileInput(path)
    assert isinstance(file_input, PartitionedInput)
    assert file_input.list_parts() == {str(path)}


def test_file_input_resumes_after_its_snapshot(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("a\nb\nc\n")
    part = str(path)
    source = FileInput(path).build_part(part, None)
    assert source.next() == "a"
    state = source.snapshot()
    source.close()
    resumed = FileInput(path).build_part(part, state)
    assert [resumed.next(), resumed.next()] == ["b", "c"]
    with pytest.raises(StopIteration):
        resumed.next()
    resumed.close()


def test_file_input_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        _read_all(FileInput(tmp_path / "absent.txt"))


def test_dir_input_reads_every_file_in_the_directory(tmp_path):
    (tmp_path / "a.txt").write_text("a1\na2\n")
    (tmp_path / "b.txt").write_text("b1\n")
    (tmp_path / "c.log").write_text("c1\n")
    out = _read_all(DirInput(tmp_path))
    assert sorted(out) == ["a1", "a2", "b1", "c1"]
    assert [x for x in out if x.startswith("a")] == ["a1", "a2"]


def test_dir_input_has_one_partition_per_matching_file(tmp_path):
    (tmp_path / "a.txt").write_text("a1\n")
    (tmp_path / "b.log").write_text("b1\n")
    assert DirInput(tmp_path).list_parts() == {"a.txt", "b.log"}
    assert DirInput(tmp_path, glob_pat="*.txt").list_parts() == {"a.txt"}


def test_dir_input_glob_selects_files(tmp_path):
    (tmp_path / "a.txt").write_text("a1\n")
    (tmp_path / "b.log").write_text("b1\n")
    assert _read_all(DirInput(tmp_path, glob_pat="*.txt")) == ["a1"]


def test_dir_input_missing_directory_fails_at_construction(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match=re.escape(f"input directory `{missing}` does not exist")):
        DirInput(missing)


def test_dir_input_on_a_file_fails_at_construction(tmp_path):
    a_file = tmp_path / "f.txt"
    a_file.write_text("x\n")
    not_a_dir = f"input directory `{a_file}` is not a directory"
    with pytest.raises(ValueError, match=re.escape(not_a_dir)):
        DirInput(a_file)


def test_csv_input_emits_a_dict_per_row_keyed_by_header(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name,age\nann,3\nbob,4\n")
    assert _read_all(CSVInput(path)) == [{"name": "ann", "age": "3"},
                                         {"name": "bob", "age": "4"}]


def test_csv_input_passes_format_parameters_to_csv(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name;note\nann;'a;b'\n")
    assert _read_all(CSVInput(path, delimiter=";", quotechar="'")) == [
        {"name": "ann", "note": "a;b"}]


def test_file_output_writes_each_value_on_its_own_line(tmp_path):
    path = tmp_path / "out.txt"
    _write_all([("k", "first"), ("k", "second")], FileOutput(path))
    assert path.read_text() == "first\nsecond\n"


def test_file_output_custom_line_end(tmp_path):
    path = tmp_path / "out.txt"
    _write_all([("k", "x"), ("k", "y")], FileOutput(str(path), end="|"))
    assert path.read_text() == "x|y|"


def test_file_output_overwrites_on_a_fresh_run(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("stale content\n")
    _write_all([("k", "fresh")], FileOutput(path))
    assert path.read_text() == "fresh\n"


def test_file_output_is_partitioned_and_passes_pairs_downstream(tmp_path):
    path = tmp_path / "out.txt"
    file_output = FileOutput(path)
    assert isinstance(file_output, PartitionedOutput)
    assert _write_all([("k", "x")], file_output) == [("k", "x")]


def test_dir_output_spreads_keys_over_files(tmp_path):
    items = [(str(i), f"v{i}") for i in range(6)]
    _write_all(items, DirOutput(tmp_path, 3, assign_file=int))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part_0", "part_1", "part_2"]
    assert (tmp_path / "part_0").read_text() == "v0\nv3\n"
    assert (tmp_path / "part_1").read_text() == "v1\nv4\n"
    assert (tmp_path / "part_2").read_text() == "v2\nv5\n"


def test_dir_output_file_namer_gets_index_and_count(tmp_path):
    items = [(str(i), f"v{i}") for i in range(4)]
    _write_all(items, DirOutput(tmp_path, 2, file_namer=lambda i, n: f"{i}-of-{n}.txt",
                                assign_file=int))
    assert (tmp_path / "0-of-2.txt").read_text() == "v0\nv2\n"
    assert (tmp_path / "1-of-2.txt").read_text() == "v1\nv3\n"


def test_dir_output_default_assignment_keeps_a_key_in_one_file(tmp_path):
    items = [(k, f"{k}{i}") for i in range(3) for k in ("alpha", "beta", "gamma")]
    _write_all(items, DirOutput(tmp_path, 2))
    contents = [p.read_text().split() for p in sorted(tmp_path.iterdir())]
    assert sorted(sum(contents, [])) == sorted(v for _, v in items)
    for key in ("alpha", "beta", "gamma"):
        assert sum(any(v.startswith(key) for v in c) for c in contents) == 1
        holder = next(c for c in contents if any(v.startswith(key) for v in c))
        assert [v for v in holder if v.startswith(key)] == [f"{key}0", f"{key}1", f"{key}2"]


def test_std_output_prints_each_item(capfd):
    assert isinstance(StdOutput(), DynamicOutput)
    downstream = _write_all([1, "text", ("k", 2)], StdOutput())
    assert capfd.readouterr().out == "1\ntext\n('k', 2)\n"
    assert downstream == [1, "text", ("k", 2)]


def test_file_to_file_round_trip(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("hello world\nhello\n")
    target = tmp_path / "out.txt"
    flow = Dataflow()
    flow.input("inp", FileInput(source))
    flow.flat_map(str.split)
    flow.map(lambda word: ("words", word.upper()))
    flow.output("out", FileOutput(target))
    run_main(flow)
    assert target.read_text() == "HELLO\nWORLD\nHELLO\n"
