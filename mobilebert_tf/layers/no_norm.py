"""NoNorm: the element-wise affine map that replaces LayerNorm in MobileBERT (paper eq. 1)."""

import tf_keras as keras


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class NoNorm(keras.layers.Layer):
    """Element-wise affine map `x * gamma + beta` over the last axis: MobileBERT's cheap
    replacement for LayerNorm (no statistics, so it folds into neighbouring matmuls).

    Example:
    >>> import tensorflow as tf
    >>> NoNorm()(tf.ones([2, 3, 4])).shape
    TensorShape([2, 3, 4])
    """

    def build(self, input_shape):
        width = input_shape[-1]
        self.gamma = self.add_weight(name="gamma", shape=(width,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(width,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        return inputs * self.gamma + self.beta

