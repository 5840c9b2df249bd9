"""The seed wordcount (examples/wordcount/dataflow.py) run as users run it.

The expected counts are computed here, independently of any dataflow, from the
sample text with the seed's tokenizing rule. The flow reduces in 5 s tumbling
system-clock windows, so a run that straddles a window boundary may print a
word twice; counts are therefore summed per word before comparing.
"""

import ast
import re
from collections import Counter

import pytest

SEED_WORD_PATTERN = r'[^\s!,.?":;0-9]+'


def expected_word_counts(text_path):
    """Count words the way the seed flow does: lowercase, seed regex."""
    counts = Counter()
    for line in text_path.read_text().splitlines():
        counts.update(re.findall(SEED_WORD_PATTERN, line.lower()))
    return counts


def summed_output_counts(stdout):
    """Parse ``('word', n)`` lines and add up counts per word."""
    totals = Counter()
    for line in stdout.splitlines():
        if not line.strip():
            continue
        word, count = ast.literal_eval(line)
        assert isinstance(word, str) and isinstance(count, int), line
        totals[word] += count
    return totals


def test_sample_text_has_no_blank_line_to_stop_file_input(sample_text):
    # FileInput stops at the first empty line; the expected counts cover the
    # whole file, so the sample must not contain one.
    lines = sample_text.read_text().splitlines()
    assert lines, "sample text is empty"
    assert all(line.strip() for line in lines)


@pytest.mark.parametrize(
    "import_str, on_path",
    [
        ("examples/wordcount/dataflow.py:flow", False),
        ("dataflow:flow", True),
        ("dataflow", True),
    ],
    ids=["file-path", "module-attr", "module-default-attr"],
)
def test_seed_wordcount_counts_every_word(
    run_bytewax, sample_text, wordcount_dir, import_str, on_path
):
    pythonpath = [wordcount_dir] if on_path else None
    result = run_bytewax(import_str, pythonpath=pythonpath)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert summed_output_counts(result.stdout) == expected_word_counts(sample_text)

