"""Held-out masked-LM accuracy of a pretrainer."""

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
