"""Full int8 of a LayerNorm/GELU encoder (BERT-base, the IB-BERT teacher) with its LayerNorms
and GELUs in float (the export since 2026-12-01) against them in int8 (before), dynamic int8
and float32: one side-by-side run (LiteRT, XNNPACK), with each file's XNNPACK partitions and
its fidelity to the Keras model.

    python benchmarks/export/int8_layer_norm.py [--preset=bert_base] [--seq_length=128] \
        [--rounds=20] [--output=int8_layer_norm.json]

Our folded encoder, random weights with randomized norms, calibrated on 20 random examples;
fidelity on 4 other random examples. The two full-int8 files differ only in the LayerNorms'
ops and GELU (float or int8); softmax, the additive mask and nothing else are float in both.
"""

import os
import tempfile

import tensorflow as tf
from absl import app, flags, logging

from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.export import exporter, fidelity, tflite
from mobilebert_tf.weights import randomize_norms
from side_by_side import time_and_report  # benchmarks/export/ is on sys.path

flags.DEFINE_string("preset", "bert_base", "Our preset (one with LayerNorm and GELU).")
flags.DEFINE_integer("seq_length", 128, "Sequence length.")
flags.DEFINE_integer("num_threads", 2, "Interpreter threads (XNNPACK).")
flags.DEFINE_integer("rounds", 20, "Timed rounds; each runs every model once.")
flags.DEFINE_string("output", None, "Optional JSON file for the latencies and ratios.")
FLAGS = flags.FLAGS

BASELINE = "dynamic_int8"
BEFORE = "int8, int8 LayerNorm and GELU (before)"


def _int8_layer_norm(saved_model_dir: str, calibration: list[dict]) -> bytes:
    """The full-int8 export as before 2026-12-01: only softmax and the mask chain float."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(calibration)
    return tflite._convert_int8(converter, calibration,  # pylint: disable=protected-access
                                float_ops=(tflite.SOFTMAX_OP,), float_scopes=())


def _models(work: str):
    encoder = build_encoder(FLAGS.preset)
    randomize_norms(encoder)  # identity norms would be deleted by the converter
    vocab = encoder.config.vocab_size
    calibration = exporter.random_examples(20, 1, FLAGS.seq_length, vocab)
    saved = tflite.save_saved_model(encoder, os.path.join(work, "saved_model"), 1,
                                    FLAGS.seq_length)
    models = {"float32": tflite.convert(saved, "float32"),
              "dynamic_int8": tflite.convert(saved, "dynamic_int8"),
              BEFORE: _int8_layer_norm(saved, calibration),
              "int8": tflite.convert(saved, "int8", lambda: calibration)}
    examples = exporter.random_examples(4, 1, FLAGS.seq_length, vocab, seed=1)
    expected = exporter.keras_outputs(encoder, examples)
    cosines = {name: min(r.cosine for r in fidelity.compare(
        expected, tflite.run_tflite(content, examples, FLAGS.num_threads)))
        for name, content in models.items()}
    return models, cosines


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    with tempfile.TemporaryDirectory() as work:
        models, cosines = _models(work)
    time_and_report(models, {"preset": FLAGS.preset, "seq_length": FLAGS.seq_length}, BASELINE,
                    FLAGS.rounds, FLAGS.num_threads, FLAGS.output,
                    {"min_cosine_to_keras": cosines})


if __name__ == "__main__":
    app.run(main)
