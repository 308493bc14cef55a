"""Serializing `TrainingInstance`s as BERT pretraining `tf.train.Example`s, shard by shard."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import tensorflow as tf

from mobilebert_tf.data.pretraining_instances import TrainingInstance

# The feature names google-research/bert and tf-models-official write and read.
RECORD_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                   "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")

# Suffix of a shard still being written; it is renamed only once every shard is complete.
INCOMPLETE_SUFFIX = ".incomplete"


def _int_feature(values) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _float_feature(values) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def instance_to_example(instance: TrainingInstance, seq_length: int,
                        max_predictions_per_seq: int) -> tf.train.Example:
    """Pads one instance to fixed lengths with the standard BERT feature names.

    Raises:
        ValueError: the instance is longer than `seq_length` or has too many predictions.
    """
    n = len(instance.tokens)
    k = len(instance.masked_lm_positions)
    if n > seq_length:
        raise ValueError(f"Instance of {n} tokens exceeds seq_length={seq_length}.")
    if k > max_predictions_per_seq:
        raise ValueError(f"Instance has {k} predictions > max_predictions_per_seq="
                         f"{max_predictions_per_seq}.")
    pad = seq_length - n
    pad_k = max_predictions_per_seq - k
    features = {
        "input_ids": _int_feature(np.concatenate([instance.tokens, np.zeros(pad, np.int32)])),
        "input_mask": _int_feature([1] * n + [0] * pad),
        "segment_ids": _int_feature(np.concatenate([instance.segment_ids,
                                                    np.zeros(pad, np.int32)])),
        "masked_lm_positions": _int_feature(list(instance.masked_lm_positions) + [0] * pad_k),
        "masked_lm_ids": _int_feature(list(instance.masked_lm_ids) + [0] * pad_k),
        "masked_lm_weights": _float_feature([1.0] * k + [0.0] * pad_k),
        "next_sentence_labels": _int_feature([1 if instance.is_random_next else 0]),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))


def write_examples(path: str, examples: Iterable[tf.train.Example]) -> int:
    """Writes examples to `path + INCOMPLETE_SUFFIX`; the caller renames it when all is done.

    Serialization is deterministic (sorted feature keys), so the same examples give the same
    bytes. On any error the partial file is removed before the error propagates.

    Returns:
        The number of records written.
    """
    tmp = path + INCOMPLETE_SUFFIX
    count = 0
    try:
        with tf.io.TFRecordWriter(tmp) as writer:
            for example in examples:
                writer.write(example.SerializeToString(deterministic=True))
                count += 1
    except BaseException:
        if tf.io.gfile.exists(tmp):
            tf.io.gfile.remove(tmp)
        raise
    return count


def finalize_shards(paths: Iterable[str]) -> None:
    """Renames every `path + INCOMPLETE_SUFFIX` to `path` (called once all shards are done)."""
    for path in paths:
        tf.io.gfile.rename(path + INCOMPLETE_SUFFIX, path, overwrite=True)


def remove_incomplete(paths: Iterable[str]) -> None:
    """Deletes leftover `*.incomplete` files of a failed run (never directories)."""
    for path in paths:
        tmp = path + INCOMPLETE_SUFFIX
        if tf.io.gfile.exists(tmp) and not tf.io.gfile.isdir(tmp):
            tf.io.gfile.remove(tmp)
