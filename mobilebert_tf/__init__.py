"""mobilebert-tf: MobileBERT in TensorFlow/Keras (tf_keras).

The names below are imported on first use (PEP 562), so that `import mobilebert_tf.cli...`
or `mobilebert_tf.errors` does not load TensorFlow before a command has set its logging up.
"""

__all__ = ["INPUT_KEYS", "PRESETS", "MobileBertClassifier", "MobileBertConfig",
           "MobileBertEncoder", "MobileBertPretrainer", "MobileBertSpanLabeler", "build_encoder",
           "get_preset"]


def __getattr__(name: str):
    if name in ("PRESETS", "MobileBertConfig", "get_preset"):
        from mobilebert_tf import config as module
    elif name in ("INPUT_KEYS", "MobileBertEncoder", "build_encoder"):
        from mobilebert_tf import encoder as module
    elif name in ("MobileBertClassifier", "MobileBertPretrainer", "MobileBertSpanLabeler"):
        from mobilebert_tf import models as module
    else:
        raise AttributeError(f"module 'mobilebert_tf' has no attribute {name!r}")
    return getattr(module, name)
