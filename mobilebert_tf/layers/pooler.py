"""The pooled output: the first token, optionally through dense+tanh (BERT's pooler)."""

import tf_keras as keras

from mobilebert_tf.layers.factory import make_dense


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class Pooler(keras.layers.Layer):
    """`[batch, seq, width]` -> `[batch, width]`: `tanh(Dense(x[:, 0]))`, or `x[:, 0]` when
    `use_dense` is False (MobileBERT has no pooler)."""

    def __init__(self, hidden_size, use_dense, initializer_range, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.use_dense = use_dense
        self.initializer_range = initializer_range
        self.dense = (make_dense(hidden_size, "dense", initializer_range, activation="tanh")
                      if use_dense else None)

    def call(self, sequence_output):
        first_token = sequence_output[:, 0]
        return self.dense(first_token) if self.dense is not None else first_token

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, use_dense=self.use_dense,
                      initializer_range=self.initializer_range)
        return config
