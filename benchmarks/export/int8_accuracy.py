"""Full-int8 accuracy of a fine-tuned sentiment classifier on the whole dev split, with
attention's matmuls in int8 and in float (as before 2026-11-30), against the Keras model; as
the demo's export and accuracy stages calibrate (100 train examples) and score it.

    python benchmarks/export/int8_accuracy.py --model=runs/demo/finetune/best/model.keras \
        --vocab=runs/demo/vocab/vocab.txt [--seq_length=64] [--output=accuracy.json]
"""

import os
import tempfile

from absl import app, flags, logging
import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf import fileio
from mobilebert_tf.data.classification import tokenize_examples
from mobilebert_tf.data.sentiment import read_rotten_tomatoes
from mobilebert_tf.data.tokenizer import NORMALIZATIONS, BertInputTokenizer
from mobilebert_tf.export import benchmark, exporter, fidelity, tflite
from float_attention import float_attention_int8  # benchmarks/export/ is on sys.path

flags.DEFINE_string("model", None, "The fine-tuned classifier (.keras).", required=True)
flags.DEFINE_string("vocab", None, "Its WordPiece vocabulary.", required=True)
flags.DEFINE_integer("seq_length", 64, "Sequence length (the demo's: 64).")
flags.DEFINE_enum("text_normalization", "bert", NORMALIZATIONS,
                  "The text normalization the model was fine-tuned with.")
flags.DEFINE_integer("num_calibration", 100, "Train examples to calibrate on.")
flags.DEFINE_integer("num_fidelity", 16, "Dev examples for the fidelity check.")
flags.DEFINE_string("output", None, "Optional JSON file for the results.")
FLAGS = flags.FLAGS


def _partitions(content: bytes) -> int:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, num_threads=2)
    interpreter.allocate_tensors()
    return benchmark.delegate_partitions(interpreter)


def _score(content: bytes, inputs, labels, keras_predictions) -> dict:
    outputs = tflite.run_tflite(content, exporter.batches(inputs, 1))
    predicted = np.array([np.argmax(o["logits"][0]) for o in outputs])
    return {"accuracy": float(np.mean(predicted == labels)),
            "agreement": float(np.mean(predicted == keras_predictions))}


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    for flag in ("model", "vocab"):
        if not tf.io.gfile.exists(FLAGS[flag].value):
            raise app.UsageError(f"--{flag} {FLAGS[flag].value!r} does not exist.")
    model = keras.models.load_model(FLAGS.model)
    vocab_size = model.encoder.config.vocab_size
    calibration, fidelity_examples = (
        exporter.examples_from_task("sentiment", split, FLAGS.vocab, count, 1,
                                    FLAGS.seq_length, vocab_size,
                                    normalization=FLAGS.text_normalization)
        for split, count in (("train", FLAGS.num_calibration),
                             ("validation", FLAGS.num_fidelity)))
    examples = read_rotten_tomatoes("validation")
    inputs = tokenize_examples(examples, BertInputTokenizer(
        FLAGS.vocab, seq_length=FLAGS.seq_length, normalization=FLAGS.text_normalization),
        FLAGS.seq_length)
    labels = np.array([e.label for e in examples])
    keras_predictions = np.argmax(model.predict(inputs, batch_size=128, verbose=0), -1)
    results = {"examples": int(len(labels)),
               "keras float32": {"accuracy": float(np.mean(keras_predictions == labels))}}
    expected = exporter.keras_outputs(model, fidelity_examples)
    with tempfile.TemporaryDirectory() as work:
        saved = tflite.save_saved_model(model, os.path.join(work, "saved_model"), 1,
                                        FLAGS.seq_length)
        files = {"int8": tflite.convert(saved, "int8", lambda: calibration),
                 "int8, float attention": float_attention_int8(saved, calibration)}
    for name, content in files.items():
        reports = fidelity.compare(expected, tflite.run_tflite(content, fidelity_examples))
        fidelity.check(reports, "int8")
        results[name] = dict(_score(content, inputs, labels, keras_predictions),
                             fidelity=[vars(r) for r in reports],
                             partitions=_partitions(content))
        print(fidelity.format_reports(name, reports))
    base = results["keras float32"]["accuracy"]
    print(f"{len(labels)} dev examples; Keras float32 accuracy {base:.4f}")
    for name in files:
        r = results[name]
        print(f"{name:>22}: accuracy {r['accuracy']:.4f} ({100 * (r['accuracy'] - base):+.2f} "
              f"pt), agrees with Keras on {r['agreement']:.2%}, {r['partitions']} partition(s)")
    if FLAGS.output:
        fileio.write_json(FLAGS.output, results)


if __name__ == "__main__":
    app.run(main)
