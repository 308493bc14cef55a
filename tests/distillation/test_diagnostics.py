"""Attention's distance from uniform: hand-computed terms, and per layer on a real encoder."""

import math

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.distillation import losses
from mobilebert_tf.distillation.diagnostics import (attention_kl_from_uniform,
                                                    layer_transfer_losses)
from mobilebert_tf.encoder import INPUT_KEYS
from mobilebert_tf.training.evaluation import mlm_accuracy

from tests.distillation.conftest import make_batch, make_pretrainer


def test_uniformity_terms_hand_computed():
    # One head, three positions, the last one padding. Query 0 scores [log 3, 0] on the real
    # keys: p = (3/4, 1/4), KL from (1/2, 1/2) = 3/4 log(3/2) + 1/4 log(1/2). Query 1 attends
    # uniformly (KL 0). Query 2 is padding and the padded key's huge score must not count.
    logits = tf.constant([[[[math.log(3.0), 0.0, 50.0], [2.0, 2.0, -7.0],
                            [9.0, -9.0, 0.0]]]])
    total, count = losses.attention_uniformity_terms(logits, tf.constant([[1, 1, 0]]))
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert float(total) == pytest.approx(expected, rel=1e-5)
    assert float(count) == 2.0


def test_attention_kl_from_uniform_per_layer_matches_numpy():
    encoder = make_pretrainer("mobilebert_mini", num_layers=2).encoder
    # Initial weights attend almost uniformly (KL ~1e-9): larger ones give attention shape.
    rng = np.random.default_rng(0)
    encoder.set_weights([rng.normal(0.0, 0.3, w.shape) for w in encoder.get_weights()])
    batches = [make_batch(seed=s) for s in (0, 1)]
    kl = attention_kl_from_uniform(encoder, tf.data.Dataset.from_tensors(batches[0])
                                   .concatenate(tf.data.Dataset.from_tensors(batches[1])))
    assert len(kl) == 2
    for layer, value in enumerate(kl):
        total = count = 0.0
        for batch in batches:
            inputs = {key: batch[key] for key in INPUT_KEYS}
            logits = encoder(inputs)["attention_logits"][layer].numpy().astype(np.float64)
            mask = batch["input_mask"].numpy().astype(bool)
            for b, h, q in np.ndindex(*logits.shape[:3]):
                if mask[b, q]:
                    real = logits[b, h, q][mask[b]]
                    p = np.exp(real - real.max())
                    p /= p.sum()
                    total += float(np.sum(p * np.log(p * len(real))))
                    count += 1
        assert value == pytest.approx(total / count, rel=1e-4, abs=1e-7)
        assert value > 0.05
    with pytest.raises(ValueError, match="empty dataset"):
        attention_kl_from_uniform(encoder, tf.data.Dataset.from_tensors(batches[0]).take(0))


def test_layer_transfer_losses_equal_the_training_losses_per_layer():
    teacher = make_pretrainer("mobilebert_mini", num_layers=2, name="teacher")
    student = make_pretrainer("mobilebert_mini", num_layers=2, name="student")
    rng = np.random.default_rng(1)
    teacher.set_weights([rng.normal(0.0, 0.3, w.shape) for w in teacher.get_weights()])
    batch = make_batch(seed=3)
    inputs = {key: batch[key] for key in INPUT_KEYS}
    # Student layer 0 paired with teacher layer 1 and layer 1 with 0: the mapping is used.
    result = layer_transfer_losses(teacher, student, tf.data.Dataset.from_tensors(batch),
                                   layer_mapping=(1, 0))
    t_out, s_out = teacher.encoder(inputs), student.encoder(inputs)
    for layer, t_layer in enumerate((1, 0)):
        fmt = losses.feature_map_loss(t_out["encoder_outputs"][t_layer + 1],
                                      s_out["encoder_outputs"][layer + 1], batch["input_mask"])
        at = losses.attention_transfer_loss(t_out["attention_logits"][t_layer],
                                            s_out["attention_logits"][layer], batch["input_mask"])
        assert result["fmt"][layer] == pytest.approx(float(fmt), rel=1e-5)
        assert result["at"][layer] == pytest.approx(float(at), rel=1e-5)
        assert result["at"][layer] > 1e-3
    # The probe's student measures equal the stand-alone functions'.
    dataset = tf.data.Dataset.from_tensors(batch)
    assert result["mlm_accuracy"] == pytest.approx(mlm_accuracy(student, dataset))
    assert result["attention_kl"] == pytest.approx(
        attention_kl_from_uniform(student.encoder, dataset), rel=1e-5, abs=1e-9)
    same = layer_transfer_losses(teacher, teacher, tf.data.Dataset.from_tensors(batch))
    assert max(same["fmt"] + same["at"]) < 1e-6
