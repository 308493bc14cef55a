"""What a model's attention has learned, measured on held-out data: the per-layer mean
KL(attention || uniform over the real keys). A bag-of-words model scores ~0 in every layer;
attention transfer has something to carry only where the teacher scores well above 0."""

from __future__ import annotations

import tensorflow as tf

from mobilebert_tf.distillation.losses import attention_uniformity_terms
from mobilebert_tf.encoder import INPUT_KEYS, MobileBertEncoder


def attention_kl_from_uniform(encoder: MobileBertEncoder, dataset: tf.data.Dataset,
                              max_batches: int | None = None) -> list[float]:
    """Per layer, the mean over batches' real queries and heads of
    KL(attention || uniform over the real keys), in nats.

    Args:
        encoder: the encoder (e.g. `pretrainer.encoder`), run without dropout.
        dataset: batches holding the TF-Hub input keys (`INPUT_KEYS`), e.g. held-out
            pretraining records; finite, or cut at `max_batches`.
        max_batches: read at most this many batches.
    """

    @tf.function
    def batch_terms(inputs):
        logits = encoder(inputs, training=False)["attention_logits"]
        return tf.stack([tf.stack(attention_uniformity_terms(layer, inputs["input_mask"]))
                         for layer in logits])                      # [layers, (sum, count)]

    totals = None
    for index, batch in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        terms = batch_terms({key: batch[key] for key in INPUT_KEYS}).numpy()
        totals = terms if totals is None else totals + terms
    if totals is None:
        raise ValueError("attention_kl_from_uniform got an empty dataset.")
    return [float(total / max(count, 1.0)) for total, count in totals]
