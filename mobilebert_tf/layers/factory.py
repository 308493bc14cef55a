"""The two layer factories every block uses, so norms and kernels are made one way."""

import tf_keras as keras

from mobilebert_tf.layers.dense import Dense
from mobilebert_tf.layers.no_norm import NoNorm


def make_norm(norm: str, epsilon: float, name: str) -> keras.layers.Layer:
    """The normalization layer called `norm` ("layer_norm" or "no_norm")."""
    if norm == "no_norm":
        return NoNorm(name=name)
    if norm == "layer_norm":
        return keras.layers.LayerNormalization(epsilon=epsilon, name=name)
    raise ValueError(f"Unknown norm {norm!r}; expected 'layer_norm' or 'no_norm'.")


def make_dense(units: int, name: str, initializer_range: float,
               activation=None) -> Dense:
    """A dense layer with the truncated-normal kernel initializer of BERT."""
    return Dense(
        units, activation=activation, name=name,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range))
