"""`FinetuneTrainer`: the `StagedTrainer` step (global-count loss normalization, loss scaling,
optional XLA) with a task loss, in one stage that trains the whole task model."""

from __future__ import annotations

import tensorflow as tf

from mobilebert_tf.training.stage import Stage
from mobilebert_tf.training.trainer import StagedTrainer

KINDS = ("classification", "regression", "span")


def finetune_stage(steps: int, learning_rate: float, warmup_steps: int = 0) -> Stage:
    """The single fine-tuning stage: the whole task model (group "model") trains, warm-up
    then linear decay to 0."""
    return Stage(name="finetune", steps=steps, lr_multipliers={"model": 1.0},
                 learning_rate=learning_rate, warmup_steps=warmup_steps, decay="linear")


class FinetuneTrainer(StagedTrainer):
    """Trains a `MobileBertClassifier` (classification or regression) or a
    `MobileBertSpanLabeler` on `(features, labels)` batches, with dropout.

    Losses are sums over this replica's sequences divided by the global batch size, so any
    number of replicas gives the one-device update:
    - classification: softmax cross-entropy on integer labels;
    - regression: squared error on the single output (STS-B);
    - span: the mean of the start and end positions' cross-entropies (BERT's SQuAD loss).

    Args:
        model: the task model.
        kind: one of `KINDS`.
        stage: a `finetune_stage`.
        jit_compile: XLA-compile forward and backward.
        seed: Seed of the dropout masks (see `StagedTrainer`).

    Example:
    >>> from mobilebert_tf import MobileBertClassifier, build_encoder
    >>> from mobilebert_tf.training.optimizer import create_optimizer
    >>> model = MobileBertClassifier(build_encoder("mobilebert_mini", num_layers=2), 2)
    >>> trainer = FinetuneTrainer(model, "classification", finetune_stage(100, 5e-5, 10))
    >>> trainer.compile(optimizer=create_optimizer("adamw", 5e-5))
    """

    def __init__(self, model, kind: str, stage: Stage, jit_compile: bool = False,
                 seed: int = 0, **kwargs):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
        super().__init__(model, [stage], jit_compile=jit_compile, training=True, seed=seed,
                         **kwargs)
        self.kind = kind

    def parameter_groups(self, model) -> dict:
        return {"model": list(model.trainable_weights)}

    def local_counts(self, data) -> tf.Tensor:
        features, _ = data
        mask = tf.cast(features["input_mask"], tf.float32)
        return tf.stack([tf.reduce_sum(mask), 0.0, tf.cast(tf.shape(mask)[0], tf.float32)])

    def loss_terms(self, data, stage):
        features, labels = data
        outputs = self.model(features, training=self.run_training)
        if self.kind == "classification":
            logits = tf.cast(outputs, tf.float32)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(labels, tf.int32),
                                                                  logits)
            return {"cross_entropy": (tf.reduce_sum(loss), "sequences")}
        if self.kind == "regression":
            scores = tf.cast(outputs[:, 0], tf.float32)
            error = tf.square(scores - tf.cast(labels, tf.float32))
            return {"squared_error": (tf.reduce_sum(error), "sequences")}
        total = 0.0
        for key, label_key in (("start_logits", "start_positions"),
                               ("end_logits", "end_positions")):
            total += tf.nn.sparse_softmax_cross_entropy_with_logits(
                tf.cast(labels[label_key], tf.int32), tf.cast(outputs[key], tf.float32))
        return {"span_cross_entropy": (tf.reduce_sum(total) / 2.0, "sequences")}
