"""What a model's attention has learned and where layer-wise transfer stands, measured on
held-out data: the per-layer mean KL(attention || uniform over the real keys) (a bag-of-words
model scores ~0 in every layer; attention transfer has something to carry only where the
teacher scores well above 0), and the per-layer transfer losses between teacher and student."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from mobilebert_tf.distillation.losses import (attention_transfer_terms,
                                               attention_uniformity_terms,
                                               weighted_feature_map_terms)
from mobilebert_tf.encoder import INPUT_KEYS, MobileBertEncoder
from mobilebert_tf.training.evaluation import mlm_correct_terms
from mobilebert_tf.training.trainer import PRETRAINER_KEYS

MLM_LABEL_KEYS = ("masked_lm_ids", "masked_lm_weights")


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


class TransferProbe:
    """Where a student stands against its teacher, measured on held-out pretraining batches
    without dropout, in one pass of both models with one traced function (so calling it at
    every stage end of a run costs one trace):

    - `mlm_accuracy`: the student's masked-token accuracy;
    - `attention_kl`: per student layer, its attention's KL from uniform (as
      `attention_kl_from_uniform`);
    - `fmt`: per student layer, the feature-map-transfer loss against its teacher layer (the
      paper's weighted sum, per real token);
    - `at`: per student layer, the attention-transfer loss (KL(teacher || student) per head and
      real query).

    Args:
        teacher, student: `MobileBertPretrainer`s.
        layer_mapping: teacher layer per student layer (default: the same layer).
    """

    def __init__(self, teacher, student, layer_mapping: Sequence[int] | None = None):
        num_layers = student.encoder.config.num_layers
        self.teacher, self.student = teacher, student
        self.layer_mapping = (tuple(layer_mapping) if layer_mapping is not None
                              else tuple(range(num_layers)))
        self._batch_terms = tf.function(self._terms)

    def _terms(self, batch):
        inputs = {key: batch[key] for key in PRETRAINER_KEYS}
        mask = inputs["input_mask"]
        t_out = self.teacher(inputs, training=False)
        s_out = self.student(inputs, training=False)
        rows = []
        for layer, t_layer in enumerate(self.layer_mapping):
            fmt, tokens = weighted_feature_map_terms(t_out["encoder_outputs"][t_layer + 1],
                                                     s_out["encoder_outputs"][layer + 1], mask)
            at, queries = attention_transfer_terms(t_out["attention_logits"][t_layer],
                                                   s_out["attention_logits"][layer], mask)
            kl, _ = attention_uniformity_terms(s_out["attention_logits"][layer], mask)
            rows.append(tf.stack([fmt, tokens, at, queries, kl]))
        correct, total = mlm_correct_terms(s_out["mlm_logits"], batch)
        mlm = tf.stack([correct, total, 0.0, 0.0, 0.0])
        return tf.stack(rows + [mlm])                           # [layers + 1, 5]

    def __call__(self, dataset: tf.data.Dataset, max_batches: int | None = None) -> dict:
        """The measures above on `dataset` (batches of pretraining records; finite, or cut at
        `max_batches`)."""
        totals = _sum_over_batches(self._batch_terms, dataset, max_batches, "TransferProbe",
                                   keys=PRETRAINER_KEYS + MLM_LABEL_KEYS)
        layers, (correct, total, *_) = totals[:-1], totals[-1]
        return {"mlm_accuracy": float(correct / max(total, 1.0)),
                "attention_kl": [float(kl / max(q, 1.0)) for _, _, _, q, kl in layers],
                "fmt": [float(f / max(t, 1.0)) for f, t, _, _, _ in layers],
                "at": [float(a / max(q, 1.0)) for _, _, a, q, _ in layers]}


def layer_transfer_losses(teacher, student, dataset: tf.data.Dataset,
                          layer_mapping: Sequence[int] | None = None,
                          max_batches: int | None = None) -> dict[str, list[float]]:
    """`TransferProbe(teacher, student, layer_mapping)(dataset, max_batches)`: per student
    layer `fmt` and `at` (and the student's `mlm_accuracy` and `attention_kl`)."""
    return TransferProbe(teacher, student, layer_mapping)(dataset, max_batches)


def _sum_over_batches(batch_terms, dataset, max_batches, caller, keys=INPUT_KEYS):
    """The sum over `dataset`'s batches (at most `max_batches`) of `batch_terms(batch)`, the
    batch cut to `keys`."""
    totals = None
    for index, batch in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        terms = batch_terms({key: batch[key] for key in keys}).numpy()
        totals = terms if totals is None else totals + terms
    if totals is None:
        raise ValueError(f"{caller} got an empty dataset.")
    return totals
