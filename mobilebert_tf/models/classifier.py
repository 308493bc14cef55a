"""`MobileBertClassifier`: sequence classification or regression on the pooled output."""

import tf_keras as keras

from mobilebert_tf.encoder import MobileBertEncoder
from mobilebert_tf.layers import SeededDropout, make_dense
from mobilebert_tf.models.task import TaskModel


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MobileBertClassifier(TaskModel):
    """Logits over `num_classes` from the encoder's `pooled_output` (one output: regression,
    e.g. STS-B).

    Args:
        encoder: A `MobileBertEncoder`.
        num_classes: Number of labels; 1 for regression.
        dropout: Dropout on the pooled output before the classifier.

    Call args:
        inputs: the encoder's input dict.
        training: Python bool, enables dropout.

    Returns:
        float `[batch, num_classes]` logits (or scores for regression).
    """

    def __init__(self, encoder: MobileBertEncoder, num_classes: int, dropout: float = 0.1,
                 **kwargs):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}.")
        kwargs.setdefault("name", "classifier")
        super().__init__(encoder, **kwargs)
        self.num_classes = num_classes
        self.dropout_rate = dropout
        self.dropout = SeededDropout(dropout)
        self.classifier = make_dense(num_classes, "logits", encoder.config.initializer_range)

    def call(self, inputs, training=None):
        pooled = self.encoder(inputs, training=training)["pooled_output"]
        return self.classifier(self.dropout(pooled, training=training))

    def head_config(self):
        return {"num_classes": self.num_classes, "dropout": self.dropout_rate}
