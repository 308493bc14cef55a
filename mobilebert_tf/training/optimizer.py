"""Optimizers: LAMB (pretraining, distillation) and AdamW (fine-tuning), both with the
per-parameter-group learning-rate multipliers distillation stages need, and a warm-up + decay
learning-rate schedule that restarts at every stage boundary.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import tensorflow as tf
import tf_keras as keras
from official.modeling.optimization.lamb import LAMB
from official.modeling.optimization.legacy_adamw import AdamWeightDecay

from mobilebert_tf.weights import weight_name

# Norm parameters and biases get neither weight decay nor LAMB's layer adaptation (as in BERT
# and the authors' code, GR).
# Our names: ".../norm/gamma", ".../attention_norm/beta", "mlm_head/layer_norm/gamma",
# ".../bias", "mlm_head/output_bias".
DEFAULT_EXCLUSIONS = ("norm", "bias")


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class StagedLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """Piecewise schedule over consecutive segments, each with its own linear warm-up from 0
    and then a constant or linearly decaying (to 0 at its end) learning rate.

    Args:
        segments: list of dicts `{steps, learning_rate, warmup_steps, decay}` (decay
            "linear" or "constant"). The step counter is global; past the last segment the
            rate stays at the last segment's final value.

    Example:
    >>> schedule = StagedLearningRate([dict(steps=10, learning_rate=1e-3, warmup_steps=2,
    ...                                     decay="linear")])
    >>> float(schedule(0))  # (step + 1) / warmup_steps of the peak: step 0 already trains
    0.0005
    """

    def __init__(self, segments: Sequence[Mapping]):
        self.segments = [dict(steps=int(s["steps"]), learning_rate=float(s["learning_rate"]),
                              warmup_steps=int(s.get("warmup_steps", 0)),
                              decay=str(s.get("decay", "constant"))) for s in segments]
        if not self.segments:
            raise ValueError("StagedLearningRate needs at least one segment.")

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(0.0, tf.float32)
        start = 0
        for index, seg in enumerate(self.segments):
            local = step - start
            peak, warmup, steps = seg["learning_rate"], seg["warmup_steps"], seg["steps"]
            value = tf.constant(peak, tf.float32)
            if seg["decay"] == "linear":
                decay_steps = max(steps - warmup, 1)
                value = peak * tf.maximum(0.0, 1.0 - (local - warmup) / decay_steps)
            if warmup > 0:
                value = tf.where(local < warmup, peak * (local + 1.0) / warmup, value)
            last = index == len(self.segments) - 1
            in_segment = step >= start if last else (step >= start) & (step < start + steps)
            lr = tf.where(in_segment, value, lr)
            start += steps
        return lr

    def get_config(self):
        return {"segments": self.segments}


def warmup_linear_decay(learning_rate: float, total_steps: int,
                        warmup_steps: int) -> StagedLearningRate:
    """One segment: warm-up then linear decay to 0 (teacher pretraining, PD, fine-tuning)."""
    return StagedLearningRate([dict(steps=total_steps, learning_rate=learning_rate,
                                    warmup_steps=warmup_steps, decay="linear")])


def schedule_for_stages(stages) -> StagedLearningRate:
    """The schedule whose segments are the `Stage`s of a trainer: a warm-up per stage."""
    return StagedLearningRate([dict(steps=s.steps, learning_rate=s.learning_rate,
                                    warmup_steps=s.warmup_steps, decay=s.decay)
                               for s in stages])


class LearningRateMultipliers:
    """Mixin for legacy Keras optimizers: `lr_multipliers = {variable name: m}` scales the
    learning rate of those variables by m (missing names: 1).

    The multipliers are read at trace time, so set them before the step function is traced
    (the `Distiller` does so once per stage). Names are `weights.weight_name`s.
    """

    lr_multipliers: Mapping[str, float] = {}

    def _multiplier(self, var) -> float:
        return float(self.lr_multipliers.get(weight_name(var), 1.0))

    def _scaled_state(self, var, apply_state):
        multiplier = self._multiplier(var)
        if multiplier == 1.0:
            return apply_state
        key = (var.device, var.dtype.base_dtype)
        coefficients = (apply_state or {}).get(key) or self._fallback_apply_state(*key)
        coefficients = dict(coefficients, lr_t=coefficients["lr_t"] * multiplier)
        return {key: coefficients}

    def _resource_apply_dense(self, grad, var, apply_state=None):
        return super()._resource_apply_dense(grad, var, self._scaled_state(var, apply_state))

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        return super()._resource_apply_sparse(grad, var, indices,
                                              self._scaled_state(var, apply_state))


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MultiplierLAMB(LearningRateMultipliers, LAMB):
    """tf-models-official's LAMB with per-variable learning-rate multipliers."""


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MultiplierAdamW(LearningRateMultipliers, AdamWeightDecay):
    """tf-models-official's AdamWeightDecay with per-variable learning-rate multipliers."""


def create_optimizer(name: str, learning_rate, weight_decay: float = 0.01,
                     beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-6,
                     clip_norm: float = 1.0, exclusions: Sequence[str] = DEFAULT_EXCLUSIONS):
    """LAMB (`name="lamb"`, the paper's pretraining and distillation optimizer) or AdamW
    (`"adamw"`, fine-tuning), with decoupled weight decay and LAMB's layer adaptation skipped
    for `exclusions` (regexes on variable names), and gradients clipped to global norm
    `clip_norm` *after* the cross-replica sum (Keras `global_clipnorm`), so a distributed
    step clips exactly as one device would.
    """
    clip = {"global_clipnorm": clip_norm} if clip_norm else {}
    if name == "lamb":
        return MultiplierLAMB(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                              epsilon=epsilon, weight_decay_rate=weight_decay,
                              exclude_from_weight_decay=list(exclusions),
                              exclude_from_layer_adaptation=list(exclusions), **clip)
    if name == "adamw":
        # gradient_clip_norm=0: AdamWeightDecay would clip per replica, before the all-reduce.
        return MultiplierAdamW(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                               epsilon=epsilon, weight_decay_rate=weight_decay,
                               exclude_from_weight_decay=list(exclusions),
                               gradient_clip_norm=0.0, **clip)
    raise ValueError(f"Unknown optimizer {name!r}; expected 'lamb' or 'adamw'.")
