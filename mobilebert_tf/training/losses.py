"""Masked-LM and next-sentence losses on hard labels, as pure functions.

Each `*_terms` form returns `(sum, count)` so that a distributed step can divide by the count
of the *global* batch and match one device exactly; the `*_loss` forms are the means.
"""

from __future__ import annotations

import tensorflow as tf


def f32(x):
    return tf.cast(x, tf.float32)


def soft_cross_entropy(targets, logits):
    """`-sum(targets * log_softmax(logits))` over the last axis."""
    return -tf.reduce_sum(targets * tf.nn.log_softmax(f32(logits), axis=-1), axis=-1)


def mlm_terms(logits, masked_lm_ids, masked_lm_weights):
    """Masked-LM cross-entropy summed with `masked_lm_weights` (0 = padding slot), and the
    weight sum."""
    onehot = tf.one_hot(masked_lm_ids, tf.shape(logits)[-1], dtype=tf.float32)
    weights = f32(masked_lm_weights)
    return tf.reduce_sum(soft_cross_entropy(onehot, logits) * weights), tf.reduce_sum(weights)


def mlm_loss(logits, masked_lm_ids, masked_lm_weights):
    """Plain masked-LM cross-entropy, averaged with `masked_lm_weights`."""
    total, count = mlm_terms(logits, masked_lm_ids, masked_lm_weights)
    return total / tf.maximum(count, 1e-5)


def nsp_terms(logits, labels):
    """Next-sentence cross-entropy summed over the batch, and the batch size."""
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.reshape(tf.cast(labels, tf.int32), [-1]), logits=f32(logits))
    return tf.reduce_sum(losses), tf.cast(tf.size(losses), tf.float32)


def nsp_loss(logits, labels):
    """Mean next-sentence cross-entropy on hard labels."""
    total, count = nsp_terms(logits, labels)
    return total / tf.maximum(count, 1.0)
