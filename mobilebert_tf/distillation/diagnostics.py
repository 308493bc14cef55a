"""What a model's attention has learned and where layer-wise transfer stands, measured on
held-out data: the per-layer mean KL(attention || uniform over the real keys) (a bag-of-words
model scores ~0 in every layer; attention transfer has something to carry only where the
teacher scores well above 0), and the per-layer transfer losses between teacher and student."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from mobilebert_tf.distillation.losses import (FMT_MEAN_WEIGHT, FMT_MSE_WEIGHT, FMT_VAR_WEIGHT,
                                               attention_transfer_terms,
                                               attention_uniformity_terms, feature_map_terms)
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

    totals = _sum_over_batches(batch_terms, dataset, max_batches, "attention_kl_from_uniform")
    return [float(total / max(count, 1.0)) for total, count in totals]


def layer_transfer_losses(teacher, student, dataset: tf.data.Dataset,
                          layer_mapping: Sequence[int] | None = None,
                          max_batches: int | None = None) -> dict[str, list[float]]:
    """Per student layer, the feature-map-transfer loss (the paper's weighted sum, per real
    token) and the attention-transfer loss (KL(teacher || student) per head and real query)
    against its teacher layer, measured on `dataset` without dropout: where layer-wise
    transfer stands, whatever the loss a run trained on.

    Args:
        teacher, student: `MobileBertPretrainer`s (or anything with an `encoder`).
        dataset: batches holding the TF-Hub input keys, e.g. held-out pretraining records;
            finite, or cut at `max_batches`.
        layer_mapping: teacher layer per student layer (default: the same layer).

    Returns:
        `{"fmt": [per layer], "at": [per layer]}`.
    """
    num_layers = student.encoder.config.num_layers
    mapping = tuple(layer_mapping) if layer_mapping is not None else tuple(range(num_layers))

    @tf.function
    def batch_terms(inputs):
        mask = inputs["input_mask"]
        t_out = teacher.encoder(inputs, training=False)
        s_out = student.encoder(inputs, training=False)
        rows = []
        for layer, t_layer in enumerate(mapping):
            mse, mean, var, tokens = feature_map_terms(t_out["encoder_outputs"][t_layer + 1],
                                                       s_out["encoder_outputs"][layer + 1],
                                                       mask)
            at, queries = attention_transfer_terms(t_out["attention_logits"][t_layer],
                                                   s_out["attention_logits"][layer], mask)
            fmt = FMT_MSE_WEIGHT * mse + FMT_MEAN_WEIGHT * mean + FMT_VAR_WEIGHT * var
            rows.append(tf.stack([fmt, tokens, at, queries]))
        return tf.stack(rows)                                   # [layers, 4]

    totals = _sum_over_batches(batch_terms, dataset, max_batches, "layer_transfer_losses")
    return {"fmt": [float(f / max(t, 1.0)) for f, t, _, _ in totals],
            "at": [float(a / max(q, 1.0)) for _, _, a, q in totals]}


def _sum_over_batches(batch_terms, dataset, max_batches, caller):
    """The sum over `dataset`'s batches (at most `max_batches`) of `batch_terms(inputs)`."""
    totals = None
    for index, batch in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        terms = batch_terms({key: batch[key] for key in INPUT_KEYS}).numpy()
        totals = terms if totals is None else totals + terms
    if totals is None:
        raise ValueError(f"{caller} got an empty dataset.")
    return totals
