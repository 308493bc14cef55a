"""The masked-LM head with MobileBERT's factorized output embedding."""

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.layers.factory import make_dense


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MaskedLMHead(keras.layers.Layer):
    """Logits over the vocabulary at the masked positions.

        h      = LayerNorm(act(Dense(hidden->hidden)(sequence_output[positions])))
        logits = h @ [W_word | extra]^T + bias

    `W_word` is the encoder's `[vocab, embedding_size]` word table (shared, passed at call
    time); `extra` is this head's own `[vocab, hidden - embedding_size]` block, absent when
    the two widths are equal (BERT-base). The LayerNorm is a real one even in the NoNorm
    student, as in the paper's released model.

    Args:
        vocab_size: Rows of the output embedding.
        embedding_size: Width of the shared word table.
        hidden_size: Width of the encoder output.
        activation: "relu" or "gelu".
        layer_norm_epsilon: Epsilon of the LayerNorm.
        initializer_range: Stddev of the truncated-normal initializer.

    Call args:
        sequence_output: float `[batch, seq, hidden_size]`.
        masked_positions: int `[batch, predictions]`, indices into `seq`.
        word_embeddings: the encoder's word table `[vocab_size, embedding_size]`.

    Returns:
        float logits `[batch, predictions, vocab_size]`.
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, activation, layer_norm_epsilon,
                 initializer_range, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.dense = make_dense(hidden_size, "dense", initializer_range,
                                activation=keras.activations.get(activation))
        self.layer_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon,
                                                          name="layer_norm")

    def build(self, input_shape):
        self.extra_output_weights = None
        if self.hidden_size > self.embedding_size:
            self.extra_output_weights = self.add_weight(
                name="extra_output_weights",
                shape=(self.vocab_size, self.hidden_size - self.embedding_size),
                initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range))
        self.output_bias = self.add_weight(name="output_bias", shape=(self.vocab_size,),
                                           initializer="zeros")
        super().build(input_shape)

    def call(self, sequence_output, masked_positions, word_embeddings):
        gathered = tf.gather(sequence_output, tf.cast(masked_positions, tf.int32), batch_dims=1)
        hidden = self.layer_norm(self.dense(gathered))
        output_embeddings = tf.cast(word_embeddings, hidden.dtype)
        if self.extra_output_weights is not None:
            output_embeddings = tf.concat(
                [output_embeddings, tf.cast(self.extra_output_weights, hidden.dtype)], axis=1)
        logits = tf.matmul(hidden, output_embeddings, transpose_b=True)
        return logits + tf.cast(self.output_bias, hidden.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, embedding_size=self.embedding_size,
                      hidden_size=self.hidden_size, activation=self.activation,
                      layer_norm_epsilon=self.layer_norm_epsilon,
                      initializer_range=self.initializer_range)
        return config
