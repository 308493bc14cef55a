"""One feed-forward network with its residual and norm; MobileBERT stacks F of them."""

import tf_keras as keras

from mobilebert_tf.layers.factory import make_dense, make_norm
from mobilebert_tf.layers.seeded_dropout import SeededDropout


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class FeedForward(keras.layers.Layer):
    """`norm(dropout(W2 act(W1 x)) + x)`: width -> intermediate_size -> width.

    Args:
        intermediate_size: Inner width.
        activation: "relu" or "gelu".
        norm: "layer_norm" or "no_norm".
        layer_norm_epsilon: Epsilon of a LayerNorm.
        dropout: Dropout on the output before the residual (plain BERT only; the bottleneck
            block drops out once, after its output bottleneck, as the authors' code, GR, does).
        initializer_range: Stddev of the truncated-normal kernel initializer.
    """

    def __init__(self, intermediate_size, activation, norm, layer_norm_epsilon, dropout,
                 initializer_range, **kwargs):
        super().__init__(**kwargs)
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.norm = norm
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout_rate = dropout
        self.initializer_range = initializer_range
        self.intermediate = make_dense(intermediate_size, "intermediate", initializer_range,
                                       activation=keras.activations.get(activation))
        self.norm_layer = make_norm(norm, layer_norm_epsilon, name="norm")
        self.dropout = SeededDropout(dropout)

    def build(self, input_shape):
        self.output_dense = make_dense(input_shape[-1], "output", self.initializer_range)
        super().build(input_shape)

    def call(self, inputs, training=None):
        outputs = self.output_dense(self.intermediate(inputs))
        return self.norm_layer(self.dropout(outputs, training=training) + inputs)

    def get_config(self):
        config = super().get_config()
        config.update(intermediate_size=self.intermediate_size, activation=self.activation,
                      norm=self.norm, layer_norm_epsilon=self.layer_norm_epsilon,
                      dropout=self.dropout_rate, initializer_range=self.initializer_range)
        return config
