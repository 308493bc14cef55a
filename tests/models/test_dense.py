import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.layers import Dense
from mobilebert_tf.testing import assert_config_round_trip


def test_dense_equals_keras_dense_at_every_rank():
    ours = Dense(6, activation="relu", name="d")
    dense = keras.layers.Dense(6, activation="relu", name="d")
    x = tf.random.normal([2, 5, 4], seed=0)
    ours(x), dense(x)
    dense.set_weights(ours.get_weights())
    assert [w.name for w in ours.weights] == [w.name for w in dense.weights] == [
        "d/kernel:0", "d/bias:0"]
    for inputs in (x, x[0], tf.reshape(x, [2, 5, 1, 4])):
        np.testing.assert_allclose(ours(inputs), dense(inputs), rtol=1e-6, atol=1e-6)
        assert ours(inputs).shape == dense(inputs).shape


def test_dense_keeps_static_shape_in_a_graph():
    layer = Dense(3)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 4])])
    def call(x):
        y = layer(x)
        assert y.shape.as_list() == [None, None, 3]
        return y

    assert call(tf.ones([2, 7, 4])).shape == [2, 7, 3]


def test_dense_round_trips_get_config():
    assert_config_round_trip(Dense(3, activation="gelu"),
                             lambda layer: layer(tf.ones([2, 3, 4])))


class _Head(keras.Model):
    """Holds its dense layers in a list, as Keras models hold their `layers`."""

    def __init__(self, dense_class, **kwargs):
        super().__init__(**kwargs)
        self.denses = [dense_class(3, name="logits")]

    def call(self, x):
        return self.denses[0](x)


def test_keras_file_saved_with_keras_dense_loads_into_ours(tmp_path):
    # A .keras file names the weights of listed layers after their class: files saved before
    # our Dense existed (with Keras' Dense) must still load.
    x = tf.random.normal([2, 4], seed=1)
    saved = _Head(keras.layers.Dense)
    expected = saved(x)
    saved.save_weights(str(tmp_path / "head.weights.h5"))
    loaded = _Head(Dense)
    loaded(x)
    loaded.load_weights(str(tmp_path / "head.weights.h5"))
    np.testing.assert_array_equal(loaded(x), expected)
