"""Run runtime-ready `.tflite` files in the TFLite Task Library (tflite-support 0.4.4):
`BertNLClassifier` on texts, `BertQuestionAnswerer` on (context, question) pairs. The Task
Library needs protobuf < 4, which cannot sit beside TensorFlow 2.20's, so this file is run by
path in a Python that has tflite-support (`runtimes.task_library_results`); it imports
nothing of ours and no TensorFlow.

    python task_library_worker.py job.json out.json

`job.json`: `{"models": [{"path", "kind": "classifier" | "question_answerer"}],
"texts": [str], "questions": [[context, question]]}`. Writes `{"results": [...]}`, one per
model: `{"scores": [{label: score} per text]}`, `{"answers": [[{"text", "start", "end",
"logit"}] per question]}`, or `{"error": "..."}` when the runtime refuses the file.
"""

import ctypes
import json
import sys


def _classify(path: str, texts: list[str]) -> dict:
    from tensorflow_lite_support.python.task.text import bert_nl_classifier

    classifier = bert_nl_classifier.BertNLClassifier.create_from_file(path)
    return {"scores": [{c.category_name: c.score
                        for c in classifier.classify(text).classifications[0].categories}
                       for text in texts]}


def _answer(path: str, questions: list[list[str]]) -> dict:
    from tensorflow_lite_support.python.task.text import bert_question_answerer

    answerer = bert_question_answerer.BertQuestionAnswerer.create_from_file(path)
    return {"answers": [[{"text": a.text, "start": a.pos.start, "end": a.pos.end,
                          "logit": a.pos.logit}
                         for a in answerer.answer(context, question).answers]
                        for context, question in questions]}


def main(job_path: str, out_path: str) -> None:
    try:  # tflite-support's native helpers link libusb-1.0 (metadata.py does the same)
        import libusb_package
        ctypes.CDLL(str(libusb_package.get_library_path()), mode=ctypes.RTLD_GLOBAL)
    except ImportError:
        pass
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    results = []
    for model in job["models"]:
        try:
            if model["kind"] == "classifier":
                results.append(_classify(model["path"], job.get("texts", [])))
            else:
                results.append(_answer(model["path"], job.get("questions", [])))
        except (ValueError, RuntimeError) as e:  # the runtime refuses the file
            results.append({"error": f"{type(e).__name__}: {e}"})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"results": results}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
