"""The full-int8 export as it was before 2026-11-30, for side-by-side comparisons: attention's
BATCH_MATMULs denylisted too, so they stay float (everything else as `tflite.convert` does)."""

import tensorflow as tf

from mobilebert_tf.export import tflite


def float_attention_int8(saved_model_dir: str, calibration: list[dict]) -> bytes:
    """Full int8 of a SavedModel from `tflite.save_saved_model` with float attention matmuls.

    Args:
        saved_model_dir: The SavedModel.
        calibration: Input dicts to calibrate on.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(calibration)
    return tflite._convert_int8(converter, calibration,  # pylint: disable=protected-access
                                tflite.FLOAT_OPS_IN_INT8 + (tflite.ATTENTION_MATMUL_OP,))
