"""`MobileBertSpanLabeler`: SQuAD-style start/end logits over the sequence."""

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.encoder import MobileBertEncoder
from mobilebert_tf.layers import make_dense
from mobilebert_tf.models.task import TaskModel


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MobileBertSpanLabeler(TaskModel):
    """Start and end logits for every token, from one dense layer of width 2.

    Args:
        encoder: A `MobileBertEncoder`.

    Call args:
        inputs: the encoder's input dict.
        training: Python bool, enables dropout.

    Returns:
        dict with `start_logits` and `end_logits`, float `[batch, seq]`.
    """

    def __init__(self, encoder: MobileBertEncoder, **kwargs):
        kwargs.setdefault("name", "span_labeler")
        super().__init__(encoder, **kwargs)
        self.span_logits = make_dense(2, "span_logits", encoder.config.initializer_range)

    def call(self, inputs, training=None):
        sequence = self.encoder(inputs, training=training)["sequence_output"]
        start_logits, end_logits = tf.unstack(self.span_logits(sequence), axis=-1)
        return {"start_logits": start_logits, "end_logits": end_logits}
