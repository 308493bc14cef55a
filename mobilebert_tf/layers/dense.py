"""`Dense`: Keras' `Dense`, applied to `[tokens, width]` so its ops fuse on CPU."""

import tensorflow as tf
import tf_keras as keras


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class Dense(keras.layers.Dense):
    """`keras.layers.Dense` (same arguments, weights `kernel` and `bias`, same math) that
    multiplies a `[..., width]` input as one `[tokens, width]` matrix.

    Keras' `Dense` sends inputs of rank > 2 through `tf.tensordot`, whose output reshape sits
    between the MatMul and the BiasAdd, so TensorFlow's graph optimizer cannot fuse MatMul,
    BiasAdd and the activation into one oneDNN op. Flattening first lets it: on CPU, training
    the full-size MobileBERT without XLA runs 361 fused matmuls per forward pass instead of
    361 MatMul + 361 BiasAdd + 96 Relu ops (benchmarks/training).

    Named `Dense` like Keras' layer on purpose: a `.keras` file stores the weights of layers
    held in lists under their class name in snake case, so another name would make files
    saved before this class existed unloadable.

    Example:
    >>> Dense(8, name="dense")(tf.ones([2, 3, 4])).shape
    TensorShape([2, 3, 8])
    """

    def call(self, inputs):
        if isinstance(inputs, (tf.RaggedTensor, tf.SparseTensor)) or inputs.shape.rank in (
                None, 1, 2):
            return super().call(inputs)
        flat = tf.reshape(inputs, [-1, inputs.shape[-1]])
        outputs = tf.reshape(super().call(flat),
                             tf.concat([tf.shape(inputs)[:-1], [self.units]], axis=0))
        outputs.set_shape(inputs.shape[:-1].concatenate([self.units]))
        return outputs
