"""Dynamic int8 with one weight scale per dense layer (now: the TFLite Task Library's runtime
runs it) against one scale per output channel (before: FULLY_CONNECTED version 12, which
tflite-support 0.4.4 refuses), side by side: op versions, fidelity to Keras, latency, and,
given a fine-tuned sentiment classifier, dev accuracy.

    python benchmarks/export/dynamic_int8_weights.py [--preset=mobilebert] [--rounds=30] \
        [--model=runs/demo/finetune/best/model.keras --vocab=runs/demo/vocab/vocab.txt] \
        [--output=dynamic_int8_weights.json]

The preset is built with random weights and randomized norms (as `int8_attention.py` does) and
checked on 8 random examples; full int8 is timed beside them for its ratio to dynamic int8.
"""

import os
import tempfile

from absl import app, flags, logging
import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.data.classification import tokenize_examples
from mobilebert_tf.data.sentiment import read_rotten_tomatoes
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.export import exporter, fidelity, tflite
from mobilebert_tf.weights import randomize_norms
from side_by_side import time_and_report  # benchmarks/export/ is on sys.path

flags.DEFINE_string("preset", "mobilebert", "Our preset, timed at --seq_length.")
flags.DEFINE_integer("seq_length", 128, "Sequence length of the preset.")
flags.DEFINE_integer("num_threads", 2, "Interpreter threads (XNNPACK).")
flags.DEFINE_integer("rounds", 30, "Timed rounds; each runs every model once.")
flags.DEFINE_string("model", None, "Optional fine-tuned sentiment classifier (.keras).")
flags.DEFINE_string("vocab", None, "Its WordPiece vocabulary (with --model).")
flags.DEFINE_integer("model_seq_length", 64, "The classifier's sequence length (the demo's).")
flags.DEFINE_string("output", None, "Optional JSON file for the results.")
FLAGS = flags.FLAGS

PER_CHANNEL, PER_LAYER = "dynamic_int8, per-channel weights (before)", "dynamic_int8"


def per_channel_dynamic_int8(saved_model_dir: str) -> bytes:
    """The dynamic int8 conversion before 2026-12-01: the converter's default per-channel
    weight scales."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                         signature_keys=["serving_default"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def _fidelity(expected, content, examples) -> dict:
    reports = fidelity.compare(expected, tflite.run_tflite(content, examples))
    return {r.name: {"cosine": r.cosine, "max_relative": r.max_relative} for r in reports}


def _preset_models(work: str) -> tuple[dict[str, bytes], dict]:
    encoder = build_encoder(FLAGS.preset)
    randomize_norms(encoder)
    examples = exporter.random_examples(8, 1, FLAGS.seq_length, encoder.config.vocab_size)
    calibration = exporter.random_examples(20, 1, FLAGS.seq_length, encoder.config.vocab_size,
                                           seed=1)
    saved = tflite.save_saved_model(encoder, os.path.join(work, "preset"), 1, FLAGS.seq_length)
    models = {PER_CHANNEL: per_channel_dynamic_int8(saved),
              PER_LAYER: tflite.convert(saved, "dynamic_int8"),
              "int8": tflite.convert(saved, "int8", lambda: calibration)}
    expected = exporter.keras_outputs(encoder, examples)
    report = {name: {"fully_connected_versions": sorted(tflite.op_versions(content)[
                         "FULLY_CONNECTED"]),
                     "fidelity": _fidelity(expected, content, examples)}
              for name, content in models.items()}
    return models, report


def _classifier_accuracy(work: str) -> dict:
    model = keras.models.load_model(FLAGS.model)
    examples = read_rotten_tomatoes("validation")
    inputs = tokenize_examples(examples, BertInputTokenizer(
        FLAGS.vocab, seq_length=FLAGS.model_seq_length), FLAGS.model_seq_length)
    labels = np.array([e.label for e in examples])
    keras_logits = model.predict(inputs, batch_size=128, verbose=0)
    result = {"examples": len(labels), "keras float32": float(np.mean(
        keras_logits.argmax(-1) == labels))}
    saved = tflite.save_saved_model(model, os.path.join(work, "classifier"), 1,
                                    FLAGS.model_seq_length)
    for name, content in ((PER_CHANNEL, per_channel_dynamic_int8(saved)),
                          (PER_LAYER, tflite.convert(saved, "dynamic_int8"))):
        logits = np.concatenate([o["logits"] for o in tflite.run_tflite(
            content, exporter.batches(inputs, 1))])
        result[name] = {"accuracy": float(np.mean(logits.argmax(-1) == labels)),
                        "agreement": float(np.mean(logits.argmax(-1) ==
                                                   keras_logits.argmax(-1))),
                        "max_abs_logit_difference": float(np.abs(logits - keras_logits).max())}
    return result


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    if bool(FLAGS.model) != bool(FLAGS.vocab):
        raise app.UsageError("--model and --vocab go together.")
    with tempfile.TemporaryDirectory() as work:
        models, report = _preset_models(work)
        if FLAGS.model:
            report["classifier"] = _classifier_accuracy(work)
    for name, row in report.items():
        print(f"{name}: {row}")
    time_and_report(models, {"preset": FLAGS.preset, "seq_length": FLAGS.seq_length},
                    PER_LAYER, FLAGS.rounds, FLAGS.num_threads, FLAGS.output, report)


if __name__ == "__main__":
    app.run(main)
