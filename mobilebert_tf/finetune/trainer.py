"""`FinetuneTrainer`: the `StagedTrainer` step (global-count loss normalization, loss scaling,
optional XLA) with a task loss, in one stage that trains the whole task model."""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from mobilebert_tf.training.stage import Stage
from mobilebert_tf.training.trainer import StagedTrainer


def finetune_stage(steps: int, learning_rate: float, warmup_steps: int = 0) -> Stage:
    """The single fine-tuning stage: the whole task model (group "model") trains, warm-up
    then linear decay to 0."""
    return Stage(name="finetune", steps=steps, lr_multipliers={"model": 1.0},
                 learning_rate=learning_rate, warmup_steps=warmup_steps, decay="linear")


class FinetuneTrainer(StagedTrainer):
    """Trains a task model on `(features, labels)` batches, with dropout, on its kind's
    `loss` (`finetune.kinds`).

    The loss returns sums over this replica's sequences; the step divides them by the global
    batch size, so any number of replicas gives the one-device update.

    Args:
        model: the task model.
        loss: `loss(outputs, labels) -> {name: (sum over sequences, "sequences")}`.
        stage: a `finetune_stage`.
        jit_compile: XLA-compile forward and backward.
        seed: Seed of the dropout masks (see `StagedTrainer`).

    Example:
    >>> from mobilebert_tf import MobileBertClassifier, build_encoder
    >>> from mobilebert_tf.training.optimizer import create_optimizer
    >>> model = MobileBertClassifier(build_encoder("mobilebert_mini", num_layers=2), 2)
    >>> trainer = FinetuneTrainer(model, ClassificationKind.loss,
    ...                           finetune_stage(100, 5e-5, 10))
    >>> trainer.compile(optimizer=create_optimizer("adamw", 5e-5))
    """

    def __init__(self, model, loss: Callable[..., dict], stage: Stage,
                 jit_compile: bool = False, seed: int = 0, **kwargs):
        super().__init__(model, [stage], jit_compile=jit_compile, training=True, seed=seed,
                         **kwargs)
        self.task_loss = loss  # not `loss`: keras.Model.compile sets that

    def parameter_groups(self, model) -> dict:
        return {"model": list(model.trainable_weights)}

    def local_counts(self, data) -> tf.Tensor:
        features, _ = data
        mask = tf.cast(features["input_mask"], tf.float32)
        return tf.stack([tf.reduce_sum(mask), 0.0, tf.cast(tf.shape(mask)[0], tf.float32)])

    def loss_terms(self, data, stage):
        features, labels = data
        return self.task_loss(self.model(features, training=self.run_training), labels)
