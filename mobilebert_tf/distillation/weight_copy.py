"""The teacher -> student copy before layer transfer, by name."""

from __future__ import annotations

import tf_keras as keras

from mobilebert_tf.models import MobileBertPretrainer
from mobilebert_tf.training.parameter_groups import group_layers


def relative_weights(layer: keras.layers.Layer) -> dict:
    """`{name: variable}` for `layer`'s weights, named relative to the layer itself.

    A weight's full name depends on where it was built ("embeddings/word_embeddings:0" in a
    standalone encoder, "pretrainer/mlm_head/dense/kernel:0" for a head built in the model's
    call); everything up to and including the layer's own name is dropped, so the same weight
    of two models gets the same key ("word_embeddings", "dense/kernel").
    """
    named = {}
    for variable in layer.weights:
        parts = variable.name.rsplit(":", 1)[0].split("/")
        if layer.name not in parts:
            raise ValueError(f"Weight {variable.name} of {layer.name} does not carry the "
                             "layer's name; cannot name it relative to the layer.")
        key = "/".join(parts[parts.index(layer.name) + 1:])
        if key in named:
            raise ValueError(f"Two weights of {layer.name} are both named {key!r}.")
        named[key] = variable
    return named


# What the paper copies before layer-wise transfer (MOBILEBERT.md section 3).
COPIED_GROUPS = ("embeddings", "mlm_head", "nsp_head")


def copy_pretraining_weights(teacher: MobileBertPretrainer,
                             student: MobileBertPretrainer) -> dict[str, list[str]]:
    """Copy embeddings (word, 3-gram projection, position, type), MLM head and NSP head from
    `teacher` to `student`, matching weights by name within each group.

    The embedding norm is copied only when both models use the same kind of norm (TFMG copies
    by position and so swaps NoNorm's gamma and beta). Any other name the student has and the
    teacher lacks, or a shape mismatch, is an error.

    Returns:
        `{"copied": [...], "skipped": [...]}` of "group/name" keys.
    """
    teacher_groups, student_groups = group_layers(teacher), group_layers(student)
    same_norm = teacher.encoder.config.norm == student.encoder.config.norm
    copied, skipped = [], []
    for group in COPIED_GROUPS:
        source = relative_weights(teacher_groups[group])
        for name, target in relative_weights(student_groups[group]).items():
            key = f"{group}/{name}"
            if group == "embeddings" and name.startswith("norm/") and not same_norm:
                skipped.append(key)
                continue
            if name not in source:
                raise ValueError(f"The teacher has no weight {key!r} to copy into the student "
                                 f"(teacher has {sorted(source)}).")
            if tuple(source[name].shape) != tuple(target.shape):
                raise ValueError(f"Cannot copy {key!r}: teacher shape {source[name].shape} vs "
                                 f"student shape {target.shape}.")
            target.assign(source[name])
            copied.append(key)
    return {"copied": copied, "skipped": skipped}
