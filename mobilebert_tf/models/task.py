"""What every task model shares: an encoder, and (de)serialization around it."""

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.encoder import INPUT_KEYS, MobileBertEncoder


class TaskModel(keras.Model):
    """Base of the models that put a head on a `MobileBertEncoder`.

    Subclasses build their heads in `__init__`, implement `call`, and list their own
    constructor arguments in `head_config()`.
    """

    def __init__(self, encoder: MobileBertEncoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder

    def head_config(self) -> dict:
        """Constructor arguments besides `encoder` and `name`."""
        return {}

    def example_inputs(self, batch_size: int = 1, seq_length: int = 8) -> dict:
        """All-zero integer inputs of the right structure, for building the model."""
        zeros = tf.zeros([batch_size, seq_length], tf.int32)
        return {key: zeros for key in INPUT_KEYS}

    def build_from_config(self, config):
        # Keras would build with float placeholders; the encoder wants integer ids.
        self(self.example_inputs())

    def get_config(self):
        return {"encoder": keras.saving.serialize_keras_object(self.encoder), "name": self.name,
                **self.head_config()}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"),
                                                        custom_objects=custom_objects)
        return cls(encoder, **config)
