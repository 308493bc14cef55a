"""The zero-shot word-order probe's scoring, on hand-made logits."""

import numpy as np
import tensorflow as tf

from mobilebert_tf.training.evaluation import order_preferences


def test_order_preferences_compare_both_orders_of_the_pair():
    written = [[1, 2]] * 3
    logits = np.zeros([3, 2, 4], np.float32)
    logits[0, 0, 1], logits[0, 1, 2] = 2.0, 1.0  # prefers 1 then 2: as written
    logits[1, 0, 2], logits[1, 1, 1] = 2.0, 1.0  # prefers 2 then 1: swapped
    logits[1, 0, 1] = 1.5  # 1.5 + 0 (written) < 2 + 1 (swapped)
    logits[2, :, 1], logits[2, :, 2] = 3.0, 0.5  # the same at both positions: blind to order
    np.testing.assert_array_equal(order_preferences(tf.constant(logits), written), [1, 0, 0.5])
