"""The MobileBERT embedding: factorized word table, 3-gram window, projection to the body."""

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.layers.factory import make_dense, make_norm
from mobilebert_tf.layers.seeded_dropout import SeededDropout


def trigram_window(words, mask):
    """Word embeddings `[batch, seq, width]` -> those of tokens t+1, t and t-1 side by side
    `[batch, seq, 3 * width]`, zeros past either end and at padding (float `mask` 0)."""
    # Deviation from GR/TFMG/HF (docs/mobilebert.md §0), which let the last real token see the
    # [PAD] embedding as its t+1 neighbour, so outputs changed with the amount of padding.
    words *= mask[:, :, None]
    return tf.concat([tf.pad(words[:, 1:], [[0, 0], [0, 1], [0, 0]]),
                      words,
                      tf.pad(words[:, :-1], [[0, 0], [1, 0], [0, 0]])], axis=-1)


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MobileBertEmbedding(keras.layers.Layer):
    """Word, position and segment embeddings summed, normalized and dropped out.

    With `use_trigram`, the narrow word embeddings of tokens t+1, t and t-1 are concatenated
    (in that order, zeros past either end) and projected to `hidden_size`: the kernel-3
    convolution of the paper's embedding factorization (128 -> 3 x 128 -> 512). Without it, a
    projection exists only when `embedding_size != hidden_size`; plain BERT has none.

    Args:
        vocab_size, embedding_size, hidden_size, max_position, type_vocab_size, use_trigram,
        norm, layer_norm_epsilon, hidden_dropout, initializer_range: as in `MobileBertConfig`.

    Call args:
        input_word_ids: int32 `[batch, seq]`.
        input_type_ids: int32 `[batch, seq]`.
        input_mask: int32 `[batch, seq]`, 1 for real tokens. With the 3-gram window, padded
            positions contribute zeros to their neighbours, exactly as past the sequence end.
        training: Python bool, enables dropout.

    Returns:
        float `[batch, seq, hidden_size]`.
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, max_position, type_vocab_size,
                 use_trigram, norm, layer_norm_epsilon, hidden_dropout, initializer_range,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.max_position = max_position
        self.type_vocab_size = type_vocab_size
        self.use_trigram = use_trigram
        self.norm = norm
        self.layer_norm_epsilon = layer_norm_epsilon
        self.hidden_dropout = hidden_dropout
        self.initializer_range = initializer_range

        self.projection = None
        if use_trigram or embedding_size != hidden_size:
            self.projection = make_dense(hidden_size, "projection", initializer_range)
        self.norm_layer = make_norm(norm, layer_norm_epsilon, name="norm")
        self.dropout = SeededDropout(hidden_dropout)

    def _initializer(self):
        return keras.initializers.TruncatedNormal(stddev=self.initializer_range)

    def build(self, input_shape):
        self.word_embeddings = self.add_weight(
            name="word_embeddings", shape=(self.vocab_size, self.embedding_size),
            initializer=self._initializer())
        self.position_embeddings = self.add_weight(
            name="position_embeddings", shape=(self.max_position, self.hidden_size),
            initializer=self._initializer())
        self.token_type_embeddings = self.add_weight(
            name="token_type_embeddings", shape=(self.type_vocab_size, self.hidden_size),
            initializer=self._initializer())
        super().build(input_shape)

    def call(self, input_word_ids, input_type_ids, input_mask, training=None):
        seq_length = input_word_ids.shape[1]
        if seq_length is not None and seq_length > self.max_position:
            raise ValueError(f"Sequence length {seq_length} exceeds the position table "
                             f"({self.max_position} positions, max_position).")
        dynamic_length = tf.shape(input_word_ids)[1]
        checks = []
        if seq_length is None:
            checks.append(tf.debugging.assert_less_equal(
                dynamic_length, self.max_position,
                message=f"Sequence length exceeds the position table ({self.max_position} "
                        "positions, max_position)."))
        with tf.control_dependencies(checks):
            words = tf.gather(self.word_embeddings, input_word_ids)
        if self.use_trigram:
            words = trigram_window(words, tf.cast(input_mask, words.dtype))
        if self.projection is not None:
            words = self.projection(words)
        positions = self.position_embeddings[:dynamic_length]
        types = tf.gather(self.token_type_embeddings, input_type_ids)
        embeddings = self.norm_layer(words + positions[None] + types)
        return self.dropout(embeddings, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, embedding_size=self.embedding_size,
            hidden_size=self.hidden_size, max_position=self.max_position,
            type_vocab_size=self.type_vocab_size, use_trigram=self.use_trigram, norm=self.norm,
            layer_norm_epsilon=self.layer_norm_epsilon, hidden_dropout=self.hidden_dropout,
            initializer_range=self.initializer_range)
        return config
