"""The model to export: from a `.keras` file, or a preset + head restored from a training
checkpoint (`tf.train.Checkpoint(model=...)`, as `tpu/train.py` writes them)."""

from __future__ import annotations

import os

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.models import MobileBertClassifier, MobileBertSpanLabeler
from mobilebert_tf.training.loop import restore_model

HEADS = ("encoder", "classifier", "squad")


def build_model(preset: str, head: str, num_classes: int = 2) -> keras.Model:
    """A fresh, built model of `preset` with `head` ("encoder", "classifier" or "squad")."""
    if head not in HEADS:
        raise ValueError(f"Unknown head {head!r}; expected one of {HEADS}.")
    encoder = build_encoder(preset)
    if head == "encoder":
        return encoder
    model = (MobileBertClassifier(encoder, num_classes) if head == "classifier"
             else MobileBertSpanLabeler(encoder))
    model(model.example_inputs())
    return model


def load_model(model_path: str | None = None, checkpoint: str | None = None,
               preset: str | None = None, head: str = "encoder",
               num_classes: int = 2) -> keras.Model:
    """The model to export.

    Args:
        model_path: A `.keras` file (the config travels with it; nothing else needed).
        checkpoint: A checkpoint directory or prefix whose `model` is a pretrainer,
            classifier or span labeler. With `head="encoder"` only its encoder is read, so any
            of them works; a task head must be in the checkpoint.
        preset, head, num_classes: What to build before restoring `checkpoint`.
    """
    if (model_path is None) == (checkpoint is None):
        raise ValueError("Give exactly one of model_path (.keras) or checkpoint (+ preset).")
    if model_path is not None:
        if not os.path.exists(model_path):
            raise FileNotFoundError(f"No model file at {model_path!r}.")
        return keras.models.load_model(model_path)
    if preset is None:
        raise ValueError("Exporting from a checkpoint needs the preset it was trained with.")
    model = build_model(preset, head, num_classes)
    # The encoder sits at `model/encoder` in every task model's checkpoint.
    root = tf.train.Checkpoint(encoder=model) if head == "encoder" else model
    try:
        restore_model(root, checkpoint)
    except (AssertionError, ValueError) as error:
        raise ValueError(f"Checkpoint {checkpoint!r} does not hold a {preset!r} {head} "
                         f"model: {error}") from error
    return model
