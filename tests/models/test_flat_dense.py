import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.layers import FlatDense
from mobilebert_tf.testing import assert_config_round_trip


def test_flat_dense_equals_keras_dense_at_every_rank():
    flat, dense = FlatDense(6, activation="relu", name="d"), keras.layers.Dense(6, "relu",
                                                                                 name="d")
    x = tf.random.normal([2, 5, 4], seed=0)
    flat(x), dense(x)
    dense.set_weights(flat.get_weights())
    assert [w.name for w in flat.weights] == [w.name for w in dense.weights] == [
        "d/kernel:0", "d/bias:0"]
    for inputs in (x, x[0], tf.reshape(x, [2, 5, 1, 4])):
        np.testing.assert_allclose(flat(inputs), dense(inputs), rtol=1e-6, atol=1e-6)
        assert flat(inputs).shape == dense(inputs).shape


def test_flat_dense_keeps_static_shape_in_a_graph():
    layer = FlatDense(3)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 4])])
    def call(x):
        y = layer(x)
        assert y.shape.as_list() == [None, None, 3]
        return y

    assert call(tf.ones([2, 7, 4])).shape == [2, 7, 3]


def test_flat_dense_round_trips_get_config():
    assert_config_round_trip(FlatDense(3, activation="gelu"),
                             lambda layer: layer(tf.ones([2, 3, 4])))
