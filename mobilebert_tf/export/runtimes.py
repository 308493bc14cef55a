"""Exported text classifiers run in the runtime apps deploy them with: MediaPipe Tasks'
`TextClassifier`, which reads the vocab, the input names and the labels from the file's
metadata (`export.metadata`) and tokenizes raw text itself; and how often a classifier's files
agree, there and in LiteRT, with the Keras model they came from."""

from __future__ import annotations

from typing import Sequence

import numpy as np


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
                         num_threads: int = 2) -> dict:
    """Accuracy on a labelled set of a Keras classifier and of its `.tflite` files (LiteRT on
    our ids, one example at a time), and of every file in MediaPipe's `TextClassifier` on the
    raw `texts` (it tokenizes them itself), with each one's top-1 agreement with the Keras
    model.

    Args:
        model: the Keras classifier (outputs probabilities over `label_names`).
        tflite_files: {name: runtime-ready `.tflite` bytes} exported from `model`.
        inputs: {input key: [n, seq_length]} of `texts` tokenized as in training.
        labels: [n] label indices.

    Returns:
        {"examples", "accuracy": {"keras float32" and each name: accuracy}, "agreement":
        {name: top-1 agreement with Keras}, "mediapipe": {name: {"accuracy", "agreement",
        "same_as_litert"}}}.
    """
    from mobilebert_tf.export import exporter, tflite

    keras_top1 = np.argmax(model.predict(inputs, batch_size=128, verbose=0), -1)
    accuracy = {"keras float32": float(np.mean(keras_top1 == labels))}
    agreement, mediapipe = {}, {}
    for name, content in tflite_files.items():
        outputs = tflite.run_tflite(content, exporter.batches(inputs, 1), num_threads)
        predicted = np.array([np.argmax(o["probability"][0]) for o in outputs])
        accuracy[name] = float(np.mean(predicted == labels))
        agreement[name] = float(np.mean(predicted == keras_top1))
        on_device = np.argmax(mediapipe_probabilities(content, texts, label_names), -1)
        mediapipe[name] = {"accuracy": float(np.mean(on_device == labels)),
                           "agreement": float(np.mean(on_device == keras_top1)),
                           "same_as_litert": float(np.mean(on_device == predicted))}
    return {"examples": int(len(labels)), "accuracy": accuracy, "agreement": agreement,
            "mediapipe": mediapipe}
