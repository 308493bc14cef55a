"""The TF-Hub BERT signature every model here takes and every SavedModel serves: three int32
`[batch, seq]` tensors named `INPUT_KEYS`. One place for its keys, its `TensorSpec`s, random
inputs of its shape, and the SavedModel of an encoder that serves it."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

INPUT_KEYS = ("input_word_ids", "input_mask", "input_type_ids")


def input_spec(batch_size: int | None = None,
               seq_length: int | None = None) -> dict[str, tf.TensorSpec]:
    """`{key: TensorSpec([batch_size, seq_length], int32)}`; None leaves a dimension free."""
    return {key: tf.TensorSpec([batch_size, seq_length], tf.int32, name=key)
            for key in INPUT_KEYS}


def encoder_inputs(batch: int, seq_length: int, vocab_size: int, lengths=None, seed: int = 0,
                   type_vocab_size: int = 2) -> dict[str, tf.Tensor]:
    """Random inputs; row i has `lengths[i]` real tokens (all by default) then [PAD] (id 0)."""
    rng = np.random.default_rng(seed)
    lengths = [seq_length] * batch if lengths is None else list(lengths)
    mask = (np.arange(seq_length)[None, :] < np.array(lengths)[:, None]).astype(np.int32)
    ids = rng.integers(1, vocab_size, size=(batch, seq_length)).astype(np.int32) * mask
    types = rng.integers(0, type_vocab_size, size=(batch, seq_length)).astype(np.int32) * mask
    return {"input_word_ids": tf.constant(ids), "input_mask": tf.constant(mask),
            "input_type_ids": tf.constant(types)}


def save_encoder_saved_model(encoder, export_dir: str, batch_size: int | None = None,
                             seq_length: int | None = None) -> str:
    """A reusable TF-Hub encoder SavedModel of `encoder` (ours or a tf-models-official one: any
    Keras encoder taking and returning TF-Hub BERT dicts). Returns `export_dir`.

    Its root follows TF-Hub's reusable SavedModel API for TF2, so `hub.KerasLayer(export_dir,
    trainable=True)` fine-tunes it: `__call__(inputs, training=False)` takes the int32 input
    dict at any batch size and length (up to the encoder's position table) and returns
    `pooled_output`, `sequence_output` and `encoder_outputs` (each block's output, the last
    equal to `sequence_output`), with dropout when `training`; `variables`,
    `trainable_variables` and `regularization_losses` are the encoder's. Its `serving_default`
    takes `input_spec(batch_size, seq_length)` and returns `sequence_output` and
    `pooled_output`.
    """
    # Ours lists the embedding output first (feature-map transfer reads it); TF-Hub's does not.
    first_block = 1 if getattr(encoder, "EMBEDDING_IN_ENCODER_OUTPUTS", False) else 0

    @tf.function
    def call(inputs, training=False):
        outputs = encoder(inputs, training=training)
        return {"pooled_output": outputs["pooled_output"],
                "sequence_output": outputs["sequence_output"],
                "encoder_outputs": list(outputs["encoder_outputs"][first_block:])}

    @tf.function(input_signature=[input_spec(batch_size, seq_length)])
    def serve(inputs):
        outputs = call(inputs, training=False)
        return {"sequence_output": outputs["sequence_output"],
                "pooled_output": outputs["pooled_output"]}

    for training in (False, True):
        call.get_concrete_function(input_spec(), training=training)
    root = tf.train.Checkpoint()  # tracks every attribute set on it, `__call__` included
    root.encoder = encoder
    root.__call__ = call
    root.variables = list(encoder.variables)
    root.trainable_variables = list(encoder.trainable_variables)
    if encoder.losses:
        raise ValueError(f"{encoder.name} has weight regularizers; the TF-Hub export saves none.")
    root.regularization_losses = []  # none of our encoders (nor TFMG's) regularizes weights
    root.serve = serve
    tf.saved_model.save(root, export_dir, signatures={"serving_default": serve})
    return export_dir

