"""Deterministic synthetic text with Zipf-distributed words, for benchmarks.

The same seed and size always give the same bytes (``random.Random`` with an
integer seed is stable across CPython versions). Words are made-up lowercase
strings, shortest words most frequent, as in natural language. Lines hold
10-15 words with capitals, commas, sentence ends, the odd quoted word and the
odd number (which the seed's tokenizer drops), and there are no empty lines
(FileInput would stop there).
"""

import os
import random
import string
from itertools import accumulate
from pathlib import Path

VOCABULARY_SIZE = 100_000
ZIPF_EXPONENT = 1.0
SEED = 20230101
TOKENS_PER_BATCH = 200_000
LETTERS = string.ascii_lowercase


def make_vocabulary(rng, size=VOCABULARY_SIZE):
    """``size`` distinct made-up words, ordered shortest first."""
    words = set()
    while len(words) < size:
        length = rng.randint(2, 12)
        word = "".join(rng.choices(LETTERS, k=length))
        # A few contractions and compounds, which the tokenizer keeps whole.
        roll = rng.random()
        if roll < 0.01:
            word = "'" + word
        elif roll < 0.02:
            cut = length // 2
            word = word[:cut] + "-" + word[cut:]
        words.add(word)
    return sorted(words, key=lambda w: (len(w), w))


def zipf_cumulative_weights(size, exponent=ZIPF_EXPONENT):
    return list(accumulate(1.0 / rank**exponent for rank in range(1, size + 1)))


def decorated_line(rng, words):
    """Join ``words`` into one sentence-like line."""
    out = []
    for word in words:
        roll = rng.random()
        if roll < 0.01:
            out.append(str(rng.randint(0, 9999)))
        if roll < 0.02:
            word = f'"{word}"'
        elif roll < 0.10:
            word += rng.choice(",;:")
        out.append(word)
    out[0] = out[0].capitalize()
    out[-1] = out[-1].rstrip(",;:") + rng.choice("..!?")
    return " ".join(out) + "\n"


def generate_lines(rng, target_bytes):
    vocabulary = make_vocabulary(rng)
    weights = zipf_cumulative_weights(len(vocabulary))
    written = 0
    while written < target_bytes:
        tokens = rng.choices(vocabulary, cum_weights=weights, k=TOKENS_PER_BATCH)
        start = 0
        while start < len(tokens) and written < target_bytes:
            end = start + rng.randint(10, 15)
            line = decorated_line(rng, tokens[start:end])
            written += len(line)
            start = end
            yield line


def text_path(data_dir, size_mb, seed=SEED):
    return Path(data_dir) / f"zipf-{size_mb}mb-seed{seed}.txt"


def ensure_text(data_dir, size_mb, seed=SEED):
    """Return the path of the ``size_mb`` MB text, generating it if absent."""
    path = text_path(data_dir, size_mb, seed)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {path} ...", flush=True)
    partial = path.with_suffix(".partial")
    with open(partial, "w") as out:
        out.writelines(generate_lines(random.Random(seed), size_mb * 1_000_000))
    # Renamed only when complete, so an interrupted run is not reused.
    os.replace(partial, path)
    return path
