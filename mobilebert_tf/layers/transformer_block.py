"""The (inverted-)bottleneck transformer block shared by IB-BERT, MobileBERT and BERT."""

import tf_keras as keras

from mobilebert_tf.layers.attention import MultiHeadSelfAttention
from mobilebert_tf.layers.factory import make_dense, make_norm
from mobilebert_tf.layers.feed_forward import FeedForward
from mobilebert_tf.layers.seeded_dropout import SeededDropout


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class TransformerBlock(keras.layers.Layer):
    """One block of the encoder (docs/mobilebert.md §2):

        b   = norm(Dense(hidden->intra)(x))                 input bottleneck
        q,k,v per `qkv_source`                              (x, b, or a shared Q/K bottleneck)
        a   = norm(attention(q, k, v) + b)
        a   = FeedForward(a), `num_ffn` times               stacked FFNs
        out = norm(dropout(Dense(intra->hidden)(a)) + x)    output bottleneck

    With `use_bottleneck=False` (plain BERT) `b = x`, there is no output bottleneck, and
    dropout follows the attention output and each FFN instead, as in BERT.

    Args:
        hidden_size, intra_size, num_heads, intermediate_size, num_ffn, qkv_source, norm,
        activation, use_bottleneck, hidden_dropout, attention_dropout, initializer_range,
        layer_norm_epsilon: as in `MobileBertConfig`.

    Call args:
        inputs: float `[batch, seq, hidden_size]`.
        mask_adder: float `[batch, 1, 1, seq]` from `AttentionMask`.
        training: Python bool, enables dropout.

    Returns:
        `(output [batch, seq, hidden_size], attention logits [batch, heads, seq, seq])`.
    """

    def __init__(self, hidden_size, intra_size, num_heads, intermediate_size, num_ffn,
                 qkv_source, norm, activation, use_bottleneck, hidden_dropout, attention_dropout,
                 initializer_range, layer_norm_epsilon, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intra_size = intra_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.num_ffn = num_ffn
        self.qkv_source = qkv_source
        self.norm = norm
        self.activation = activation
        self.use_bottleneck = use_bottleneck
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.layer_norm_epsilon = layer_norm_epsilon

        self.bottleneck_input = self.bottleneck_input_norm = None
        self.kq_bottleneck = self.kq_bottleneck_norm = None
        self.bottleneck_output = self.bottleneck_output_norm = None
        if use_bottleneck:
            self.bottleneck_input = self._dense(intra_size, "bottleneck_input")
            self.bottleneck_input_norm = self._norm("bottleneck_input_norm")
            self.bottleneck_output = self._dense(hidden_size, "bottleneck_output")
            self.bottleneck_output_norm = self._norm("bottleneck_output_norm")
        if qkv_source == "shared_bottleneck":
            self.kq_bottleneck = self._dense(intra_size, "kq_bottleneck")
            self.kq_bottleneck_norm = self._norm("kq_bottleneck_norm")
        self.attention = MultiHeadSelfAttention(
            num_heads=num_heads, head_size=intra_size // num_heads, output_size=intra_size,
            attention_dropout=attention_dropout, initializer_range=initializer_range,
            name="attention")
        self.attention_norm = self._norm("attention_norm")
        # Plain BERT drops out inside the block; the bottleneck block only after its output.
        inner_dropout = 0.0 if use_bottleneck else hidden_dropout
        self.attention_dropout_layer = SeededDropout(inner_dropout)
        self.ffns = [
            FeedForward(intermediate_size, activation, norm, layer_norm_epsilon, inner_dropout,
                        initializer_range, name=f"ffn_{i}")
            for i in range(num_ffn)]
        self.output_dropout = SeededDropout(hidden_dropout if use_bottleneck else 0.0)

    def _dense(self, units, name):
        return make_dense(units, name, self.initializer_range)

    def _norm(self, name):
        return make_norm(self.norm, self.layer_norm_epsilon, name=name)

    def call(self, inputs, mask_adder, training=None):
        if inputs.shape[-1] is not None and inputs.shape[-1] != self.hidden_size:
            raise ValueError(f"TransformerBlock {self.name} expects width {self.hidden_size}, "
                             f"got input of shape {inputs.shape}.")
        block_input = inputs
        if self.use_bottleneck:
            block_input = self.bottleneck_input_norm(self.bottleneck_input(inputs))
        if self.qkv_source == "bottleneck":
            query = key = value = block_input
        elif self.qkv_source == "shared_bottleneck":
            query = key = self.kq_bottleneck_norm(self.kq_bottleneck(inputs))
            value = inputs
        else:
            query = key = value = inputs
        attended, logits = self.attention(query, key, value, mask_adder, training=training)
        attended = self.attention_dropout_layer(attended, training=training)
        hidden = self.attention_norm(attended + block_input)
        for ffn in self.ffns:
            hidden = ffn(hidden, training=training)
        if self.use_bottleneck:
            hidden = self.output_dropout(self.bottleneck_output(hidden), training=training)
            hidden = self.bottleneck_output_norm(hidden + inputs)
        return hidden, logits

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size, intra_size=self.intra_size, num_heads=self.num_heads,
            intermediate_size=self.intermediate_size, num_ffn=self.num_ffn,
            qkv_source=self.qkv_source, norm=self.norm, activation=self.activation,
            use_bottleneck=self.use_bottleneck, hidden_dropout=self.hidden_dropout,
            attention_dropout=self.attention_dropout, initializer_range=self.initializer_range,
            layer_norm_epsilon=self.layer_norm_epsilon)
        return config
