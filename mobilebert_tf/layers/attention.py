"""Multi-head scaled dot-product attention that also returns its masked logits."""

import math

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.layers.factory import make_dense
from mobilebert_tf.layers.seeded_dropout import SeededDropout

# Added to the logits of padded keys. Softmax then gives them exactly zero weight in float32
# (exp(-1e4) underflows), as Model Garden's port (TFMG, -1e9) and Hugging Face (HF) do. The
# authors' code (GR) adds -6 instead, which leaks ~0.25% of attention to every padded key and
# makes outputs depend on the amount of padding.
MASK_LOGIT = -10000.0


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class AttentionMask(keras.layers.Layer):
    """`input_mask` `[batch, seq]` (1 = real token) -> additive logit mask `[batch, 1, 1, seq]`."""

    def call(self, input_mask):
        mask = tf.cast(input_mask, self.compute_dtype)[:, None, None, :]
        # Named for the int8 export, which keeps these ops float (see export/tflite.py).
        one = tf.constant(1.0, mask.dtype)  # bfloat16 under mixed_bfloat16, as `mask` is
        return tf.multiply(tf.subtract(one, mask, name="mask_bias"), MASK_LOGIT,
                           name="mask_bias")


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Attention whose query, key and value are projected from three (possibly distinct)
    views of the same sequence, as the bottleneck block needs.

    Projections are 2-D `Dense` kernels and the head split is reshape+transpose, so the graph
    has plain MATMULs (no einsum) for TFLite.

    Args:
        num_heads: Number of heads.
        head_size: Width of each head; the projections are `num_heads * head_size` wide.
        output_size: Width of the output projection.
        attention_dropout: Dropout on the attention probabilities.
        initializer_range: Stddev of the truncated-normal kernel initializer.

    Call args:
        query, key, value: float `[batch, seq, width]` (widths may differ).
        mask_adder: float `[batch, 1, 1, seq]` from `AttentionMask`.
        training: Python bool, enables dropout.

    Returns:
        `(output [batch, seq, output_size], logits [batch, heads, seq, seq])`; `logits` are
        the scaled, masked scores before softmax (what attention transfer distills).
    """

    def __init__(self, num_heads, head_size, output_size, attention_dropout, initializer_range,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_size = head_size
        self.output_size = output_size
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        width = num_heads * head_size
        self.query_dense = make_dense(width, "query", initializer_range)
        self.key_dense = make_dense(width, "key", initializer_range)
        self.value_dense = make_dense(width, "value", initializer_range)
        self.output_dense = make_dense(output_size, "output", initializer_range)
        self.dropout = SeededDropout(attention_dropout)

    def _split_heads(self, x):
        """`[batch, seq, heads * size]` -> `[batch, heads, seq, size]`."""
        batch, seq = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [batch, seq, self.num_heads, self.head_size])
        return tf.transpose(x, [0, 2, 1, 3])

    def call(self, query, key, value, mask_adder, training=None):
        q = self._split_heads(self.query_dense(query))
        k = self._split_heads(self.key_dense(key))
        v = self._split_heads(self.value_dense(value))
        logits = tf.multiply(tf.matmul(q, k, transpose_b=True),
                             1.0 / math.sqrt(self.head_size), name="scaled_logits")
        # Export finds these two ops by name to keep them in float (mobilebert_tf.export).
        logits = tf.add(logits, mask_adder, name="masked_logits")
        probs = self.dropout(tf.nn.softmax(logits, axis=-1), training=training)
        context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
        batch, seq = tf.shape(context)[0], tf.shape(context)[1]
        context = tf.reshape(context, [batch, seq, self.num_heads * self.head_size])
        return self.output_dense(context), logits

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, head_size=self.head_size,
                      output_size=self.output_size, attention_dropout=self.attention_dropout,
                      initializer_range=self.initializer_range)
        return config
