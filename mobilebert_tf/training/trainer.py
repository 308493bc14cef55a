"""`StagedTrainer`: the Keras `train_step` machinery shared by teacher pretraining and
distillation: stages, exact losses under `tf.distribute`, optional XLA, loss scaling."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.encoder import INPUT_KEYS
from mobilebert_tf.layers import dropout_seed
from mobilebert_tf.models import MobileBertPretrainer
from mobilebert_tf.training.parameter_groups import parameter_groups
from mobilebert_tf.weights import weight_name

PRETRAINER_KEYS = INPUT_KEYS + ("masked_lm_positions",)
# Global (all-replica) denominators of the losses; see `StagedTrainer.train_step`.
COUNT_KEYS = ("tokens", "predictions", "sequences")


def _all_reduce_sum(values: tf.Tensor) -> tf.Tensor:
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: nothing to reduce
        return values
    return context.all_reduce(tf.distribute.ReduceOp.SUM, values)


class StagedTrainer(keras.Model):
    """Base of the trainers: trains `model` (a `MobileBertPretrainer`) stage by stage.

    Subclasses implement `loss_terms(data, stage) -> {name: (sum, count_key)}`: each term is
    a sum over this replica's examples with the name of its denominator in `COUNT_KEYS`. The
    step divides every sum by the denominator of the *global* batch (all-reduced), so that
    summing gradients across replicas gives exactly the one-device gradient of the global
    batch, whatever the number of replicas or the masks in each shard.

    Stages and compilation: `set_stage(i)` fixes, as Python constants, which variables train
    and at what learning-rate multiplier. Keras' `fit` compiles `train_step` once per call
    into `train_function`, which `set_stage` clears, and `mobilebert_tf.training.loop` builds
    one `tf.function` per stage; either way a stage switch costs exactly one new trace and
    the steps inside a stage never retrace.

    Args:
        model: The `MobileBertPretrainer` being trained (the only thing checkpointed).
        stages: list of `mobilebert_tf.training.stage.Stage`.
        jit_compile: Compile the forward and backward pass (not the optimizer update, which
            must all-reduce) with XLA.
        training: Run `model` with dropout (teacher pretraining: yes; distillation: no).
        seed: Seed of the dropout masks. Step k's masks are a function of `(seed, k, replica
            id)` alone (stateless random ops; see `SeededDropout`), so a run resumed from a
            checkpoint draws exactly the masks of an uninterrupted run.
    """

    def __init__(self, model: MobileBertPretrainer, stages: list,
                 jit_compile: bool = False, training: bool = True, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        # Plain Python state: not Keras-tracked, never in a checkpoint.
        self._self_setattr_tracking = False
        self.stages = list(stages)
        self.groups = self.parameter_groups(model)
        self._self_setattr_tracking = True
        self.use_jit = jit_compile
        self.run_training = training
        self.seed = seed
        self.stage_index = None
        self._stage_variables = []
        self._gradients_fn = None
        names = [weight_name(v) for v in model.trainable_variables]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Trainable variables share names {duplicates}; learning-rate "
                             "multipliers address variables by name.")
        for stage in self.stages:
            unknown = sorted(set(stage.lr_multipliers) - set(self.groups))
            if unknown:
                raise ValueError(f"Stage {stage.name!r} names unknown parameter groups "
                                 f"{unknown}; known: {sorted(self.groups)}.")

    def parameter_groups(self, model) -> dict:
        """`{group: [trainable variables]}` that stages address; the pretrainer's groups
        here, overridden by trainers of other models (fine-tuning)."""
        return parameter_groups(model)

    @property
    def stage(self):
        if self.stage_index is None:
            raise RuntimeError("Call set_stage(index) before training.")
        return self.stages[self.stage_index]

    def _inner_optimizer(self):
        return getattr(self.optimizer, "inner_optimizer", self.optimizer)

    def set_stage(self, index: int) -> None:
        """Make stage `index` current: its variables train, everything else is untouched."""
        stage = self.stages[index]
        self.stage_index = index
        self._stage_variables = [v for group in stage.trained_groups for v in self.groups[group]]
        if self.optimizer is not None:
            self._inner_optimizer().lr_multipliers = {
                weight_name(v): m for group, m in stage.lr_multipliers.items()
                if m > 0 and m != 1.0 for v in self.groups[group]}
        self._gradients_fn = (tf.function(self._gradients, jit_compile=True) if self.use_jit
                              else self._gradients)
        self.train_function = None  # Keras `fit` retraces once for the new stage.

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def loss_terms(self, data, stage) -> dict:
        raise NotImplementedError

    def local_counts(self, data) -> tf.Tensor:
        """This replica's `[tokens, predictions, sequences]`."""
        return tf.stack([tf.reduce_sum(tf.cast(data["input_mask"], tf.float32)),
                         tf.reduce_sum(tf.cast(data["masked_lm_weights"], tf.float32)),
                         tf.cast(tf.shape(data["input_mask"])[0], tf.float32)])

    def step_seed(self) -> tf.Tensor:
        """int32 `[2]`: `[seed, optimizer step]` folded with the replica id, so every step
        and replica draws fresh masks and a restored optimizer step redraws the same ones."""
        step = tf.cast(self._inner_optimizer().iterations, tf.int32)
        seed = tf.stack([tf.constant(self.seed, tf.int32), step])
        context = tf.distribute.get_replica_context()
        replica = 0 if context is None else context.replica_id_in_sync_group
        return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica, tf.int32))

    def _gradients(self, data, global_counts, seed):
        counts = dict(zip(COUNT_KEYS, tf.unstack(tf.maximum(global_counts, 1e-5))))
        with tf.GradientTape() as tape, dropout_seed(seed):
            terms = self.loss_terms(data, self.stage)
            logs = {name: total / counts[count] for name, (total, count) in terms.items()}
            loss = tf.add_n(list(logs.values()))
            scaled = loss
            if isinstance(self.optimizer, keras.mixed_precision.LossScaleOptimizer):
                scaled = self.optimizer.get_scaled_loss(loss)
        grads = tape.gradient(scaled, self._stage_variables)
        if isinstance(self.optimizer, keras.mixed_precision.LossScaleOptimizer):
            grads = self.optimizer.get_unscaled_gradients(grads)
        logs["loss"] = loss
        return grads, logs

    def train_step(self, data):
        if self.stage_index is None:
            self.set_stage(0)
        global_counts = _all_reduce_sum(self.local_counts(data))
        grads, logs = self._gradients_fn(data, global_counts, self.step_seed())
        pairs = [(g, v) for g, v in zip(grads, self._stage_variables) if g is not None]
        self.optimizer.apply_gradients(pairs)
        # Every replica returns the global value of each term (sum of the replicas' shares).
        names = sorted(logs)
        values = _all_reduce_sum(tf.stack([tf.cast(logs[n], tf.float32) for n in names]))
        logs = dict(zip(names, tf.unstack(values)))
        logs["learning_rate"] = self._current_learning_rate()
        return logs

    def _current_learning_rate(self):
        optimizer = self._inner_optimizer()
        lr = optimizer.learning_rate
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            # The update just applied used iterations - 1.
            return tf.cast(lr(optimizer.iterations - 1), tf.float32)
        return tf.cast(lr, tf.float32)
