"""`pretraining_dataset`: the tf.data input pipeline over BERT pretraining TFRecords."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

# Standard BERT record feature name -> model input name (TF-Hub BERT signature).
RECORD_TO_MODEL_NAMES = {
    "input_ids": "input_word_ids",
    "input_mask": "input_mask",
    "segment_ids": "input_type_ids",
    "masked_lm_positions": "masked_lm_positions",
    "masked_lm_ids": "masked_lm_ids",
    "masked_lm_weights": "masked_lm_weights",
    "next_sentence_labels": "next_sentence_labels",
}


def record_feature_spec(seq_length: int, max_predictions_per_seq: int,
                        use_next_sentence_label: bool = True) -> dict:
    """`tf.io.parse_example` spec of a BERT pretraining record."""
    spec = {
        "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
    }
    if use_next_sentence_label:
        spec["next_sentence_labels"] = tf.io.FixedLenFeature([1], tf.int64)
    return spec


def to_model_inputs(record: dict) -> dict:
    """Renames standard BERT record features to model input names; int64 becomes int32.

    Args:
        record: dict with some of `input_ids, input_mask, segment_ids, masked_lm_positions,
            masked_lm_ids, masked_lm_weights, next_sentence_labels`.

    Returns:
        dict keyed `input_word_ids, input_mask, input_type_ids, masked_lm_*,
        next_sentence_labels`.

    Raises:
        ValueError: a key is not a BERT record feature name.
    """
    unknown = sorted(set(record) - set(RECORD_TO_MODEL_NAMES))
    if unknown:
        raise ValueError(f"Not BERT pretraining record features: {unknown}; expected names from "
                         f"{sorted(RECORD_TO_MODEL_NAMES)}.")
    out = {}
    for name, value in record.items():
        if value.dtype == tf.int64:
            value = tf.cast(value, tf.int32)
        out[RECORD_TO_MODEL_NAMES[name]] = value
    return out


def list_record_files(file_patterns: str | Sequence[str]) -> list[str]:
    """Sorted files matching comma-separated or listed glob patterns.

    Raises:
        ValueError: a pattern matches nothing.
    """
    if isinstance(file_patterns, str):
        file_patterns = [p for p in file_patterns.split(",") if p.strip()]
    files = []
    for pattern in file_patterns:
        matched = tf.io.gfile.glob(pattern.strip())
        if not matched:
            raise ValueError(f"No pretraining records match {pattern!r}.")
        files.extend(matched)
    return sorted(set(files))


def pretraining_dataset(file_patterns: str | Sequence[str], seq_length: int,
                        max_predictions_per_seq: int, global_batch_size: int,
                        input_context: tf.distribute.InputContext | None = None,
                        seed: int | None = None, shuffle: bool = True, repeat: bool = True,
                        shuffle_buffer_size: int = 10000, cycle_length: int = 8,
                        use_next_sentence_label: bool = True) -> tf.data.Dataset:
    """Batches of model inputs from BERT pretraining TFRecords.

    Each input pipeline (one per host under `tf.distribute`) reads its own subset of files, so
    there must be at least as many files as pipelines. Batches have static shapes
    (`drop_remainder=True`). Given a `seed` the order is deterministic.

    Args:
        file_patterns: glob pattern(s) of TFRecord files.
        seq_length: sequence length the records were written with.
        max_predictions_per_seq: likewise.
        global_batch_size: batch size over all replicas.
        input_context: from `strategy.distribute_datasets_from_function`; None for one
            pipeline.
        seed: shuffle seed; None for a different order each run.
        shuffle: shuffle files and records.
        repeat: repeat forever (training); False for one pass.
        shuffle_buffer_size: records in the shuffle buffer.
        cycle_length: files read at once.
        use_next_sentence_label: parse `next_sentence_labels`.

    Returns:
        A dataset of dicts: `input_word_ids`, `input_mask`, `input_type_ids` int32
        `[batch, seq_length]`; `masked_lm_positions`, `masked_lm_ids` int32 and
        `masked_lm_weights` float32 `[batch, max_predictions_per_seq]`; `next_sentence_labels`
        int32 `[batch, 1]`. `batch` is the per-replica batch size.

    Raises:
        ValueError: no files, fewer files than input pipelines, or a batch size that does not
            divide over replicas.
    """
    files = list_record_files(file_patterns)
    batch_size = global_batch_size
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
        if input_context.num_input_pipelines > 1:
            if len(files) < input_context.num_input_pipelines:
                raise ValueError(f"{len(files)} record files cannot be split over "
                                 f"{input_context.num_input_pipelines} input pipelines; write "
                                 "more shards (--shards_per_dupe).")
            dataset = dataset.shard(input_context.num_input_pipelines,
                                    input_context.input_pipeline_id)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(cycle_length, len(files)),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
    spec = record_feature_spec(seq_length, max_predictions_per_seq, use_next_sentence_label)
    # Batch first, then parse the whole batch at once: much cheaper than per-record parsing.
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.map(lambda records: to_model_inputs(tf.io.parse_example(records, spec)),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
