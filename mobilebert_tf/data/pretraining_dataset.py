"""`pretraining_dataset`: the one tf.data pipeline over BERT pretraining TFRecords, used by
training, evaluation, int8 calibration and the data benchmark.

Every path goes through `tf.io.gfile`, so records may sit in a bucket (`gs://...`). Under
`tf.distribute` each input pipeline (one per host, from `distribute_datasets_from_function`)
reads its own files: a TPU pod's hosts never read each other's shards.

The order is a stateless function of `seed`, so a restarted run resumes in O(1):
- pipeline p reads every P-th file; its files are read in passes, each pass in an order
  drawn from `(seed, p, pass)`;
- consecutive files of a pass form *windows* of `files_per_window` files, read in parallel
  and interleaved record by record;
- records are shuffled within blocks of `shuffle_block` consecutive records of a window, by
  a permutation drawn from `(seed, p, window, block)`.
Each batch carries its position, `(pipeline, window, index in window)` of its last record;
`start` resumes right after such a position by re-reading at most one window, whatever the
step (the training loop checkpoints the positions).

Two kinds of records are read (`pretraining_records`): masked ones as they are, unmasked ones
with masks drawn anew at every read (`dynamic_masking`), seeded by `seed` and the batch's
position, so resuming draws the masks an uninterrupted run draws.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from mobilebert_tf.data import pretraining_records
from mobilebert_tf.errors import InputError

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
# Batch key of the data position: int32 [3] = (input pipeline, window, index in window) of
# the batch's last record.
POSITION_KEY = "data_position"


def record_feature_spec(seq_length: int, max_predictions_per_seq: int | None,
                        use_next_sentence_label: bool = True) -> dict:
    """`tf.io.parse_example` spec of a BERT pretraining record; `max_predictions_per_seq`
    None: an unmasked record (no `masked_lm_*` features)."""
    spec = {
        "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
    }
    if max_predictions_per_seq is not None:
        spec.update({
            "masked_lm_positions": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
            "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
            "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
        })
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
    """Sorted files matching comma-separated or listed glob patterns (any TF filesystem).

    Raises:
        InputError: a pattern matches nothing or cannot be listed (e.g. no such bucket).
    """
    if isinstance(file_patterns, str):
        file_patterns = [p for p in file_patterns.split(",") if p.strip()]
    files = []
    for pattern in file_patterns:
        try:
            matched = tf.io.gfile.glob(pattern.strip())
        except tf.errors.OpError as e:
            raise InputError(f"Cannot list pretraining records {pattern!r}: "
                              f"{e.message}") from None
        if not matched:
            raise InputError(f"No pretraining records match {pattern!r}.")
        files.extend(matched)
    if not files:
        raise InputError(f"No pretraining records match {file_patterns!r}.")
    return sorted(set(files))


def record_lengths(path: str) -> tuple[int, int | None]:
    """`(seq_length, max_predictions)` of the first record of `path`; `max_predictions` is
    None for an unmasked record (dynamic masking).

    Raises:
        InputError: unreadable, empty, or not a BERT pretraining record.
    """
    try:
        first = next(iter(tf.data.TFRecordDataset([path]).take(1)), None)
    except tf.errors.OpError as e:
        raise InputError(f"Cannot read {path}: {e.message}") from None
    if first is None:
        raise InputError(f"{path} holds no records.")
    try:
        features = tf.train.Example.FromString(first.numpy()).features.feature
    except Exception:  # protobuf's DecodeError: not a tf.train.Example.
        raise InputError(f"{path} does not hold tf.train.Example records.") from None
    missing = [n for n in pretraining_records.UNMASKED_FEATURES if n not in features]
    masks = [n for n in pretraining_records.MASK_FEATURES if n in features]
    if masks and len(masks) < len(pretraining_records.MASK_FEATURES):
        missing += [n for n in pretraining_records.MASK_FEATURES if n not in masks]
    if missing:
        raise InputError(f"{path} lacks pretraining features {missing}.")
    kinds = {n: "float_list" if n == "masked_lm_weights" else "int64_list"
             for n in (*pretraining_records.UNMASKED_FEATURES, *masks)}
    wrong = {n: features[n].WhichOneof("kind") for n, kind in kinds.items()
             if features[n].WhichOneof("kind") != kind}
    if wrong:
        raise InputError(f"{path}: pretraining features of the wrong type {wrong} (expected "
                         "int64_list, float_list for masked_lm_weights).")
    seq_length = len(features["input_ids"].int64_list.value)
    return seq_length, len(features["masked_lm_positions"].int64_list.value) if masks else None


def unreadable_record_file(files: Sequence[str]) -> tuple[str, str] | None:
    """`(path, TensorFlow's message)` of the first of `files` that does not read to its end (a
    truncated or corrupt record), or None: run after a `DataLossError`, which names no file."""
    for path in files:
        try:
            tf.data.TFRecordDataset([path]).reduce(np.int64(0), lambda count, _: count + 1)
        except tf.errors.DataLossError as e:
            return path, e.message
    return None


def check_record_shapes(files: Sequence[str], seq_length: int, max_predictions: int) -> bool:
    """Checks the first record of every file against the settings, so that a mismatch is
    reported before anything is built (not as a parse error mid-graph); returns True for
    masked records, False for unmasked ones (dynamic masking).

    Raises:
        InputError: a file of other lengths, or files of both kinds.
    """
    kinds = {}
    for path in files:
        seq, predictions = record_lengths(path)
        if seq != seq_length or predictions not in (None, max_predictions):
            raise InputError(f"{path} has seq_length {seq} and max_predictions {predictions}, "
                             f"but seq_length={seq_length} and max_predictions="
                             f"{max_predictions} were asked for.")
        kinds.setdefault(predictions is not None, path)
    if len(kinds) > 1:
        raise InputError(f"{kinds[True]} holds masked records and {kinds[False]} unmasked "
                         "ones (dynamic masking); train on one kind at a time.")
    return next(iter(kinds))


def pipeline_files(files: Sequence[str],
                   input_context: tf.distribute.InputContext | None) -> list[str]:
    """The files input pipeline `input_context.input_pipeline_id` reads: every P-th.

    Raises:
        InputError: fewer files than input pipelines.
    """
    pipelines = input_context.num_input_pipelines if input_context else 1
    if len(files) < pipelines:
        raise InputError(f"{len(files)} record files cannot be split over {pipelines} input "
                          "pipelines; write more shards (--num_shards).")
    return list(files)[input_context.input_pipeline_id::pipelines] if input_context else list(
        files)


def resume_start(positions, input_context: tf.distribute.InputContext | None
                 ) -> tuple[int, int] | None:
    """This pipeline's `start` from a checkpoint's positions (`[replicas, 3]` rows of
    `(pipeline, window, index)`, -1 where none), or None to start from the beginning.

    Raises:
        InputError: the positions were written by another number of input pipelines.
    """
    if positions is None:
        return None
    pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline = input_context.input_pipeline_id if input_context else 0
    rows = [tuple(int(v) for v in row) for row in positions if row[1] >= 0]
    if not rows:
        return None
    seen = {row[0] for row in rows}
    if seen != set(range(pipelines)):
        raise InputError(f"The checkpoint's data positions come from input pipelines "
                         f"{sorted(seen)}, but this run has {pipelines}; resume on the same "
                         "number of hosts (or per_replica_input setting).")
    return max(row[1:] for row in rows if row[0] == pipeline)


def _window_records(files: tf.Tensor, window: tf.Tensor, seed: tf.Tensor, shuffle: bool,
                    files_per_window: int, shuffle_block: int, skip: tf.Tensor
                    ) -> tf.data.Dataset:
    """`(serialized record, index in window)` of one window in its stateless order, from
    index `skip` on. Whole shuffle blocks before `skip` are skipped as raw records (read,
    never shuffled)."""
    num_files = tf.size(files, out_type=tf.int64)
    windows_per_pass = (num_files + files_per_window - 1) // files_per_window
    order = tf.range(num_files)
    if shuffle:
        pass_seed = tf.random.experimental.stateless_fold_in(seed, window // windows_per_pass)
        order = tf.random.experimental.stateless_shuffle(order, pass_seed)
    first = (window % windows_per_pass) * files_per_window
    names = tf.gather(files, order[first:first + files_per_window])
    records = tf.data.Dataset.from_tensor_slices(names).interleave(
        tf.data.TFRecordDataset, cycle_length=files_per_window, block_length=1,
        num_parallel_calls=files_per_window, deterministic=True)
    first_block = skip // shuffle_block if shuffle else 0
    unshuffled = first_block * shuffle_block if shuffle else skip
    records = records.skip(unshuffled)
    if shuffle:
        window_seed = tf.random.experimental.stateless_fold_in(seed, -1 - window)

        def permute(block_index, block):
            block_seed = tf.random.experimental.stateless_fold_in(window_seed, block_index)
            return tf.gather(block, tf.random.experimental.stateless_shuffle(
                tf.range(tf.size(block)), block_seed))

        records = records.batch(shuffle_block).enumerate(first_block).map(permute).unbatch()
    records = records.enumerate(unshuffled).map(lambda index, record: (record, index))
    return records.skip(skip - unshuffled)


def pretraining_dataset(file_patterns: str | Sequence[str], seq_length: int,
                        max_predictions_per_seq: int, global_batch_size: int,
                        input_context: tf.distribute.InputContext | None = None,
                        seed: int = 0, shuffle: bool = True, repeat: bool = True,
                        start: Sequence[int] | None = None, with_position: bool = False,
                        files_per_window: int = 8, shuffle_block: int = 10000,
                        use_next_sentence_label: bool = True) -> tf.data.Dataset:
    """Batches of model inputs from BERT pretraining TFRecords, in a stateless order.

    Batches have static shapes (`drop_remainder=True`); the same arguments give the same
    batches in any process.

    Args:
        file_patterns: glob pattern(s) of TFRecord files, on any TF filesystem.
        seq_length: sequence length the records were written with.
        max_predictions_per_seq: likewise (masked records); the cap of masks drawn for
            unmasked ones.
        global_batch_size: batch size over all replicas.
        input_context: from `strategy.distribute_datasets_from_function`; None for one
            pipeline.
        seed: seed of the file and record order.
        shuffle: shuffle files and records; False reads files in sorted order.
        repeat: repeat forever (training); False for one pass.
        start: `(window, index)` of the last record this pipeline consumed (its position
            from a checkpoint): the dataset continues right after it. None: from the start.
        with_position: add `POSITION_KEY`, this pipeline's position after the batch.
        files_per_window: files read in parallel and interleaved (a window).
        shuffle_block: records shuffled together.
        use_next_sentence_label: parse `next_sentence_labels`.

    Returns:
        A dataset of dicts: `input_word_ids`, `input_mask`, `input_type_ids` int32
        `[batch, seq_length]`; `masked_lm_positions`, `masked_lm_ids` int32 and
        `masked_lm_weights` float32 `[batch, max_predictions_per_seq]`; `next_sentence_labels`
        int32 `[batch, 1]`; with `with_position`, `POSITION_KEY` int32 `[3]`. `batch` is the
        per-replica batch size.

    Raises:
        InputError: no files, fewer files than input pipelines, or unmasked records without
            the vocab written beside them.
    """
    files = pipeline_files(list_record_files(file_patterns), input_context)
    batch_size = global_batch_size
    pipeline = 0
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
        pipeline = input_context.input_pipeline_id
    files_per_window = min(files_per_window, len(files))
    start_window, start_index = (0, -1) if start is None else (int(start[0]), int(start[1]))
    windows_per_pass = -(-len(files) // files_per_window)
    windows = (tf.data.Dataset.counter(start_window) if repeat
               else tf.data.Dataset.range(start_window, windows_per_pass))
    files_t = tf.constant(files)
    pipeline_seed = tf.constant([seed, pipeline], tf.int64)

    def window_dataset(window):
        skip = tf.where(window == start_window, tf.cast(start_index + 1, tf.int64), 0)
        records = _window_records(files_t, window, pipeline_seed, shuffle, files_per_window,
                                  shuffle_block, skip)
        return records.map(lambda record, index: (record, tf.stack(
            [tf.constant(pipeline, tf.int64), window, index])))

    masked = record_lengths(files[0])[1] is not None
    masking = None
    if not masked:
        from mobilebert_tf.data.dynamic_masking import mask_batch, masking_for_records
        masking = masking_for_records(files, max_predictions_per_seq)
    logging.info("Pipeline %d reads %d files of %s records.", pipeline, len(files),
                 "masked" if masked else "unmasked (dynamic masking)")
    spec = record_feature_spec(seq_length, max_predictions_per_seq if masked else None,
                               use_next_sentence_label)

    def parse(records, positions):
        batch = to_model_inputs(tf.io.parse_example(records, spec))
        if masking is not None:
            last = positions[-1]
            batch_seed = tf.random.experimental.stateless_fold_in(
                tf.random.experimental.stateless_fold_in(pipeline_seed, last[1]), last[2])
            batch = mask_batch(batch, batch_seed, masking)
        if with_position:
            batch[POSITION_KEY] = tf.cast(positions[-1], tf.int32)
        return batch

    # Batch first, then parse the whole batch at once: much cheaper than per-record parsing.
    dataset = windows.flat_map(window_dataset).batch(batch_size, drop_remainder=True)
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
