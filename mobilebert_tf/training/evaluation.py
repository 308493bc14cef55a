"""Held-out evaluation of a pretrainer: masked-LM accuracy, the zero-shot word-order probe."""

from __future__ import annotations

import tensorflow as tf

from mobilebert_tf.training.trainer import PRETRAINER_KEYS


def mlm_correct_terms(mlm_logits, batch):
    """`(weighted count of argmax hits, weight sum)` of one batch's masked predictions
    (`masked_lm_ids`, `masked_lm_weights`; weight 0 marks a padding slot)."""
    correct = tf.cast(tf.equal(tf.argmax(mlm_logits, -1, output_type=tf.int32),
                               tf.cast(batch["masked_lm_ids"], tf.int32)), tf.float32)
    weights = tf.cast(batch["masked_lm_weights"], tf.float32)
    return tf.reduce_sum(correct * weights), tf.reduce_sum(weights)


def mlm_accuracy(pretrainer, dataset: tf.data.Dataset, max_batches: int | None = None) -> float:
    """Weighted accuracy of the argmax prediction at every masked position (weights 0 are
    padding slots), over `dataset` (finite, or cut at `max_batches`)."""

    @tf.function
    def batch_counts(batch):
        logits = pretrainer({k: batch[k] for k in PRETRAINER_KEYS}, training=False)["mlm_logits"]
        return mlm_correct_terms(logits, batch)

    correct = total = 0.0
    for index, batch in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        c, t = batch_counts(batch)
        correct, total = correct + float(c), total + float(t)
    return correct / max(total, 1.0)


def order_preferences(mlm_logits, written_ids) -> tf.Tensor:
    """Per example, 1 where the masked LM prefers the written order of a masked pair, 0 where
    it prefers the swapped one, 0.5 on a tie (a model blind to position ties exactly).

    Args:
        mlm_logits: `[n, 2, vocab]`, at the pair's two positions.
        written_ids: `[n, 2]`, the two words as written.

    The written order scores `log p(a at 1st) + log p(b at 2nd)`, the swapped one
    `log p(b at 1st) + log p(a at 2nd)`; each position's softmax normalizer is in both and
    cancels, so logits compare as well as log-probabilities.
    """
    written_ids = tf.cast(written_ids, tf.int32)
    swapped_ids = tf.reverse(written_ids, axis=[1])
    written = tf.reduce_sum(tf.gather(mlm_logits, written_ids, batch_dims=2), -1)
    swapped = tf.reduce_sum(tf.gather(mlm_logits, swapped_ids, batch_dims=2), -1)
    return tf.where(written > swapped, 1.0, tf.where(written < swapped, 0.0, 0.5))


def order_probe_accuracy(pretrainer, inputs: dict, batch_size: int = 64) -> float:
    """The zero-shot word-order probe: the mean of `order_preferences` of `pretrainer` over
    `inputs` (`data.word_order.order_probe_inputs`); 0.5 is chance, and bag of words."""

    @tf.function
    def preferences(batch):
        logits = pretrainer({k: batch[k] for k in PRETRAINER_KEYS}, training=False)["mlm_logits"]
        return order_preferences(logits, batch["masked_lm_ids"])

    dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)
    total = sum(float(tf.reduce_sum(preferences(batch))) for batch in dataset)
    return total / len(inputs["masked_lm_ids"])
