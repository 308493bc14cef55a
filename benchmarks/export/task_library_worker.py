"""Classify texts with the TFLite Task Library's `BertNLClassifier` (tflite-support 0.4.4),
for `runtime_agreement.py`; runs in a Python that has tflite-support with its own protobuf
(< 4), which cannot sit beside TensorFlow 2.20's, so this file imports no TensorFlow.

    python task_library_worker.py model.tflite texts.json out.json

`texts.json`: a list of strings. Writes `{"scores": [{label: score}]}` (one per text) or
`{"error": "..."}`.
"""

import ctypes
import json
import sys


def main(model_path: str, texts_path: str, out_path: str) -> None:
    try:  # tflite-support's native helpers link libusb-1.0 (metadata.py does the same)
        import libusb_package
        ctypes.CDLL(str(libusb_package.get_library_path()), mode=ctypes.RTLD_GLOBAL)
    except ImportError:
        pass
    from tensorflow_lite_support.python.task.text import bert_nl_classifier

    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    try:
        classifier = bert_nl_classifier.BertNLClassifier.create_from_file(model_path)
    except (ValueError, RuntimeError) as e:
        result = {"error": f"{type(e).__name__}: {e}"}
    else:
        result = {"scores": [
            {c.category_name: c.score
             for c in classifier.classify(text).classifications[0].categories}
            for text in texts]}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
