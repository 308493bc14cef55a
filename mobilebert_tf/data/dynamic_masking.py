"""Dynamic masking (RoBERTa): masked-LM targets drawn in the input pipeline, anew every time a
record is read, from unmasked records.

The draw follows the records' `MaskingConfig` exactly as static masking does when it writes
records: `round(masked_lm_prob * n)` (at least 1, at most `max_predictions_per_seq`) of the
`n` tokens that are not `[CLS]`, `[SEP]` or padding, chosen uniformly; 80% become `[MASK]`,
10% stay, 10% become a random non-special word piece. It is stateless: the random stream is a
function of the run's seed and the data position of the batch, so a resumed run draws the
same masks as an uninterrupted one. (tensorflow-text's `mask_language_model` draws from
TF's stateful generators, which a checkpoint does not capture: not used for that reason.)
"""

from __future__ import annotations

import os
from typing import Sequence

import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.data import pretraining_records
from mobilebert_tf.data.masking import MaskingConfig
from mobilebert_tf.data.vocab import Vocab
from mobilebert_tf.errors import InputError


def masking_for_records(files: Sequence[str], max_predictions_per_seq: int) -> MaskingConfig:
    """The `MaskingConfig` of unmasked records: the vocab and `masked_lm_prob` written beside
    them (`pretraining_data.json`, `vocab.txt`), capped at `max_predictions_per_seq`.

    Raises:
        InputError: a directory without them, or directories that disagree.
    """
    configs = {}
    for directory in pretraining_records.record_dirs(files):
        info = pretraining_records.read_info(directory)
        vocab_file = os.path.join(directory, pretraining_records.VOCAB_FILE)
        if info is None or not fileio.glob(vocab_file):
            raise InputError(
                f"{directory} holds unmasked records (no masked_lm_* features) but no "
                f"{pretraining_records.INFO_FILE} and {pretraining_records.VOCAB_FILE} beside "
                "them, which dynamic masking needs to draw masks; write the records with "
                "mobilebert_tf.data.create_pretraining_data --dynamic_masking.")
        vocab = Vocab.load(vocab_file)
        configs[directory] = MaskingConfig.from_vocab(
            vocab, masked_lm_prob=info["config"]["masked_lm_prob"],
            max_predictions_per_seq=max_predictions_per_seq)
    first, *others = configs.items()
    for directory, config in others:
        if (config.mask_id, config.vocab_size, config.masked_lm_prob) != (
                first[1].mask_id, first[1].vocab_size, first[1].masked_lm_prob):
            raise InputError(f"Unmasked records in {first[0]} and {directory} were written with "
                             "other vocabs or masked_lm_prob; train on one kind at a time.")
    return first[1]


def mask_batch(batch: dict, seed: tf.Tensor, config: MaskingConfig) -> dict:
    """Adds `masked_lm_positions`, `masked_lm_ids` (int32), `masked_lm_weights` (float32),
    each `[batch, config.max_predictions_per_seq]`, to a batch of model inputs and corrupts
    `input_word_ids` at those positions.

    Args:
        batch: `input_word_ids`, `input_mask` int32 `[batch, seq]` (and any other keys).
        seed: int32/int64 `[2]`, the stateless seed of this batch.
        config: the `MaskingConfig` (whole-word masking is not supported here).
    """
    ids = batch["input_word_ids"]
    shape = tf.shape(ids)
    predictions = config.max_predictions_per_seq
    special = tf.equal(batch["input_mask"], 0)
    for special_id in config.no_mask_ids:
        special |= tf.equal(ids, special_id)
    candidates = tf.reduce_sum(tf.cast(~special, tf.int32), axis=1)
    count = tf.maximum(1.0, tf.round(tf.cast(candidates, tf.float32) * config.masked_lm_prob))
    count = tf.minimum(tf.minimum(tf.cast(count, tf.int32), predictions), candidates)
    select_seed, replace_seed, token_seed = tf.unstack(
        tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3))
    # A uniform random subset of the candidates: the `count` smallest scores.
    scores = tf.where(special, 2.0, tf.random.stateless_uniform(shape, select_seed))
    _, chosen = tf.math.top_k(-scores, k=predictions)
    valid = tf.range(predictions)[None, :] < count[:, None]
    seq_length = shape[1]
    positions = tf.sort(tf.where(valid, chosen, seq_length), axis=1)
    valid = positions < seq_length
    positions = tf.where(valid, positions, 0)
    labels = tf.where(valid, tf.gather(ids, positions, batch_dims=1), 0)
    draw = tf.random.stateless_uniform(tf.shape(positions), replace_seed)
    random_ids = tf.constant(config.random_ids, tf.int32)
    picks = tf.cast(tf.random.stateless_uniform(tf.shape(positions), token_seed)
                    * len(config.random_ids), tf.int32)
    replacement = tf.where(draw < config.mask_prob, config.mask_id, tf.where(
        draw < config.mask_prob + config.keep_prob, labels, tf.gather(random_ids, picks)))
    # Unused slots rewrite position 0 with its own id.
    replacement = tf.where(valid, replacement, ids[:, :1])
    rows = tf.broadcast_to(tf.range(shape[0])[:, None], tf.shape(positions))
    out = dict(batch)
    out["input_word_ids"] = tf.tensor_scatter_nd_update(
        ids, tf.stack([rows, positions], axis=-1), replacement)
    out["masked_lm_positions"] = positions
    out["masked_lm_ids"] = labels
    out["masked_lm_weights"] = tf.cast(valid, tf.float32)
    return out
