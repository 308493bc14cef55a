"""Full int8 with attention's matmuls in int8 against full int8 with them in float (the export
before 2026-11-30), dynamic int8 and float32: our folded MobileBERT, one side-by-side run
(LiteRT, XNNPACK).

    python benchmarks/export/int8_attention.py [--preset=mobilebert] [--seq_length=128] \
        [--rounds=30] [--output=int8_attention.json]

Random weights with randomized norms (as `export.benchmark_tflite --reference` builds ours),
calibrated on 20 random examples. The two full-int8 files differ only in attention's two
BATCH_MATMULs per layer (int8 or float); softmax and the additive mask are float in both.
"""

import os
import tempfile

from absl import app, flags, logging

from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.export import exporter, tflite
from mobilebert_tf.weights import randomize_norms
from float_attention import float_attention_int8  # benchmarks/export/ is on sys.path
from side_by_side import time_and_report

flags.DEFINE_string("preset", "mobilebert", "Our preset.")
flags.DEFINE_integer("seq_length", 128, "Sequence length.")
flags.DEFINE_integer("num_threads", 2, "Interpreter threads (XNNPACK).")
flags.DEFINE_integer("rounds", 30, "Timed rounds; each runs every model once.")
flags.DEFINE_string("output", None, "Optional JSON file for the latencies and ratios.")
FLAGS = flags.FLAGS

BASELINE = "dynamic_int8"


def _models(work: str) -> dict[str, bytes]:
    encoder = build_encoder(FLAGS.preset)
    randomize_norms(encoder)  # identity norms would be deleted by the converter
    calibration = exporter.random_examples(20, 1, FLAGS.seq_length, encoder.config.vocab_size)
    saved = tflite.save_saved_model(encoder, os.path.join(work, "saved_model"), 1,
                                    FLAGS.seq_length)
    return {"float32": tflite.convert(saved, "float32"),
            "dynamic_int8": tflite.convert(saved, "dynamic_int8"),
            "int8, float attention": float_attention_int8(saved, calibration),
            "int8": tflite.convert(saved, "int8", lambda: calibration)}


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    with tempfile.TemporaryDirectory() as work:
        models = _models(work)
    time_and_report(models, {"preset": FLAGS.preset, "seq_length": FLAGS.seq_length}, BASELINE,
                    FLAGS.rounds, FLAGS.num_threads, FLAGS.output)


if __name__ == "__main__":
    app.run(main)
