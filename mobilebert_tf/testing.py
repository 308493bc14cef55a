"""Helpers only the test suites use: error bounds, layer checks, Model Garden's encoder,
subprocesses, and a directory's files. Nothing in `mobilebert_tf` imports this module (tests/test_layering.py checks)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras


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


def run_module(module: str, args, check: bool = True, timeout: int = 600,
               env: dict | None = None):
    """Run `python -m module args...` from the repository in a subprocess (CPU only, with the
    variables `env` added); returns the CompletedProcess, raising with its output's tail if
    `check` and it failed."""
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=repo, CUDA_VISIBLE_DEVICES="",
               **(env or {}))
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{module} failed ({result.returncode}):\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


def run_train_script(args, check: bool = True, timeout: int = 600):
    """`run_module("tpu.train", args)`."""
    return run_module("tpu.train", args, check, timeout)


def file_contents(directory: str) -> dict[str, bytes]:
    """`{path relative to directory: bytes}` of every file under `directory`, on any
    `tf.io.gfile` filesystem: a directory compared before and after a command."""
    found = {}
    for root, _, names in tf.io.gfile.walk(directory):
        for name in names:
            path = tf.io.gfile.join(root, name)
            with tf.io.gfile.GFile(path, "rb") as f:
                found[path[len(directory):].lstrip("/")] = f.read()
    return found
