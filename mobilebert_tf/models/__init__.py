"""Trainable wholes: the encoder with a pretraining or task head."""

from mobilebert_tf.models.classifier import MobileBertClassifier
from mobilebert_tf.models.pretrainer import MobileBertPretrainer
from mobilebert_tf.models.span_labeler import MobileBertSpanLabeler

__all__ = ["MobileBertClassifier", "MobileBertPretrainer", "MobileBertSpanLabeler"]
