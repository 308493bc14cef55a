"""Helpers the test suites share: inputs of the encoder's signature and layer checks."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras


def encoder_inputs(batch: int, seq_length: int, vocab_size: int, lengths=None, seed: int = 0,
                   type_vocab_size: int = 2) -> dict[str, tf.Tensor]:
    """Random TF-Hub-BERT inputs; row i has `lengths[i]` real tokens then [PAD] (id 0)."""
    rng = np.random.default_rng(seed)
    lengths = [seq_length] * batch if lengths is None else list(lengths)
    mask = (np.arange(seq_length)[None, :] < np.array(lengths)[:, None]).astype(np.int32)
    ids = rng.integers(1, vocab_size, size=(batch, seq_length)).astype(np.int32) * mask
    types = rng.integers(0, type_vocab_size, size=(batch, seq_length)).astype(np.int32) * mask
    return {"input_word_ids": tf.constant(ids), "input_mask": tf.constant(mask),
            "input_type_ids": tf.constant(types)}


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max |expected|: a scale-free bound for activations that span
    many orders of magnitude (NoNorm outputs are not normalized)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-30))


def assert_config_round_trip(layer: keras.layers.Layer, call) -> None:
    """`from_config(get_config())` gives an equal config, and with copied weights, equal
    outputs of `call(layer)`."""
    expected = call(layer)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    call(clone)  # builds the clone's weights
    clone.set_weights(layer.get_weights())
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
        call(clone), expected)
