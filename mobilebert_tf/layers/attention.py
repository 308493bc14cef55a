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

# Names of the ops the full-int8 export keeps float (export/tflite.py finds them by name; its
# tests match them): the additive mask, and the logit scale and mask ADD before each softmax.
MASK_BIAS = "mask_bias"
SCALED_LOGITS = "scaled_logits"
MASKED_LOGITS = "masked_logits"


def additive_mask(mask):
    """float `mask` `[batch, 1, 1, seq]` (1 = real token) -> the additive logit mask."""
    one = tf.constant(1.0, mask.dtype)  # bfloat16 under mixed_bfloat16, as `mask` is
    return tf.multiply(tf.subtract(one, mask, name=MASK_BIAS), MASK_LOGIT, name=MASK_BIAS)


def masked_logits(query, key, mask_adder, logit_scale=None):
    """`query @ key^T`, times `logit_scale` (None: the caller folded it into `query`), plus
    `mask_adder`: `[batch, heads, seq, seq]` from `[batch, heads, seq, size]` operands."""
    logits = tf.matmul(query, key, transpose_b=True)
    if logit_scale is not None:
        logits = tf.multiply(logits, logit_scale, name=SCALED_LOGITS)
    return tf.add(logits, mask_adder, name=MASKED_LOGITS)


def weighted_values(probs, value):
    """Attention probabilities times `value` `[batch, heads, seq, size]`, token-major:
    `[batch, seq, heads, size]`."""
    return tf.transpose(tf.matmul(probs, value), [0, 2, 1, 3])


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class AttentionMask(keras.layers.Layer):
    """`input_mask` `[batch, seq]` (1 = real token) -> additive logit mask `[batch, 1, 1, seq]`."""

    def call(self, input_mask):
        return additive_mask(tf.cast(input_mask, self.compute_dtype)[:, None, None, :])


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
        logits = masked_logits(q, k, mask_adder, 1.0 / math.sqrt(self.head_size))
        probs = self.dropout(tf.nn.softmax(logits, axis=-1), training=training)
        context = weighted_values(probs, v)
        batch, seq = tf.shape(context)[0], tf.shape(context)[1]
        context = tf.reshape(context, [batch, seq, self.num_heads * self.head_size])
        return self.output_dense(context), logits

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, head_size=self.head_size,
                      output_size=self.output_size, attention_dropout=self.attention_dropout,
                      initializer_range=self.initializer_range)
        return config
