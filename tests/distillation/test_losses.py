"""Distillation losses against hand-computed values on tiny tensors."""

import math

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.distillation import losses
from mobilebert_tf.training import losses as hard_losses


def test_parameter_free_layer_norm():
    out = losses.parameter_free_layer_norm(tf.constant([[1.0, 2.0, 3.0]]))
    # mean 2, variance 2/3.
    np.testing.assert_allclose(out, [[-math.sqrt(1.5), 0.0, math.sqrt(1.5)]], rtol=1e-6)


def test_feature_map_loss_hand_computed():
    # Token 1: T=[1,3] (mean 2, var 1, LN [-1,1]); S=[2,2] (mean 2, var 0, LN [0,0]):
    #   MSE 1, mean term 0, var term 1 -> 100 + 5 = 105.
    # Token 2: T=[0,0], S=[1,1]: LN both 0, mean diff 1 -> 5000.
    teacher = tf.constant([[[1.0, 3.0], [0.0, 0.0]]])
    student = tf.constant([[[2.0, 2.0], [1.0, 1.0]]])
    assert float(losses.feature_map_loss(teacher, student)) == pytest.approx((105 + 5000) / 2)
    mse, mean, var, count = losses.feature_map_terms(teacher, student)
    np.testing.assert_allclose([mse, mean, var, count], [1.0, 1.0, 1.0, 2.0], rtol=1e-6)


def test_feature_map_loss_ignores_padded_tokens():
    teacher = tf.constant([[[1.0, 3.0], [0.0, 0.0], [9.0, -9.0]]])
    student = tf.constant([[[2.0, 2.0], [1.0, 1.0], [-50.0, 70.0]]])
    loss = losses.feature_map_loss(teacher, student, input_mask=tf.constant([[1, 1, 0]]))
    assert float(loss) == pytest.approx((105 + 5000) / 2)


def test_feature_map_statistics_are_per_token_of_this_layer():
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=(2, 3, 8)) * 3 + 1, rng.normal(size=(2, 3, 8))
    expected_mean = np.mean((t.mean(-1) - s.mean(-1)) ** 2)
    expected_var = np.mean(np.abs(t.var(-1) - s.var(-1)))
    _, mean, var, count = losses.feature_map_terms(tf.constant(t, tf.float32),
                                                   tf.constant(s, tf.float32))
    assert float(mean / count) == pytest.approx(expected_mean, rel=1e-5)
    assert float(var / count) == pytest.approx(expected_var, rel=1e-5)
    # The bug of the authors' code, GR (teacher statistics pooled over all layers), would change
    # the value when other layers change; ours sees only this layer's tensors, so pooled stats
    # give another number.
    pooled = np.concatenate([t, t * 10.0], axis=-1)
    gr_var = np.mean(np.abs(pooled.var(-1) - s.var(-1)))
    assert abs(gr_var - expected_var) > 1.0


def test_attention_transfer_hand_computed():
    # Teacher uniform over 2 keys; student softmax([ln 3, 0]) = [0.75, 0.25].
    # KL(u || s) = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25) = 0.5 ln(4/3) for each query.
    teacher = tf.zeros([1, 1, 2, 2])
    student = tf.constant([[[[math.log(3.0), 0.0], [math.log(3.0), 0.0]]]])
    loss = losses.attention_transfer_loss(teacher, student, tf.constant([[1, 1]]))
    assert float(loss) == pytest.approx(0.5 * math.log(4 / 3), rel=1e-6)


def test_attention_transfer_masked_keys_and_padded_queries_get_no_weight():
    teacher = np.zeros([1, 1, 3, 3], np.float32)
    student = np.zeros([1, 1, 3, 3], np.float32)
    student[..., 0] = math.log(3.0)
    # Padded key (index 2) with large, *unmasked* logits in both models, disagreeing, and a
    # padded query row (index 2) of garbage: neither may change the loss.
    teacher[..., 2] = 40.0
    student[..., 2] = -25.0
    teacher[0, 0, 2] = [7.0, -3.0, 1.0]
    loss = losses.attention_transfer_loss(tf.constant(teacher), tf.constant(student),
                                          tf.constant([[1, 1, 0]]))
    assert float(loss) == pytest.approx(0.5 * math.log(4 / 3), rel=1e-6)


def test_attention_transfer_averages_heads_and_real_queries():
    # Head 0: KL 0.5 ln(4/3) per query; head 1: identical distributions, KL 0.
    student = np.zeros([1, 2, 2, 2], np.float32)
    student[0, 0, :, 0] = math.log(3.0)
    loss = losses.attention_transfer_loss(tf.zeros([1, 2, 2, 2]), tf.constant(student),
                                          tf.constant([[1, 1]]))
    assert float(loss) == pytest.approx(0.25 * math.log(4 / 3), rel=1e-6)


def test_attention_transfer_is_zero_for_equal_logits_and_matches_encoder_masking():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 2, 4, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.int32)
    masked = logits + (1.0 - mask[:, None, None, :]) * -10000.0
    assert float(losses.attention_transfer_loss(masked, masked, mask)) == pytest.approx(0, abs=1e-7)
    other = rng.normal(size=(2, 2, 4, 4)).astype(np.float32)
    a = losses.attention_transfer_loss(masked, other + (1.0 - mask[:, None, None, :]) * -1e4, mask)
    b = losses.attention_transfer_loss(logits, other, mask)  # re-masked internally
    assert float(a) == pytest.approx(float(b), rel=1e-5) and float(a) > 0


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    return x - np.log(np.sum(np.exp(x - x.max(-1, keepdims=True)), -1, keepdims=True)) - x.max(-1, keepdims=True)


def test_mlm_loss_is_weighted_cross_entropy():
    logits = np.array([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [5.0, 5.0, 5.0]]], np.float32)
    ids = np.array([[0, 2, 1]])
    weights = np.array([[1.0, 1.0, 0.0]], np.float32)  # third slot is padding
    lp = _log_softmax(logits)
    expected = -(lp[0, 0, 0] + lp[0, 1, 2]) / 2
    assert float(hard_losses.mlm_loss(logits, ids, weights)) == pytest.approx(expected, rel=1e-6)


def test_alpha_one_reduces_to_plain_mlm():
    rng = np.random.default_rng(2)
    student = rng.normal(size=(2, 3, 7)).astype(np.float32)
    teacher = rng.normal(size=(2, 3, 7)).astype(np.float32)
    ids, weights = rng.integers(0, 7, size=(2, 3)), np.array([[1, 1, 0], [1, 0, 0]], np.float32)
    pd = losses.distillation_mlm_loss(student, teacher, ids, weights, alpha=1.0, temperature=3.0)
    assert float(pd) == pytest.approx(float(hard_losses.mlm_loss(student, ids, weights)), rel=1e-7)


def test_pd_mixed_target_hand_computed():
    student = np.array([[[1.0, 0.0]]], np.float32)
    teacher = np.array([[[0.0, 0.0]]], np.float32)  # soft target [0.5, 0.5]
    # alpha 0.5, T 1: target [0.75, 0.25] -> -(0.75 log s0 + 0.25 log s1).
    ls = _log_softmax(student[0, 0])
    expected = -(0.75 * ls[0] + 0.25 * ls[1])
    loss = losses.distillation_mlm_loss(student, teacher, [[0]], [[1.0]], alpha=0.5)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    # T = 2: 0.5 * CE(onehot, S) + 0.5 * 4 * CE(softmax(T/2), softmax(S/2)).
    ls2 = _log_softmax(student[0, 0] / 2)
    expected2 = -0.5 * ls[0] - 0.5 * 4 * (0.5 * ls2[0] + 0.5 * ls2[1])
    loss2 = losses.distillation_mlm_loss(student, teacher, [[0]], [[1.0]], alpha=0.5,
                                         temperature=2.0)
    assert float(loss2) == pytest.approx(expected2, rel=1e-6)


def test_pd_needs_teacher_logits_unless_alpha_is_one():
    with pytest.raises(ValueError, match="teacher_logits"):
        losses.distillation_mlm_loss(tf.zeros([1, 1, 3]), None, [[0]], [[1.0]], alpha=0.5)


def test_nsp_loss_hand_computed():
    logits = np.array([[0.0, 0.0], [2.0, 0.0]], np.float32)
    expected = (math.log(2.0) + -_log_softmax([2.0, 0.0])[1]) / 2
    assert float(hard_losses.nsp_loss(logits, [1, 1])) == pytest.approx(expected, rel=1e-6)
