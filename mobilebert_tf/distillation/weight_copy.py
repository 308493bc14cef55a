"""The teacher -> student copy before layer transfer, by name."""

from __future__ import annotations

from mobilebert_tf.models import MobileBertPretrainer
from mobilebert_tf.training.parameter_groups import group_layers
from mobilebert_tf.weights import named_weights


# What the paper copies before layer-wise transfer (docs/mobilebert.md §3).
COPIED_GROUPS = ("embeddings", "mlm_head", "nsp_head")


def copy_pretraining_weights(teacher: MobileBertPretrainer,
                             student: MobileBertPretrainer) -> dict[str, list[str]]:
    """Copy embeddings (word, 3-gram projection, position, type), MLM head and NSP head from
    `teacher` to `student`, matching weights by name within each group.

    The embedding norm is copied only when both models use the same kind of norm (Model
    Garden's port, TFMG, copies by position and so swaps NoNorm's gamma and beta). Any other
    name the student has and the teacher lacks, or a shape mismatch, is an error.

    Returns:
        `{"copied": [...], "skipped": [...]}` of "group/name" keys.
    """
    teacher_groups, student_groups = group_layers(teacher), group_layers(student)
    same_norm = teacher.encoder.config.norm == student.encoder.config.norm
    copied, skipped = [], []
    for group in COPIED_GROUPS:
        source = named_weights(teacher_groups[group])
        for name, target in named_weights(student_groups[group]).items():
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
