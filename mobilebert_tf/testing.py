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


def randomize_norms(model: keras.layers.Layer, low: float = 0.5, high: float = 1.5,
                    signed: bool = False, seed: int = 0) -> None:
    """Give every norm a random gamma in [low, high] (random sign with `signed`) and beta.

    Fresh NoNorms are the identity, which the TFLite converter deletes and which hides
    mistakes in any code that moves or folds them; trained norms are not the identity.
    """
    rng = np.random.default_rng(seed)
    for w in model.weights:
        leaf = w.name.split("/")[-1]
        if leaf.startswith("gamma"):
            gamma = rng.uniform(low, high, w.shape)
            w.assign(gamma * rng.choice([-1.0, 1.0], w.shape) if signed else gamma)
        elif leaf.startswith("beta"):
            w.assign(rng.normal(0.0, 0.1, w.shape))


def tfmg_mobilebert_encoder(config, **kwargs):
    """tf-models-official's `MobileBERTEncoder` with the shape of a `MobileBertConfig`."""
    from official.nlp.modeling.networks import mobile_bert_encoder

    return mobile_bert_encoder.MobileBERTEncoder(
        word_vocab_size=config.vocab_size, word_embed_size=config.embedding_size,
        type_vocab_size=config.type_vocab_size, max_sequence_length=config.max_position,
        num_blocks=config.num_layers, hidden_size=config.hidden_size,
        num_attention_heads=config.num_heads, intermediate_size=config.intermediate_size,
        intermediate_act_fn=config.activation, hidden_dropout_prob=config.hidden_dropout,
        attention_probs_dropout_prob=config.attention_dropout,
        intra_bottleneck_size=config.intra_size,
        use_bottleneck_attention=config.qkv_source == "bottleneck",
        key_query_shared_bottleneck=config.qkv_source == "shared_bottleneck",
        num_feedforward_networks=config.num_ffn, normalization_type=config.norm,
        classifier_activation=config.use_pooler, **kwargs)


def run_module(module: str, args, check: bool = True, timeout: int = 600):
    """Run `python -m module args...` from the repository in a subprocess (CPU only);
    returns the CompletedProcess, raising with its output's tail if `check` and it failed."""
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=repo, CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{module} failed ({result.returncode}):\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


def run_train_script(args, check: bool = True, timeout: int = 600):
    """`run_module("tpu.train", args)`."""
    return run_module("tpu.train", args, check, timeout)
