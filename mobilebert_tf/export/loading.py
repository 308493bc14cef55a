"""The model to export: from a `.keras` file, or a head restored from a training checkpoint
(`tf.train.Checkpoint(model=...)`, as `tpu/train.py` writes them) with the model config stored
beside it (`stored_config`; `--preset`/`--overrides` for checkpoints without one)."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf import fileio
from mobilebert_tf.config import MobileBertConfig, get_preset
from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.errors import InputError, MissingInputError
from mobilebert_tf.models import MobileBertClassifier, MobileBertPretrainer, MobileBertSpanLabeler
from mobilebert_tf.stored_config import check_owner, resolve_model_config
from mobilebert_tf.training.loop import restore_model

HEADS = ("encoder", "classifier", "squad")  # what `.tflite` export takes
PRETRAINER = "pretrainer"  # the MLM and NSP heads too: for checkpoint formats, not .tflite


def build_model(config: str | MobileBertConfig, head: str, num_classes: int = 2) -> keras.Model:
    """A fresh, built model of `config` (or a preset name) with `head` ("encoder",
    "classifier", "squad" or "pretrainer")."""
    if head not in (*HEADS, PRETRAINER):
        raise ValueError(f"Unknown head {head!r}; expected one of {HEADS}.")
    encoder = build_encoder(get_preset(config) if isinstance(config, str) else config)
    if head == "encoder":
        return encoder
    if head == PRETRAINER:
        model = MobileBertPretrainer(encoder)
        model(model.example_inputs())
        return model
    model = (MobileBertClassifier(encoder, num_classes) if head == "classifier"
             else MobileBertSpanLabeler(encoder))
    model(model.example_inputs())
    return model


EXPORT_OWNER = {"mode": "export"}  # the run config an export writes (`check_owner`)


def check_inputs(model_path: str | None = None, checkpoint: str | None = None,
                 preset: str | None = None, vocab_file: str | None = None,
                 data_dir: str | None = None, calibration_records: str | None = None,
                 output_dir: str | None = None,
                 overrides: dict | None = None) -> MobileBertConfig | None:
    """Refuse bad export inputs before anything is built, naming the `export_tflite` flag
    and its value; `output_dir` is created (so a missing bucket fails here too) unless another
    command's or run's outputs are there (`EXPORT_OWNER`). Returns the checkpoint's model config
    (None for `model_path`).

    Raises:
        FileNotFoundError: a missing file, directory or checkpoint.
        ValueError: neither or both of `model_path` and `checkpoint`; an `output_dir` that is
            not empty and was not written by an export; a checkpoint without a
            stored config and no `preset`, or a `preset`/`overrides` contradicting it.
        OSError: `output_dir` cannot be created.
    """
    if (model_path is None) == (checkpoint is None):
        raise ValueError("Give exactly one of --model (a .keras file) or --checkpoint.")
    if model_path is not None and not tf.io.gfile.exists(model_path):
        raise FileNotFoundError(f"No model file at --model {model_path!r}.")
    if checkpoint is not None:
        try:
            fileio.checkpoint_prefix(checkpoint, "--checkpoint")
        except MissingInputError:  # in the words of the other checks here
            raise MissingInputError(f"No checkpoint at --checkpoint {checkpoint!r} (a training "
                                    "directory or a checkpoint prefix).") from None
    elif preset is not None or overrides:
        raise ValueError("--preset and --overrides are for --checkpoint: a --model file holds "
                         "its config.")
    if vocab_file is not None and not tf.io.gfile.exists(vocab_file):
        raise FileNotFoundError(f"No vocab file at --vocab_file {vocab_file!r}.")
    if data_dir is not None and not tf.io.gfile.isdir(data_dir):
        raise FileNotFoundError(f"--data_dir {data_dir!r} is not a directory.")
    if calibration_records is not None and not fileio.glob(calibration_records):
        raise FileNotFoundError(f"--calibration_records {calibration_records!r} matches no "
                                "file.")
    if output_dir is not None:
        check_owner(output_dir, EXPORT_OWNER, "--output_dir", outputs_only=True)
        try:
            tf.io.gfile.makedirs(output_dir)
        except tf.errors.OpError as e:
            raise OSError(f"Cannot create --output_dir {output_dir!r}: {e.message}") from None
    if checkpoint is None:
        return None
    return resolve_model_config(checkpoint, preset, overrides or {}, "--checkpoint")


def load_model(model_path: str | None = None, checkpoint: str | None = None,
               preset: str | None = None, head: str = "encoder",
               num_classes: int = 2, overrides: dict | None = None) -> keras.Model:
    """The model to export.

    Args:
        model_path: A `.keras` file (the config travels with it; nothing else needed).
        checkpoint: A checkpoint directory or prefix whose `model` is a pretrainer,
            classifier or span labeler. With `head="encoder"` only its encoder is read, so any
            of them works; a task head must be in the checkpoint.
        preset, overrides: The checkpoint's config when it has none stored beside it (else
            checked against the stored one).
        head, num_classes: What to build before restoring `checkpoint`.
    """
    config = check_inputs(model_path, checkpoint, preset, overrides=overrides)
    if model_path is not None:
        return keras.models.load_model(model_path)
    return restore(checkpoint, config, head, num_classes)


def restore(checkpoint: str, config: MobileBertConfig, head: str = "encoder",
            num_classes: int = 2) -> keras.Model:
    """A model of `config` with `head` (`build_model`) restored from `checkpoint`, as
    `load_model` gives it once the inputs are checked."""
    model = build_model(config, head, num_classes)
    # The encoder sits at `model/encoder` in every task model's checkpoint.
    root = tf.train.Checkpoint(encoder=model) if head == "encoder" else model
    try:
        restore_model(root, checkpoint)
    except (AssertionError, ValueError) as error:
        raise InputError(f"Checkpoint {checkpoint!r} does not hold a {head} model of "
                         f"{config.to_dict()}: {error}") from error
    return model
