"""Write our models out: as TF2 checkpoints (this project's format; the encoder's SavedModel
is `signature.save_encoder_saved_model`), and through the inverse name maps as the authors' TF1
checkpoints or Hugging Face safetensors."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.convert import name_maps
from mobilebert_tf.convert.importer import _model_weights, to_source
from mobilebert_tf.convert.safetensors import write_safetensors
from mobilebert_tf.encoder import MobileBertEncoder

HF_WORD_TABLE = "mobilebert.embeddings.word_embeddings.weight"
HF_OUTPUT_BIAS = "cls.predictions.bias"
HF_DECODER, HF_DECODER_BIAS = "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"


def foreign_arrays(model: keras.Model, target_format: str,
                   einsum_kernels: bool = False) -> dict[str, np.ndarray]:
    """`{foreign name: array}` of `model` (encoder or pretrainer) in `target_format`.

    `einsum_kernels` (tf1 only) writes attention kernels 3-D, as BERT's einsum variant does.
    """
    config, with_heads, weights = _model_weights(model)
    arrays = {}
    for entry in name_maps.name_map(target_format, config, with_heads):
        value = weights[entry.target].numpy()
        if target_format == "tf1" and einsum_kernels and entry.alt_shapes:
            arrays[entry.source] = value.reshape(entry.alt_shapes[0])
        else:
            arrays[entry.source] = to_source(entry, value)
    return arrays


def write_tf1_checkpoint(arrays: dict[str, np.ndarray], prefix: str) -> str:
    """Save `arrays` as TF1 variables of those exact names (`tf.compat.v1.train.Saver`)."""
    if os.path.dirname(prefix):
        tf.io.gfile.makedirs(os.path.dirname(prefix))
    with tf.Graph().as_default():
        variables = {name: tf.compat.v1.Variable(value, name=name)
                     for name, value in arrays.items()}
        saver = tf.compat.v1.train.Saver(variables, save_relative_paths=True)  # movable
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, prefix, write_meta_graph=False)


def export_tf1_checkpoint(model: keras.Model, prefix: str, einsum_kernels: bool = False) -> str:
    """`model` as a checkpoint with google-research `mobilebert` variable names."""
    return write_tf1_checkpoint(foreign_arrays(model, "tf1", einsum_kernels), prefix)


def hf_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """`model` (encoder or pretrainer) as Hugging Face `MobileBertForPreTraining` arrays, as
    our HF directories hold them (`convert.hf_directory`): the input word table's `[PAD]` row
    (id 0) zeroed, so that transformers' 3-gram window sees past the last real token what ours
    sees (zeros); with heads, the output layer's table written untied with that row as trained
    (`cls.predictions.decoder.*`), so the MLM logits stay exact."""
    arrays = foreign_arrays(model, "hf")
    table = arrays[HF_WORD_TABLE]
    if HF_OUTPUT_BIAS in arrays:
        arrays[HF_DECODER] = table.copy()
        arrays[HF_DECODER_BIAS] = arrays[HF_OUTPUT_BIAS]
    arrays[HF_WORD_TABLE] = zeroed_pad_row(table)
    return arrays


def zeroed_pad_row(table: np.ndarray) -> np.ndarray:
    """`table` with row 0 (`[PAD]`) zeroed: what our 3-gram window sees past the last real
    token, for runtimes that read the `[PAD]` embedding there; our encoder never reads it at a
    real token, so this loses nothing of ours."""
    return np.concatenate([np.zeros_like(table[:1]), table[1:]])


def export_hf_safetensors(model: keras.Model, path: str) -> str:
    """`hf_arrays(model)` as a safetensors file at `path` (any filesystem)."""
    return write_safetensors(path, hf_arrays(model), metadata={"format": "pt"})


def save_tf2_checkpoint(model: keras.Model, directory: str) -> str:
    """A TF2 object checkpoint of `model` in `directory`; returns its prefix.

    The object is saved under `model` (what `mobilebert_tf.training.loop.restore_model`
    reads) and its encoder also under `encoder`, so a task model can restore just the encoder
    with `tf.train.Checkpoint(encoder=task_model.encoder)`.
    """
    encoder = model if isinstance(model, MobileBertEncoder) else model.encoder
    checkpoint = tf.train.Checkpoint(model=model, encoder=encoder)
    return checkpoint.save(tf.io.gfile.join(directory, "ckpt"))
