"""Pretraining TFRecords in the standard BERT format: a writer (tests, demos) and a reader.

Features: `input_ids`, `input_mask`, `segment_ids` (int64 `[seq_length]`),
`masked_lm_positions`, `masked_lm_ids` (int64 `[max_predictions]`), `masked_lm_weights`
(float `[max_predictions]`), `next_sentence_labels` (int64 `[1]`). The reader renames them to
the model's inputs (`input_word_ids`, `input_type_ids`, ...). It is self-contained so the
project's data layer (`mobilebert_tf.data`) can replace it behind `pretraining_dataset`.
"""

from __future__ import annotations

import glob
from typing import Iterable, Mapping

import numpy as np
import tensorflow as tf

INT_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                "masked_lm_ids", "next_sentence_labels")
RENAMED = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}


def write_pretraining_records(path: str, examples: Iterable[Mapping[str, np.ndarray]]) -> int:
    """Write `examples` (dicts of the features above) to one TFRecord file; returns count."""
    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            feature = {}
            for name in INT_FEATURES:
                values = np.asarray(example[name]).reshape(-1).astype(np.int64)
                feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
            weights = np.asarray(example["masked_lm_weights"], np.float32).reshape(-1)
            feature["masked_lm_weights"] = tf.train.Feature(
                float_list=tf.train.FloatList(value=weights))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature))
                         .SerializeToString())
            count += 1
    return count


def record_files(file_pattern: str) -> list[str]:
    """Sorted files matching a comma-separated list of globs, or a clear error."""
    files = sorted({f for pattern in file_pattern.split(",") for f in glob.glob(pattern)})
    if not files:
        raise FileNotFoundError(f"No record files match {file_pattern!r}.")
    return files


def check_record_shapes(files: list[str], seq_length: int, max_predictions: int) -> None:
    """Read the first record and raise ValueError if its lengths disagree with the flags, so
    the mismatch is reported before any step runs (not as a parse error mid-graph)."""
    first = next(iter(tf.data.TFRecordDataset(files[:1]).take(1)), None)
    if first is None:
        raise ValueError(f"{files[0]} holds no records.")
    features = tf.train.Example.FromString(first.numpy()).features.feature
    missing = [n for n in INT_FEATURES + ("masked_lm_weights",) if n not in features]
    if missing:
        raise ValueError(f"{files[0]} lacks pretraining features {missing}.")
    seq = len(features["input_ids"].int64_list.value)
    predictions = len(features["masked_lm_positions"].int64_list.value)
    if seq != seq_length or predictions != max_predictions:
        raise ValueError(f"{files[0]} has seq_length {seq} and max_predictions "
                         f"{predictions}, but the flags say {seq_length} and "
                         f"{max_predictions}.")


def pretraining_dataset(file_pattern: str, seq_length: int, max_predictions: int,
                        batch_size: int, seed: int = 0, shuffle_buffer: int = 1000,
                        repeat: bool = True, skip_batches: int = 0) -> tf.data.Dataset:
    """Batches of model inputs from pretraining records, in a deterministic order.

    The order depends only on `seed`; `skip_batches` resumes it at a given batch (the data
    position of a restarted run). Skipping re-reads the skipped records, which is cheap for
    the record sizes of a resumed CPU/TPU run here; a very long run would save the iterator
    in the checkpoint instead.
    """
    files = record_files(file_pattern)
    check_record_shapes(files, seq_length, max_predictions)
    spec = {name: tf.io.FixedLenFeature([max_predictions if name.startswith("masked")
                                         else 1 if name == "next_sentence_labels"
                                         else seq_length], tf.int64)
            for name in INT_FEATURES}
    spec["masked_lm_weights"] = tf.io.FixedLenFeature([max_predictions], tf.float32)

    def parse(record):
        parsed = tf.io.parse_single_example(record, spec)
        out = {RENAMED.get(k, k): (tf.cast(v, tf.int32) if v.dtype == tf.int64 else v)
               for k, v in parsed.items()}
        out["next_sentence_labels"] = tf.reshape(out["next_sentence_labels"], [])
        return out

    dataset = tf.data.TFRecordDataset(files)
    if repeat:
        dataset = dataset.repeat()
    if shuffle_buffer > 1:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if skip_batches:
        dataset = dataset.skip(skip_batches)
    return dataset.prefetch(2)


def synthetic_examples(count: int, seq_length: int, max_predictions: int, vocab_size: int,
                       seed: int = 0, mask_id: int = 3, max_stride: int = 3):
    """Learnable synthetic pretraining examples for tests: each sequence is an arithmetic
    progression `start, start + stride, ...` modulo the vocabulary (ids >= 5; 0 is [PAD]),
    with a random length and ~15% of its tokens replaced by `mask_id`. The masked token
    follows from its neighbours, so MLM accuracy measures learning; NSP labels say whether
    the stride (1 to `max_stride`) is even."""
    rng = np.random.default_rng(seed)
    span = vocab_size - 5
    for _ in range(count):
        length = int(rng.integers(seq_length // 2, seq_length + 1))
        stride = int(rng.integers(1, max_stride + 1))
        start = int(rng.integers(0, span))
        tokens = 5 + (start + stride * np.arange(length)) % span
        ids = np.zeros(seq_length, np.int64)
        ids[:length] = tokens
        mask = (np.arange(seq_length) < length).astype(np.int64)
        n_pred = min(max_predictions, max(1, int(round(0.15 * length))))
        positions = np.sort(rng.choice(np.arange(1, length), size=n_pred, replace=False))
        masked_ids = ids[positions].copy()
        ids[positions] = mask_id
        pad = max_predictions - n_pred
        yield {
            "input_ids": ids, "input_mask": mask,
            "segment_ids": (np.arange(seq_length) >= length // 2).astype(np.int64) * mask,
            "masked_lm_positions": np.pad(positions, (0, pad)),
            "masked_lm_ids": np.pad(masked_ids, (0, pad)),
            "masked_lm_weights": np.pad(np.ones(n_pred, np.float32), (0, pad)),
            "next_sentence_labels": np.array([stride % 2]),
        }
