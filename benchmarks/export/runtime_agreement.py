"""Predictions of runtime-ready `.tflite` files in MediaPipe Tasks' `TextClassifier` and the
TFLite Task Library's `BertNLClassifier` vs the Python pipeline, on the whole sentiment dev
set, in every precision.

    python benchmarks/export/runtime_agreement.py \
        --model=runs/demo/finetune/best/model.keras --vocab_file=runs/demo/vocab/vocab.txt \
        --seq_length=64 --output_dir=/tmp/runtime_agreement \
        [--task_library_python=.venv-task-library/bin/python] [--output=agreement.json]

The model is exported here with `exporter.export` (runtime metadata, vocab and labels packed;
int8 calibrated on 100 train texts). The Python pipeline is the Keras model on
`BertInputTokenizer` ids, with `normalization="device"` (as the runtimes tokenize) and
"bert" (as the demo trains). MediaPipe runs in this process; the Task Library needs
protobuf < 4, so it runs in another Python (`--task_library_python`: `make test` makes one,
.venv-task-library/) through `runtimes.task_library_results`.
"""

import sys

import numpy as np
import tf_keras as keras
from absl import app, flags

from mobilebert_tf import fileio
from mobilebert_tf.data import sentiment
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.export import exporter, tflite
from mobilebert_tf.export import runtimes as runtime_api

flags.DEFINE_string("model", "runs/demo/finetune/best/model.keras", "A .keras classifier.")
flags.DEFINE_string("vocab_file", "runs/demo/vocab/vocab.txt", "Its vocab.")
flags.DEFINE_integer("seq_length", 64, "Exported sequence length (the demo's).")
flags.DEFINE_string("output_dir", "/tmp/runtime_agreement", "Where the exports go.")
flags.DEFINE_list("precisions", list(tflite.PRECISIONS), "Precisions to export and compare.")
flags.DEFINE_string("task_library_python", None, "A Python with tflite-support 0.4.4 and its "
                    "protobuf < 4; none: the Task Library is skipped.")
flags.DEFINE_string("output", None, "JSON file for the results.")
FLAGS = flags.FLAGS


def python_pipeline(model, texts, normalization):
    """(ids per text, probabilities [n, 2]) of the Keras model on `normalization`'s ids."""
    tokenizer = BertInputTokenizer(FLAGS.vocab_file, seq_length=FLAGS.seq_length,
                                   normalization=normalization)
    inputs = {k: v.numpy() for k, v in tokenizer(texts).items()}
    logits = model.predict(inputs, batch_size=128, verbose=0)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    return tokenizer.encode(texts), probabilities / probabilities.sum(-1, keepdims=True), inputs


def agreement(scores, reference):
    return {"top1_agreement": float(np.mean(scores.argmax(-1) == reference.argmax(-1))),
            "max_abs_probability_difference": float(np.abs(scores - reference).max())}


def main(argv):
    del argv
    texts = [e.text_a for e in sentiment.read_rotten_tomatoes("validation")]
    labels = np.array([e.label for e in sentiment.read_rotten_tomatoes("validation")])
    print(f"model {FLAGS.model}, vocab {FLAGS.vocab_file}, seq_length {FLAGS.seq_length}, "
          f"{len(texts)} sentiment dev texts, precisions {FLAGS.precisions}, Task Library: "
          f"{FLAGS.task_library_python or 'skipped'}")
    model = keras.models.load_model(FLAGS.model)
    calibration = exporter.examples_from_task("sentiment", "train", FLAGS.vocab_file, 100, 1,
                                              FLAGS.seq_length, model.encoder.config.vocab_size)
    results = exporter.export(model, FLAGS.output_dir, FLAGS.precisions, FLAGS.seq_length,
                              calibration=calibration, fidelity_examples=calibration[:16],
                              tokenizer=BertInputTokenizer(FLAGS.vocab_file,
                                                           seq_length=FLAGS.seq_length),
                              labels=sentiment.LABELS, log=lambda _: None)
    device_ids, device, device_inputs = python_pipeline(model, texts, "device")
    bert_ids, bert, _ = python_pipeline(model, texts, "bert")
    summary = {
        "texts": len(texts),
        "texts_with_other_ids": sum(a != b for a, b in zip(device_ids, bert_ids)),
        "predictions_changed_by_normalization": int(np.sum(device.argmax(-1) != bert.argmax(-1))),
        "keras_accuracy": {"device": float(np.mean(device.argmax(-1) == labels)),
                           "bert": float(np.mean(bert.argmax(-1) == labels))},
        "runtimes": {}}
    print(f"{summary['texts_with_other_ids']} of {len(texts)} texts get other ids under the two "
          f"normalizations; {summary['predictions_changed_by_normalization']} predictions change")
    files = {p: fileio.read_bytes(results[p]["path"]) for p in FLAGS.precisions}
    task_library = (runtime_api.task_library_results(FLAGS.task_library_python, files,
                                                     "classifier", texts)
                    if FLAGS.task_library_python else {})
    for precision, content in files.items():
        litert = np.concatenate([o["probability"] for o in tflite.run_tflite(
            content, exporter.batches(device_inputs, 1))])
        runtimes = {"mediapipe": runtime_api.mediapipe_probabilities(content, texts,
                                                                     sentiment.LABELS)}
        if precision in task_library:  # its scores, or why it refused the file
            result = task_library[precision]
            runtimes["task_library"] = result.get("error") or runtime_api.classifier_scores(
                result, sentiment.LABELS)
        for runtime, scores in runtimes.items():
            if isinstance(scores, str):
                row = {"error": scores}
                print(f"{precision:>12} {runtime:>12}: refused: {scores}")
            else:
                row = {"vs_python_device": agreement(scores, device),
                       "vs_python_bert": agreement(scores, bert),
                       "vs_litert_same_file": agreement(scores, litert),
                       "accuracy": float(np.mean(scores.argmax(-1) == labels))}
                print(f"{precision:>12} {runtime:>12}: top-1 = Python (device) "
                      f"{row['vs_python_device']['top1_agreement']:.2%}, = Python (bert) "
                      f"{row['vs_python_bert']['top1_agreement']:.2%}, = LiteRT same file "
                      f"{row['vs_litert_same_file']['top1_agreement']:.2%} (max |dp| "
                      f"{row['vs_litert_same_file']['max_abs_probability_difference']:.1e}); "
                      f"accuracy {row['accuracy']:.4f}")
            summary["runtimes"].setdefault(precision, {})[runtime] = row
    if FLAGS.output:
        fileio.write_json(FLAGS.output, {"setup": {
            "model": FLAGS.model, "vocab_file": FLAGS.vocab_file,
            "seq_length": FLAGS.seq_length, "precisions": FLAGS.precisions,
            "python": sys.version.split()[0]}, **summary})


if __name__ == "__main__":
    app.run(main)
