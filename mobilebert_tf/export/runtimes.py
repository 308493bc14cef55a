"""Exported text classifiers run in the runtime apps deploy them with: MediaPipe Tasks'
`TextClassifier`, which reads the vocab, the input names and the labels from the file's
metadata (`export.metadata`) and tokenizes raw text itself."""

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
