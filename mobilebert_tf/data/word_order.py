"""A downstream task that needs word order: is a sentence as written (label 1, "original") or
with two adjacent words swapped (label 0, "swapped")?

Both versions of a sentence hold the same words, so a bag-of-words model scores at chance and
sentiment-style shortcuts do not exist; a model that reads order can tell a swapped pair of
words from the usual one. Built from real held-out text (the demo's held-out documents: text
that pretraining never saw), each sentence used once, as the original or swapped by a fair
coin, and split by document so that no document has sentences on both sides.
"""

from __future__ import annotations

import collections
import csv
import io
import re
from typing import Sequence

import numpy as np

from mobilebert_tf import fileio
from mobilebert_tf.data.classification import TextExample

LABELS = ("swapped", "original")
SPLITS = ("train", "validation")
_WORD = re.compile(r"[A-Za-z]+")


def swap_positions(words: Sequence[str]) -> list[int]:
    """Positions i (never the first word, whose capital would give a swap away in a cased
    model) where words i and i+1 are both plain alphabetic words and differ: swapping them
    changes the order but no token's spelling."""
    return [i for i in range(1, len(words) - 1)
            if _WORD.fullmatch(words[i]) and _WORD.fullmatch(words[i + 1])
            and words[i].lower() != words[i + 1].lower()]


def word_order_examples(documents: Sequence[Sequence[str]], seed: int = 0,
                        dev_every: int = 4, min_words: int = 6,
                        max_words: int = 30) -> dict[str, list[TextExample]]:
    """`{"train": [...], "validation": [...]}` word-order examples from `documents` (lists of
    sentences, e.g. `documents.read_documents` of held-out text).

    Args:
        documents: the source text; document k goes to validation when `k % dev_every == 0`.
        seed: the coin (original or swapped) and the swapped position.
        min_words / max_words: sentences with another number of whitespace-separated words
            are skipped (short ones have no room for a swap; long ones may be truncated at
            the model's sequence length, possibly cutting the swap off).

    Raises:
        ValueError: `dev_every` < 2, or the documents give no example on one side.
    """
    if dev_every < 2:
        raise ValueError(f"dev_every must be >= 2; got dev_every={dev_every}.")
    rng = np.random.default_rng(seed)
    splits: dict[str, list[TextExample]] = {split: [] for split in SPLITS}
    for k, document in enumerate(documents):
        split = "validation" if k % dev_every == 0 else "train"
        for sentence in document:
            words = sentence.split()
            positions = swap_positions(words)
            if not min_words <= len(words) <= max_words or not positions:
                continue
            label = int(rng.integers(2))
            if label == 0:
                i = positions[int(rng.integers(len(positions)))]
                words[i], words[i + 1] = words[i + 1], words[i]
            examples = splits[split]
            examples.append(TextExample(f"{split}-{len(examples)}", " ".join(words), None, label))
    for split, examples in splits.items():
        if not examples:
            raise ValueError(f"The documents give no {split} example of {min_words}-"
                             f"{max_words} words with a swappable pair of words.")
    return splits


def write_word_order_data(examples: dict[str, list[TextExample]], data_dir: str) -> dict:
    """`<data_dir>/<split>.tsv` (columns `sentence`, `label`) of `word_order_examples`;
    returns `{split: (path, count)}`. Any TF filesystem."""
    written = {}
    for split, rows in examples.items():
        text = io.StringIO()
        writer = csv.writer(text, delimiter="\t", lineterminator="\n")
        writer.writerow(("sentence", "label"))
        writer.writerows((ex.text_a, ex.label) for ex in rows)
        path = fileio.write_text(f"{data_dir.rstrip('/')}/{split}.tsv", text.getvalue())
        written[split] = (path, len(rows))
    return written


def read_word_order(data_dir: str, split: str) -> list[TextExample]:
    """The examples `write_word_order_data` wrote for `split`.

    Raises:
        ValueError: an unknown split, or a row that is not `sentence<TAB>0|1`.
        FileNotFoundError: no such file.
    """
    if split not in SPLITS:
        raise ValueError(f"The word-order task has splits {SPLITS}; got {split!r}.")
    path = f"{data_dir.rstrip('/')}/{split}.tsv"
    rows = list(csv.reader(io.StringIO(fileio.read_text(path)), delimiter="\t"))
    examples = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or row[1] not in ("0", "1"):
            raise ValueError(f"{path} line {line}: expected sentence<TAB>0|1, got {row!r}.")
        examples.append(TextExample(f"{split}-{line - 2}", row[0], None, int(row[1])))
    return examples


def naive_bayes_accuracy(train: Sequence[TextExample], dev: Sequence[TextExample],
                         n: int = 1) -> float:
    """Dev accuracy of multinomial naive Bayes on lower-cased word n-gram counts (add-one
    smoothing) trained on `train`: with n = 1 a bag-of-words model, which this task leaves at
    chance; with n = 2 one that sees local order."""

    def features(text):
        words = text.lower().split()
        return collections.Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))

    counts = [collections.Counter(), collections.Counter()]
    for ex in train:
        counts[ex.label].update(features(ex.text_a))
    vocab = set(counts[0]) | set(counts[1])
    totals = [sum(c.values()) + len(vocab) for c in counts]
    prior = np.log(np.maximum(np.bincount([ex.label for ex in train], minlength=2), 1)
                   / len(train))
    correct = 0
    for ex in dev:
        score = prior.copy()
        for feature, k in features(ex.text_a).items():
            score += [k * np.log((counts[c][feature] + 1) / totals[c]) for c in (0, 1)]
        correct += int(np.argmax(score) == ex.label)
    return correct / len(dev)


def order_probe_inputs(documents: Sequence[Sequence[str]], tokenizer, seq_length: int,
                       seed: int = 0, min_words: int = 6,
                       max_words: int = 30) -> dict[str, np.ndarray]:
    """Inputs of the zero-shot word-order probe (`training.evaluation.order_probe_accuracy`):
    per sentence of `documents` that has a swappable pair (`swap_positions`) of words that
    are one word piece each, one such pair (drawn with `seed`) masked, in `[CLS] sentence
    [SEP]`.

    Both orders of the pair then have the same input; a masked LM that reads context puts
    the words back in their written order, one that does not (bag of words) cannot tell.
    Unlike the fine-tuned task, nothing is trained, so every sentence is a test example.

    Args:
        documents: lists of sentences (held-out text).
        tokenizer: the model's `BertInputTokenizer`, as it made the pretraining records.
        seq_length: the model's; longer sentences are skipped.

    Returns:
        numpy int32 arrays: `input_word_ids`, `input_mask`, `input_type_ids` `[n, seq_length]`,
        `masked_lm_positions` `[n, 2]` (the pair's two positions) and `masked_lm_ids`
        `[n, 2]` (their words, as written).

    Raises:
        ValueError: no sentence gives a pair.
    """
    vocab = tokenizer.vocab
    sentences = [s.split() for document in documents for s in document]
    sentences = [w for w in sentences if min_words <= len(w) <= max_words]
    words = [word for sentence in sentences for word in sentence]
    pieces = iter(tokenizer.encode(words) if words else [])
    rng = np.random.default_rng(seed)
    rows = []
    for sentence in sentences:
        word_pieces = [next(pieces) for _ in sentence]
        if 2 + sum(map(len, word_pieces)) > seq_length:
            continue
        candidates = [i for i in swap_positions(sentence)
                      if len(word_pieces[i]) == len(word_pieces[i + 1]) == 1
                      and vocab.unk_id not in word_pieces[i] + word_pieces[i + 1]]
        if not candidates:
            continue
        i = candidates[int(rng.integers(len(candidates)))]
        ids = [vocab.cls_id] + [p for w in word_pieces for p in w] + [vocab.sep_id]
        position = 1 + sum(len(w) for w in word_pieces[:i])
        rows.append((ids, position, (ids[position], ids[position + 1])))
    if not rows:
        raise ValueError(f"No sentence of {min_words}-{max_words} words fits {seq_length} "
                         "pieces with a swappable pair of one-piece words.")
    n = len(rows)
    inputs = {"input_word_ids": np.full([n, seq_length], vocab.pad_id, np.int32),
              "input_mask": np.zeros([n, seq_length], np.int32),
              "input_type_ids": np.zeros([n, seq_length], np.int32),
              "masked_lm_positions": np.zeros([n, 2], np.int32),
              "masked_lm_ids": np.zeros([n, 2], np.int32)}
    for k, (ids, position, pair) in enumerate(rows):
        ids = list(ids)
        ids[position] = ids[position + 1] = vocab.mask_id
        inputs["input_word_ids"][k, :len(ids)] = ids
        inputs["input_mask"][k, :len(ids)] = 1
        inputs["masked_lm_positions"][k] = (position, position + 1)
        inputs["masked_lm_ids"][k] = pair
    return inputs
