"""Exported task models run in the runtimes apps deploy them with: MediaPipe Tasks'
`TextClassifier` (in this process) and the TFLite Task Library's `BertNLClassifier` /
`BertQuestionAnswerer` (in a Python of its own, `task_library_results`), which read the vocab,
the input names and the labels from the file's metadata (`export.metadata`) and tokenize raw
text themselves; and how often a classifier's files agree, there and in LiteRT, with the Keras
model they came from."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Sequence

import numpy as np

# A Python with tflite-support 0.4.4 and its protobuf < 4 (`make test` makes one in
# .venv-task-library/ and names it here).
TASK_LIBRARY_PYTHON_ENV = "MOBILEBERT_TASK_LIBRARY_PYTHON"
TASK_LIBRARY_KINDS = ("classifier", "question_answerer")
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "task_library_worker.py")


def mediapipe_probabilities(content: bytes, texts: Sequence[str],
                            labels: Sequence[str]) -> np.ndarray:
    """`[len(texts), len(labels)]` scores MediaPipe's `TextClassifier` gives each text for
    each label, in `labels`' order, from a runtime-ready classifier `.tflite` (its bytes, so
    a bucket file works as well as a local one)."""
    from mediapipe.tasks.python import text as mp_text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = mp_text.TextClassifierOptions(
        base_options=BaseOptions(model_asset_buffer=content))
    rows = []
    with mp_text.TextClassifier.create_from_options(options) as classifier:
        for text in texts:
            categories = classifier.classify(text).classifications[0].categories
            scores = {c.category_name: c.score for c in categories}
            rows.append([scores[label] for label in labels])
    return np.array(rows, np.float32)


def classifier_agreement(model, tflite_files: dict[str, bytes], inputs: dict[str, np.ndarray],
                         labels: np.ndarray, texts: Sequence[str], label_names: Sequence[str],
                         num_threads: int = 2, task_library_python: str | None = None) -> dict:
    """Accuracy on a labelled set of a Keras classifier and of its `.tflite` files (LiteRT on
    our ids, one example at a time), and of every file in MediaPipe's `TextClassifier` on the
    raw `texts` (it tokenizes them itself), and with `task_library_python` in the TFLite Task
    Library's `BertNLClassifier` too, with each one's top-1 agreement with the Keras model.

    Args:
        model: the Keras classifier (outputs probabilities over `label_names`).
        tflite_files: {name: runtime-ready `.tflite` bytes} exported from `model`.
        inputs: {input key: [n, seq_length]} of `texts` tokenized as in training.
        labels: [n] label indices.
        task_library_python: a Python with the Task Library (`task_library_results`); None:
            not run.

    Returns:
        {"examples", "accuracy": {"keras float32" and each name: accuracy}, "agreement":
        {name: top-1 agreement with Keras}, "mediapipe" and with `task_library_python`
        "task_library": {name: {"accuracy", "agreement", "same_as_litert"} | {"error"}}}.
    """
    from mobilebert_tf.export import exporter, tflite

    keras_top1 = np.argmax(model.predict(inputs, batch_size=128, verbose=0), -1)
    accuracy = {"keras float32": float(np.mean(keras_top1 == labels))}
    agreement, litert = {}, {}

    def on_device(scores, name):
        top1 = np.argmax(scores, -1)
        return {"accuracy": float(np.mean(top1 == labels)),
                "agreement": float(np.mean(top1 == keras_top1)),
                "same_as_litert": float(np.mean(top1 == litert[name]))}

    result = {"examples": int(len(labels)), "accuracy": accuracy, "agreement": agreement,
              "mediapipe": {}}
    for name, content in tflite_files.items():
        outputs = tflite.run_tflite(content, exporter.batches(inputs, 1), num_threads)
        litert[name] = np.array([np.argmax(o["probability"][0]) for o in outputs])
        accuracy[name] = float(np.mean(litert[name] == labels))
        agreement[name] = float(np.mean(litert[name] == keras_top1))
        result["mediapipe"][name] = on_device(
            mediapipe_probabilities(content, texts, label_names), name)
    if task_library_python:
        runs = task_library_results(task_library_python, tflite_files, "classifier", texts)
        result["task_library"] = {
            name: ({"error": run["error"]} if "error" in run
                   else on_device(classifier_scores(run, label_names), name))
            for name, run in runs.items()}
    return result


def task_library_results(python: str, files: dict[str, bytes], kind: str,
                         texts: Sequence[str] = (),
                         questions: Sequence[tuple[str, str]] = ()) -> dict[str, dict]:
    """Run runtime-ready `.tflite` files in the TFLite Task Library, all in one process of
    `python` (which has tflite-support 0.4.4; see `task_library_worker.py`).

    Args:
        python: that Python's executable.
        files: {name: `.tflite` bytes}.
        kind: one of `TASK_LIBRARY_KINDS`: "classifier" (`BertNLClassifier` on `texts`) or
            "question_answerer" (`BertQuestionAnswerer` on `questions`, (context, question)
            pairs).

    Returns:
        {name: {"scores": [{label: score} per text]} | {"answers": [[{"text", "start", "end",
        "logit"}] per question]} | {"error": why the runtime refused the file}}.

    Raises:
        ValueError: an unknown `kind`.
        FileNotFoundError: `python` does not exist.
        RuntimeError: the worker failed outside the runtime (its stderr's last lines).
    """
    if kind not in TASK_LIBRARY_KINDS:
        raise ValueError(f"kind {kind!r}: expected one of {TASK_LIBRARY_KINDS}.")
    if not os.path.exists(python):
        raise FileNotFoundError(f"No Python with the Task Library at {python!r} (make one with "
                                "`python3.11 -m venv V && V/bin/pip install tflite-support==0.4.4 "
                                "libusb-package`; `make test` does, in .venv-task-library/).")
    with tempfile.TemporaryDirectory() as tmp:
        models = []
        for i, content in enumerate(files.values()):
            models.append({"path": os.path.join(tmp, f"model_{i}.tflite"), "kind": kind})
            with open(models[-1]["path"], "wb") as f:
                f.write(content)
        job, out = os.path.join(tmp, "job.json"), os.path.join(tmp, "out.json")
        with open(job, "w", encoding="utf-8") as f:
            json.dump({"models": models, "texts": list(texts),
                       "questions": [list(q) for q in questions]}, f)
        run = subprocess.run([python, _WORKER, job, out], capture_output=True, text=True)
        if run.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"Task Library worker ({python}) exited {run.returncode}: "
                               + "\n".join(run.stderr.strip().splitlines()[-5:]))
        with open(out, encoding="utf-8") as f:
            results = json.load(f)["results"]
    return dict(zip(files, results))


def classifier_scores(result: dict, labels: Sequence[str]) -> np.ndarray:
    """`[texts, len(labels)]` scores from one `task_library_results` classifier result.

    Raises:
        RuntimeError: the Task Library refused the file (its message).
    """
    if "error" in result:
        raise RuntimeError(f"The Task Library refused the file: {result['error']}")
    return np.array([[row[label] for label in labels] for row in result["scores"]], np.float32)
