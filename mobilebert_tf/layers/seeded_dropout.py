"""`SeededDropout`: dropout whose masks are a function of a seed the trainer provides, so a run
resumed from a checkpoint draws the same masks as one that was never interrupted."""

import contextlib
import threading

import tensorflow as tf
import tf_keras as keras

# Per thread: MirroredStrategy traces each replica's step in a thread of its own.
_scope = threading.local()


@contextlib.contextmanager
def dropout_seed(seed):
    """Within this scope every `SeededDropout` draws its mask from stateless random ops seeded
    by `seed` folded with the layer's place in the call order (0, 1, ...).

    A trace-time scope: enter it inside the `tf.function` (and `strategy.run`) that calls the
    model, with a seed that changes every step, e.g. `[run seed, step]`.

    Args:
        seed: int32 `[2]` tensor (int32 so that XLA and TPUs take it).
    """
    outer = getattr(_scope, "state", None)
    _scope.state = {"seed": seed, "calls": 0}
    try:
        yield
    finally:
        _scope.state = outer


def _next_seed():
    """The seed of this call (inside `dropout_seed`)."""
    state = _scope.state
    seed = tf.random.experimental.stateless_fold_in(state["seed"], state["calls"])
    state["calls"] += 1
    return seed


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class SeededDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` (same rate, inverted 1 / (1 - rate) scaling, only with
    `training=True`) whose mask, inside `dropout_seed(seed)`, comes from
    `tf.nn.experimental.stateless_dropout`. Outside that scope it is Keras' Dropout.

    Keras' Dropout draws from stateful random ops whose state restarts with the process, so a
    resumed run would repeat the first steps' masks; the trainers seed these layers with the
    run's seed, the optimizer step and the replica instead (`StagedTrainer`).

    Args:
        rate, noise_shape: as in `keras.layers.Dropout` (its `seed` counts only outside the
            scope).

    Example:
    >>> layer = SeededDropout(0.5)
    >>> with dropout_seed(tf.constant([0, 7])):
    ...     masked = layer(tf.ones([2, 3]), training=True)
    """

    def call(self, inputs, training=None):
        if not self.rate or getattr(_scope, "state", None) is None:
            return super().call(inputs, training=training)
        # Deviates from Keras' Dropout only in the mask's source: the scope's seed, no RNG state.
        return keras.backend.in_train_phase(
            lambda: tf.nn.experimental.stateless_dropout(
                inputs, self.rate, _next_seed(), noise_shape=self._get_noise_shape(inputs)),
            lambda: tf.identity(inputs), training=training)
