"""mobilebert-tf: MobileBERT in TensorFlow/Keras (tf_keras)."""

from mobilebert_tf.config import PRESETS, MobileBertConfig, get_preset
from mobilebert_tf.encoder import INPUT_KEYS, MobileBertEncoder, build_encoder
from mobilebert_tf.models import MobileBertClassifier, MobileBertPretrainer, MobileBertSpanLabeler

__all__ = ["INPUT_KEYS", "PRESETS", "MobileBertClassifier", "MobileBertConfig",
           "MobileBertEncoder", "MobileBertPretrainer", "MobileBertSpanLabeler", "build_encoder",
           "get_preset"]
