"""`MobileBertEncoder`: the one encoder network behind IB-BERT, MobileBERT, TINY and BERT-base."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.config import MobileBertConfig, get_preset
from mobilebert_tf.layers import AttentionMask, MobileBertEmbedding, Pooler, TransformerBlock
from mobilebert_tf.signature import INPUT_KEYS  # the encoder's input keys, also exported here


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MobileBertEncoder(keras.Model):
    """A functional Keras encoder: TF-Hub BERT input dict in, a dict of outputs out.

    Args:
        config: A `MobileBertConfig`; everything about the network follows from it.

    Call args:
        inputs: dict with exactly `input_word_ids`, `input_mask`, `input_type_ids`, each an
            integer `[batch, seq]` tensor (cast to int32).
        training: Python bool, enables dropout.

    Returns:
        dict with
        - `sequence_output`: `[batch, seq, hidden_size]`, the last block's output;
        - `pooled_output`: `[batch, hidden_size]`, see `Pooler`;
        - `encoder_outputs`: list of `num_layers + 1` `[batch, seq, hidden_size]` tensors: the
          embedding output, then each block's output (feature-map transfer reads these);
        - `attention_logits`: list of `num_layers` `[batch, heads, seq, seq]` masked scores
          before softmax (attention transfer reads these).

    Example:
    >>> encoder = MobileBertEncoder(get_preset("mobilebert_mini", num_layers=2))
    >>> ids = tf.constant([[101, 7592, 102, 0]])
    >>> out = encoder({"input_word_ids": ids, "input_mask": tf.cast(ids > 0, tf.int32),
    ...                "input_type_ids": tf.zeros_like(ids)})
    >>> out["sequence_output"].shape
    TensorShape([1, 4, 128])
    """

    EMBEDDING_IN_ENCODER_OUTPUTS = True  # `encoder_outputs[0]`; TF-Hub exports drop it

    def __init__(self, config: MobileBertConfig, **kwargs):
        inputs = {key: keras.Input(shape=(None,), dtype=tf.int32, name=key) for key in INPUT_KEYS}
        embedding = embedding_layer(config)
        blocks = [transformer_block(config, f"layer_{i}") for i in range(config.num_layers)]
        pooler = Pooler(config.hidden_size, config.use_pooler, config.initializer_range,
                        name="pooler")

        hidden = embedding(inputs["input_word_ids"], inputs["input_type_ids"],
                           inputs["input_mask"])
        mask_adder = AttentionMask(name="attention_mask")(inputs["input_mask"])
        encoder_outputs, attention_logits = [hidden], []
        for block in blocks:
            hidden, logits = block(hidden, mask_adder)
            encoder_outputs.append(hidden)
            attention_logits.append(logits)
        outputs = {
            "sequence_output": hidden,
            "pooled_output": pooler(hidden),
            "encoder_outputs": encoder_outputs,
            "attention_logits": attention_logits,
        }
        kwargs.setdefault("name", "encoder")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.config = config
        self.embedding = embedding
        self.blocks = blocks
        self.pooler = pooler

    @property
    def word_embeddings(self) -> tf.Variable:
        """The `[vocab_size, embedding_size]` word table (shared with the MLM head)."""
        return self.embedding.word_embeddings

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(_checked_inputs(inputs, self.config), *args, **kwargs)

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(MobileBertConfig.from_dict(config["config"]), name=config.get("name"))


def embedding_layer(config: MobileBertConfig) -> MobileBertEmbedding:
    """The encoder's embedding layer for `config`."""
    return MobileBertEmbedding(
        vocab_size=config.vocab_size, embedding_size=config.embedding_size,
        hidden_size=config.hidden_size, max_position=config.max_position,
        type_vocab_size=config.type_vocab_size, use_trigram=config.use_trigram,
        norm=config.norm, layer_norm_epsilon=config.layer_norm_epsilon,
        hidden_dropout=config.hidden_dropout, initializer_range=config.initializer_range,
        name="embeddings")


def transformer_block(config: MobileBertConfig, name: str) -> TransformerBlock:
    """One encoder block for `config`."""
    return TransformerBlock(
        hidden_size=config.hidden_size, intra_size=config.intra_size,
        num_heads=config.num_heads, intermediate_size=config.intermediate_size,
        num_ffn=config.num_ffn, qkv_source=config.qkv_source, norm=config.norm,
        activation=config.activation, use_bottleneck=config.use_bottleneck,
        hidden_dropout=config.hidden_dropout, attention_dropout=config.attention_dropout,
        initializer_range=config.initializer_range,
        layer_norm_epsilon=config.layer_norm_epsilon, name=name)


def _checked_inputs(inputs, config: MobileBertConfig) -> dict:
    """The input dict with int32 tensors, or a ValueError naming what is wrong."""
    if not isinstance(inputs, dict) or set(inputs) != set(INPUT_KEYS):
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(f"MobileBertEncoder takes a dict with keys {list(INPUT_KEYS)}; "
                         f"got {got}.")
    checked = {}
    for key in INPUT_KEYS:
        value = inputs[key]
        if isinstance(value, (np.ndarray, np.generic, list, tuple, int)):
            value = tf.convert_to_tensor(value)
        if value.shape.rank != 2:
            raise ValueError(f"{key} must have shape [batch, seq_length]; got shape "
                             f"{value.shape}.")
        if not value.dtype.is_integer:
            raise ValueError(f"{key} must be an integer tensor; got {value.dtype.name}.")
        checked[key] = value if value.dtype == tf.int32 else tf.cast(value, tf.int32)
    lengths = {key: value.shape[1] for key, value in checked.items()}
    known = {length for length in lengths.values() if length is not None}
    if len(known) > 1:
        raise ValueError(f"Inputs disagree on seq_length: {lengths}.")
    if known and max(known) > config.max_position:
        raise ValueError(f"Sequence length {max(known)} exceeds the position table "
                         f"({config.max_position} positions, max_position).")
    return checked


def build_encoder(config_or_preset: MobileBertConfig | str, **overrides) -> MobileBertEncoder:
    """The encoder for a `MobileBertConfig` or a preset name (fields overridable)."""
    if isinstance(config_or_preset, str):
        config = get_preset(config_or_preset, **overrides)
    elif isinstance(config_or_preset, MobileBertConfig):
        config = config_or_preset.replace(**overrides) if overrides else config_or_preset
    else:
        raise TypeError("build_encoder takes a MobileBertConfig or a preset name, got "
                        f"{type(config_or_preset).__name__}.")
    return MobileBertEncoder(config)
