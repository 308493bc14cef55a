"""Teacher -> student copy by name, and the parameter groups."""

import numpy as np
import pytest

from mobilebert_tf.distillation import copy_pretraining_weights
from mobilebert_tf.training.parameter_groups import group_layers, parameter_groups
from mobilebert_tf.weights import named_weights


def test_relative_names_ignore_model_prefix(pair):
    teacher, student = pair
    t, s = group_layers(teacher), group_layers(student)
    assert sorted(named_weights(t["mlm_head"])) == sorted(named_weights(s["mlm_head"]))
    assert "dense/kernel" in named_weights(s["mlm_head"])
    assert "word_embeddings" in named_weights(s["embeddings"])


def test_copy_by_name_skips_norm_of_another_kind(pair):
    teacher, student = pair
    before = {k: v.numpy().copy() for k, v in named_weights(student.encoder.embedding).items()}
    report = copy_pretraining_weights(teacher, student)
    assert set(report["skipped"]) == {"embeddings/norm/gamma", "embeddings/norm/beta"}
    for group in ("embeddings", "mlm_head", "nsp_head"):
        source = named_weights(group_layers(teacher)[group])
        for name, variable in named_weights(group_layers(student)[group]).items():
            if f"{group}/{name}" in report["skipped"]:
                np.testing.assert_array_equal(variable.numpy(), before[name])
            else:
                np.testing.assert_array_equal(variable.numpy(), source[name].numpy())
    # Layers are not copied.
    assert not np.array_equal(student.encoder.blocks[0].weights[0].numpy(),
                              teacher.encoder.blocks[0].weights[0].numpy())


def test_copy_includes_norm_of_the_same_kind(new_pretrainer):
    teacher = new_pretrainer("ib_bert_mini", name="teacher")
    student = new_pretrainer("mobilebert_mini", norm="layer_norm")
    report = copy_pretraining_weights(teacher, student)
    assert "embeddings/norm/gamma" in report["copied"] and not report["skipped"]
    np.testing.assert_array_equal(student.encoder.embedding.norm_layer.beta.numpy(),
                                  teacher.encoder.embedding.norm_layer.beta.numpy())


def test_copy_rejects_shape_mismatch(new_pretrainer):
    teacher = new_pretrainer("ib_bert_mini", name="teacher", embedding_size=64)
    student = new_pretrainer("mobilebert_mini")
    with pytest.raises(ValueError, match="shape"):
        copy_pretraining_weights(teacher, student)


def test_parameter_groups_partition_trainable_weights(pair):
    _, student = pair
    groups = parameter_groups(student)
    assert list(groups) == ["embeddings", "layer_0", "layer_1", "pooler",
                            "mlm_head", "nsp_head"]
    total = sum(len(v) for v in groups.values())
    assert total == len(student.trainable_weights)
