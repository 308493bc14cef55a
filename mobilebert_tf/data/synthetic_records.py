"""Learnable synthetic pretraining records, for tests and benchmarks: no corpus needed."""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import tensorflow as tf

INT_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                "masked_lm_ids", "next_sentence_labels")


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
