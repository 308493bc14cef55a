"""Optimizer factory, exclusions, learning-rate multipliers and the staged schedule."""

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.distillation import make_schedule
from mobilebert_tf.training.optimizer import (StagedLearningRate, create_optimizer,
                                              schedule_for_stages, warmup_linear_decay)


def test_staged_schedule_restarts_warmup_per_stage():
    schedule = StagedLearningRate([
        dict(steps=4, learning_rate=1.0, warmup_steps=2, decay="linear"),
        dict(steps=3, learning_rate=0.5, warmup_steps=0, decay="constant")])
    values = [float(schedule(step)) for step in range(9)]
    np.testing.assert_allclose(values, [0.5, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    assert StagedLearningRate.from_config(schedule.get_config()).segments == schedule.segments


def test_schedule_for_pkt_stages_and_linear_decay():
    stages = make_schedule("pkt", 2, 4, 4, learning_rate=1e-3, warmup_steps=2,
                           pd_warmup_steps=1)
    schedule = schedule_for_stages(stages)
    assert [float(schedule(s)) for s in (0, 1, 4, 5, 8)] == pytest.approx(
        [5e-4, 1e-3, 5e-4, 1e-3, 1e-3])
    decay = warmup_linear_decay(1.0, total_steps=10, warmup_steps=0)
    assert float(decay(5)) == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["lamb", "adamw"])
def test_norms_and_biases_get_no_weight_decay(name):
    kernel = tf.Variable(tf.ones([3, 3]), name="layer_0/attention/query/kernel")
    bias = tf.Variable(tf.ones([3]), name="layer_0/attention/query/bias")
    gamma = tf.Variable(tf.ones([3]), name="layer_0/ffn_0/norm/gamma")
    ln = tf.Variable(tf.ones([3]), name="mlm_head/layer_norm/beta")
    optimizer = create_optimizer(name, 0.1, weight_decay=0.5)
    variables = [kernel, bias, gamma, ln]
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in variables])
    assert not np.allclose(kernel.numpy(), 1.0)  # decayed
    for v in (bias, gamma, ln):
        np.testing.assert_array_equal(v.numpy(), np.ones(3))


@pytest.mark.parametrize("name", ["lamb", "adamw"])
def test_learning_rate_multiplier_scales_the_update(name):
    a = tf.Variable([1.0, -2.0, 3.0], name="a/kernel")
    b = tf.Variable([1.0, -2.0, 3.0], name="b/kernel")
    optimizer = create_optimizer(name, 0.01, weight_decay=0.01, clip_norm=0)
    optimizer.lr_multipliers = {"b/kernel": 0.25}
    grad = tf.constant([0.3, 0.1, -0.2])
    optimizer.apply_gradients([(grad, a), (grad, b)])
    delta_a, delta_b = a.numpy() - [1, -2, 3], b.numpy() - [1, -2, 3]
    np.testing.assert_allclose(delta_b, 0.25 * delta_a, rtol=1e-4)


def test_global_clipnorm_and_unknown_optimizer():
    assert create_optimizer("lamb", 1e-3).global_clipnorm == 1.0
    assert create_optimizer("adamw", 1e-3).gradient_clip_norm == 0.0  # clip after all-reduce
    with pytest.raises(ValueError, match="Unknown optimizer"):
        create_optimizer("sgd", 1e-3)
