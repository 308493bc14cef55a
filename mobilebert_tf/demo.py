"""The main job (`make demo`): the whole MobileBERT story on real text, on a laptop CPU.

    python -m mobilebert_tf.demo [--work_dir=runs/demo] [--smoke]

Stages, each written under `work_dir/<stage>/` and skipped when rerun once done:

  1 corpus     Shakespeare's plays + the sentiment set's *train* snippets as unlabelled text
               (one document per scene / per movie); every 20th document held out
  2 vocab      a WordPiece vocab learned from that text (tensorflow-text)
  3 records    MLM + NSP TFRecords: train (dupe_factor maskings) and held-out
  4 teacher    `run.pretrain` (`--mode teacher`): a small IB-BERT (`ib_bert_mini`), MLM + NSP
  5 student    `run.distill` (`--mode distill`): a small MobileBERT (`mobilebert_mini`) by
               progressive knowledge transfer, then pre-training distillation
  6 finetune   `run.finetune` (`--mode finetune`) on the sentiment task from the student
  7 export     SavedModel + float32 / float16 / dynamic-int8 / int8 `.tflite`, fidelity check
  8 accuracy   dev accuracy of the Keras model and of every `.tflite` on the whole dev split
  9 latency    the demo files timed side by side with full-size MobileBERT and BERT-base
 10 summary    `summary.md` / `summary.json`, loss-curve and latency plots

The training stages call `mobilebert_tf.run` in process, each printing the equivalent
`tpu/train.py` command (the one to run on a TPU) and keeping its log in `<stage>/train.log`.
`--smoke` shrinks everything (CI).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from typing import Callable

import tensorflow as tf
from absl import app, flags

from mobilebert_tf import fileio

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The demo's flags (defined on use, so importing this module defines none)."""
    flags.DEFINE_string("work_dir", "runs/demo", "Where every stage writes.")
    flags.DEFINE_bool("smoke", False, "Tiny sizes and a few steps (CI): checks the "
                      "pipeline, not the numbers.")
    flags.DEFINE_integer("num_threads", 2, "TFLite interpreter threads.")


TEACHER_PRESET, STUDENT_PRESET = "ib_bert_mini", "mobilebert_mini"


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Sizes and budgets of the demo (the defaults take ~15 minutes on 2 CPU cores)."""

    max_plays: int | None = None          # Shakespeare plays in the corpus (None: all 38)
    max_review_movies: int | None = None  # movies whose train snippets join the corpus
    heldout_every: int = 20               # every Nth document is held out
    vocab_size: int = 8000
    seq_length: int = 64
    max_predictions: int = 10
    dupe_factor: int = 2
    num_layers: int = 4
    batch_size: int = 32
    teacher_steps: int = 1500
    teacher_learning_rate: float = 2e-3
    teacher_warmup_steps: int = 150
    transfer_steps: int = 100             # PKT steps per layer
    pd_steps: int = 500
    distill_learning_rate: float = 2e-3
    finetune_steps: int = 1000
    finetune_learning_rate: float = 1e-3  # 2e-4 left 440-step students at the majority class
    finetune_eval_every: int = 250
    # Tokenize as MediaPipe and the Task Library do on the phone (ASCII lower-casing only),
    # so the exported files predict there what they predict here.
    text_normalization: str = "device"
    num_calibration: int = 100            # full-int8 calibration examples (GR: 100)
    num_fidelity: int = 16
    full_size_latency: bool = True        # also time full-size MobileBERT and BERT-base
    latency_rounds: int = 20

    def model_overrides(self, vocab_size: int) -> dict:
        return {"num_layers": self.num_layers, "vocab_size": vocab_size}


SMOKE_CONFIG = DemoConfig(max_plays=2, max_review_movies=40, heldout_every=5, vocab_size=800,
                          seq_length=32, max_predictions=5, dupe_factor=1, num_layers=2,
                          batch_size=8, teacher_steps=6, teacher_warmup_steps=2,
                          transfer_steps=2, pd_steps=4, finetune_steps=4,
                          finetune_eval_every=2, num_calibration=4, num_fidelity=2,
                          full_size_latency=False, latency_rounds=2)


STAGES = ("corpus", "vocab", "records", "teacher", "student", "finetune", "export", "accuracy",
          "latency")  # then the summary, rewritten on every run
# The first stage that reads each `DemoConfig` field. A finished stage is reused while the
# fields of its own and of earlier stages are unchanged.
FIELD_STAGES = {
    "max_plays": "corpus", "max_review_movies": "corpus", "heldout_every": "corpus",
    "vocab_size": "vocab",
    "seq_length": "records", "max_predictions": "records", "dupe_factor": "records",
    "num_layers": "teacher", "batch_size": "teacher", "teacher_steps": "teacher",
    "teacher_learning_rate": "teacher", "teacher_warmup_steps": "teacher",
    "transfer_steps": "student", "pd_steps": "student", "distill_learning_rate": "student",
    "finetune_steps": "finetune", "finetune_learning_rate": "finetune",
    "finetune_eval_every": "finetune", "text_normalization": "finetune",
    "num_calibration": "export", "num_fidelity": "export",
    "full_size_latency": "latency", "latency_rounds": "latency",
}


class Pipeline:
    """Runs named stages in order; a stage whose `done.json` exists is skipped and its
    recorded result reused, so an interrupted demo picks up where it stopped. Each
    `done.json` records the settings it was made with: a finished stage whose settings (its
    own fields and earlier stages', `FIELD_STAGES`) differ from `config` is refused, never
    overwritten."""

    def __init__(self, work_dir: str, config: DemoConfig, num_stages: int):
        self.work_dir, self.config, self.num_stages = work_dir, config, num_stages
        self.results: dict[str, dict] = {}
        tf.io.gfile.makedirs(work_dir)

    def _check_settings(self, stage: str, settings: dict | None) -> None:
        last = STAGES.index(stage) if stage in STAGES else len(STAGES)
        fields = [k for k, s in FIELD_STAGES.items() if STAGES.index(s) <= last]
        changed = sorted(k for k in fields if settings is None
                         or settings.get(k) != getattr(self.config, k))
        if changed:
            raise ValueError(f"{self.dir(stage)} was made with other settings ({changed}); "
                             "delete it and the stages after it, or pass another --work_dir.")

    def dir(self, stage: str) -> str:
        return tf.io.gfile.join(self.work_dir, stage)

    def run(self, stage: str, fn: Callable[[str], dict]) -> dict:
        index = len(self.results) + 1
        stage_dir = self.dir(stage)
        done = tf.io.gfile.join(stage_dir, "done.json")
        if tf.io.gfile.exists(done):
            result = fileio.read_json(done)
            self._check_settings(stage, result.pop("settings", None))
            self.results[stage] = result
            print(f"[{index}/{self.num_stages}] {stage}: done before, skipped.", flush=True)
            return self.results[stage]
        print(f"\n[{index}/{self.num_stages}] {stage}", flush=True)
        tf.io.gfile.makedirs(stage_dir)
        start = time.perf_counter()
        result = fn(stage_dir)
        result["seconds"] = round(time.perf_counter() - start, 1)
        fileio.write_json(done, {**result, "settings": dataclasses.asdict(self.config)})
        self.results[stage] = result
        print(f"[{index}/{self.num_stages}] {stage}: {result['seconds']:.0f} s", flush=True)
        return result


@contextlib.contextmanager
def native_logs_to(path: str):
    """Append what goes to file descriptor 2 (TensorFlow's and the converter's C++ logs) to
    `path`, which may be a bucket URL."""
    if "://" in path:
        # A file descriptor must be local: log to a local file, then copy that to `path`.
        with tempfile.TemporaryDirectory() as tmp:
            local = tf.io.gfile.join(tmp, "native.log")
            if tf.io.gfile.exists(path):
                tf.io.gfile.copy(path, local)  # appended to, as a local log is
            try:
                with native_logs_to(local):
                    yield
            finally:  # not `gfile.copy(..., overwrite=True)`: on ram:// that appends
                fileio.write_bytes(path, fileio.read_bytes(local))
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def run_training(config):
    """`mobilebert_tf.run.pretrain`, `distill` or `finetune` of `config`, in process: prints the
    equivalent `tpu/train.py` command, shows a progress bar, logs to `<model_dir>/train.log`.
    Resumes from `config.model_dir`; returns what the run function returns."""
    import tf_keras as keras

    from mobilebert_tf import run
    from mobilebert_tf.run.command_line import command_line

    train = {run.PretrainConfig: run.pretrain, run.DistillConfig: run.distill,
             run.FinetuneConfig: run.finetune}[type(config)]
    print("$ " + command_line(config), flush=True)
    keras.backend.clear_session()  # each run starts from a fresh Keras state
    with run.log_to_file(config.model_dir):
        result = train(config)
    keras.backend.clear_session()
    return result


# Stages -----------------------------------------------------------------------------------

def build_corpus(out: str, config: DemoConfig) -> dict:
    from mobilebert_tf.data import corpus, sentiment

    plays = [doc for path in corpus.play_files()[:config.max_plays]
             for doc in corpus.play_documents(path)]
    reviews = sentiment.review_documents("train")[:config.max_review_movies]
    documents = plays + reviews
    heldout = documents[config.heldout_every - 1::config.heldout_every]
    train = [d for i, d in enumerate(documents) if (i + 1) % config.heldout_every]
    files = {}
    for name, docs in (("train", train), ("heldout", heldout)):
        files[name] = fileio.write_text(tf.io.gfile.join(out, f"{name}.txt"),
                                        "\n\n".join("\n".join(doc) for doc in docs) + "\n")
    words = sum(len(s.split()) for d in documents for s in d)
    print(f"{len(plays)} scenes + {len(reviews)} movies' reviews = {len(documents)} documents, "
          f"{words:,} words; {len(heldout)} documents held out.")
    return {"files": files, "documents": len(documents), "words": words,
            "heldout_documents": len(heldout)}


def build_vocab(out: str, corpus_file: str, config: DemoConfig) -> dict:
    from mobilebert_tf.data.vocab_builder import build_wordpiece_vocab

    path = tf.io.gfile.join(out, "vocab.txt")
    vocab = build_wordpiece_vocab(corpus_file, path, config.vocab_size)
    print(f"{len(vocab)} WordPiece tokens -> {path}")
    return {"file": path, "size": len(vocab)}


def build_records(out: str, corpus: dict, vocab_file: str, config: DemoConfig) -> dict:
    from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                            create_pretraining_records)

    data = PretrainingDataConfig(seq_length=config.seq_length,
                                 max_predictions_per_seq=config.max_predictions,
                                 dupe_factor=config.dupe_factor)
    result = {}
    for name, dupe in (("train", config.dupe_factor), ("heldout", 1)):
        written = create_pretraining_records(
            corpus["files"][name], tf.io.gfile.join(out, name), vocab_file,
            dataclasses.replace(data, dupe_factor=dupe), overwrite=True)
        result[name] = {"pattern": tf.io.gfile.join(out, name, "*.tfrecord"),
                        "examples": written["num_examples"]}
        print(f"{name}: {written['num_examples']:,} sequences of {config.seq_length}")
    return result


def _record_training(config: DemoConfig, train_files: str, vocab_size: int,
                     model_dir: str) -> dict:
    """The `RecordTrainingConfig` fields of every demo training run on the records."""
    return dict(model_dir=model_dir, train_files=train_files,
                overrides=config.model_overrides(vocab_size), seq_length=config.seq_length,
                max_predictions=config.max_predictions, batch_size=config.batch_size,
                log_every=100, checkpoint_every=250, progress=True)


def teacher_config(out: str, train_files: str, vocab_size: int, config: DemoConfig):
    """The teacher's `run.PretrainConfig`: `ib_bert_mini` on MLM + NSP."""
    from mobilebert_tf import run

    return run.PretrainConfig(preset=TEACHER_PRESET, steps=config.teacher_steps,
                              learning_rate=config.teacher_learning_rate,
                              warmup_steps=config.teacher_warmup_steps,
                              **_record_training(config, train_files, vocab_size, out))


def student_config(out: str, train_files: str, vocab_size: int, teacher: str,
                   config: DemoConfig):
    """The student's `run.DistillConfig`: `mobilebert_mini` by PKT from `teacher`, then PD."""
    from mobilebert_tf import run

    return run.DistillConfig(preset=STUDENT_PRESET, teacher_preset=TEACHER_PRESET,
                             teacher_checkpoint=teacher, distill_strategy="pkt",
                             transfer_steps=config.transfer_steps, pd_steps=config.pd_steps,
                             learning_rate=config.distill_learning_rate,
                             **_record_training(config, train_files, vocab_size, out))


def finetune_config(out: str, student: str, vocab: dict, config: DemoConfig):
    """The sentiment `run.FinetuneConfig` from `student`: `config.finetune_steps` steps
    (checkpointed once, at the end), the best of the evaluations every
    `finetune_eval_every` steps on 400 class-balanced dev examples."""
    from mobilebert_tf import run

    return run.FinetuneConfig(
        task="sentiment", model_dir=out, preset=STUDENT_PRESET,
        overrides=config.model_overrides(vocab["size"]), init_checkpoint=student,
        vocab_file=vocab["file"], seq_length=config.seq_length, batch_size=config.batch_size,
        learning_rate=config.finetune_learning_rate, steps=config.finetune_steps,
        checkpoint_every=config.finetune_steps, log_every=100, progress=True,
        eval_every=config.finetune_eval_every, max_eval_examples=400, balance_classes=True,
        text_normalization=config.text_normalization)


def evaluate_pretrainer(preset: str, overrides: dict, checkpoint: str, records: dict,
                        config: DemoConfig) -> dict:
    """`mlm_accuracy` and `attention_kl` (per layer, KL from uniform attention; both
    held-out) and `params` (grouped counts) of a pretrainer checkpoint."""
    import tf_keras as keras

    from mobilebert_tf.config import get_preset
    from mobilebert_tf.data.pretraining_dataset import pretraining_dataset
    from mobilebert_tf.distillation.diagnostics import attention_kl_from_uniform
    from mobilebert_tf.encoder import build_encoder
    from mobilebert_tf.models import MobileBertPretrainer
    from mobilebert_tf.summary import parameter_counts
    from mobilebert_tf.training.evaluation import mlm_accuracy
    from mobilebert_tf.training.loop import restore_model

    model = MobileBertPretrainer(build_encoder(get_preset(preset, **overrides)))
    model(model.example_inputs())
    restore_model(model, checkpoint)
    dataset = pretraining_dataset(records["heldout"]["pattern"], config.seq_length,
                                  config.max_predictions, 64, shuffle=False, repeat=False)
    result = {"mlm_accuracy": mlm_accuracy(model, dataset),
              "attention_kl": attention_kl_from_uniform(model.encoder, dataset, max_batches=8),
              "params": parameter_counts(model)}
    del model
    keras.backend.clear_session()
    return result


def train_pretrainer(role: str, training_config, records: dict, config: DemoConfig) -> dict:
    """Train `training_config` (a pretrainer: teacher or student), then its stage result:
    checkpoint, held-out MLM accuracy, sizes."""
    run_training(training_config)
    result = evaluate_pretrainer(training_config.preset, training_config.overrides,
                                 training_config.model_dir, records, config)
    print(f"{role} held-out MLM accuracy {result['mlm_accuracy']:.4f}, attention KL from "
          f"uniform per layer {_nats(result['attention_kl'])}")
    return {"checkpoint": training_config.model_dir, **result}


def finetune(out: str, student: str, vocab: dict, config: DemoConfig) -> dict:
    result = run_training(finetune_config(out, student, vocab, config))
    print(f"best balanced-dev accuracy {result.best_score:.4f} at step {result.best_step}")
    return {"model": result.files["keras"], "best_dev_accuracy": result.best_score,
            "best_step": result.best_step}


def _sentiment_inputs(split: str, vocab_file: str, config: DemoConfig):
    """(inputs {key: [n, seq]}, labels, texts) of the sentiment split, tokenized as in
    training."""
    import numpy as np

    from mobilebert_tf.data.sentiment import read_rotten_tomatoes
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    from mobilebert_tf.finetune.evaluation import tokenize_examples

    examples = read_rotten_tomatoes(split)
    tokenizer = BertInputTokenizer(vocab_file, seq_length=config.seq_length,
                                   normalization=config.text_normalization)
    inputs = tokenize_examples(examples, tokenizer, config.seq_length)
    return inputs, np.array([e.label for e in examples]), [e.text_a for e in examples]


def export_model(out: str, model_path: str, vocab_file: str, config: DemoConfig,
                 num_threads: int) -> dict:
    import tf_keras as keras

    from mobilebert_tf.data import sentiment
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    from mobilebert_tf.export import exporter

    print(f"Converting (converter logs: {out}/convert.log) ...", flush=True)
    model = keras.models.load_model(model_path)
    calibration, fidelity = (
        exporter.examples_from_task("sentiment", split, vocab_file, count, 1,
                                    config.seq_length, model.encoder.config.vocab_size,
                                    normalization=config.text_normalization)
        for split, count in (("train", config.num_calibration),
                             ("validation", config.num_fidelity)))
    with native_logs_to(tf.io.gfile.join(out, "convert.log")):
        results = exporter.export(model, out, seq_length=config.seq_length,
                                  calibration=calibration, fidelity_examples=fidelity,
                                  num_threads=num_threads, labels=sentiment.LABELS,
                                  tokenizer=BertInputTokenizer(
                                      vocab_file, seq_length=config.seq_length,
                                      normalization=config.text_normalization))
    keras.backend.clear_session()
    return {"files": {p: r["path"] for p, r in results.items()},
            "bytes": {p: r["bytes"] for p, r in results.items()}}


def dev_accuracy(out: str, model_path: str, tflite_files: dict, vocab_file: str,
                 config: DemoConfig, num_threads: int) -> dict:
    """Dev accuracy of the Keras model and of every `.tflite` (LiteRT on our ids), and of every
    file in MediaPipe's `TextClassifier` on the raw texts (it tokenizes them itself), with each
    one's top-1 agreement with the Keras model (the Python pipeline)."""
    import numpy as np
    import tf_keras as keras

    from mobilebert_tf.data.sentiment import LABELS
    from mobilebert_tf.export import exporter, runtimes, tflite

    inputs, labels, texts = _sentiment_inputs("validation", vocab_file, config)
    model = keras.models.load_model(model_path)
    keras_top1 = np.argmax(model.predict(inputs, batch_size=128, verbose=0), -1)
    accuracy = {"keras float32": float(np.mean(keras_top1 == labels))}
    agreement, mediapipe = {}, {}
    for precision, path in tflite_files.items():
        content = fileio.read_bytes(path)
        outputs = tflite.run_tflite(content, exporter.batches(inputs, 1), num_threads)
        predicted = np.array([np.argmax(o["probability"][0]) for o in outputs])
        accuracy[precision] = float(np.mean(predicted == labels))
        agreement[precision] = float(np.mean(predicted == keras_top1))
        on_device = np.argmax(runtimes.mediapipe_probabilities(content, texts, LABELS), -1)
        mediapipe[precision] = {"accuracy": float(np.mean(on_device == labels)),
                                "agreement": float(np.mean(on_device == keras_top1)),
                                "same_as_litert": float(np.mean(on_device == predicted))}
    for name, value in accuracy.items():
        print(f"{name:>14}: dev accuracy {value:.4f}"
              + (f", agrees with Keras on {agreement[name]:.2%}; in MediaPipe from raw text "
                 f"{mediapipe[name]['accuracy']:.4f}, agrees with Keras on "
                 f"{mediapipe[name]['agreement']:.2%}" if name in agreement else ""))
    keras.backend.clear_session()
    return {"examples": int(len(labels)), "accuracy": accuracy, "agreement": agreement,
            "mediapipe": mediapipe}


def time_latency(out: str, tflite_files: dict, config: DemoConfig, num_threads: int) -> dict:
    from mobilebert_tf.export import benchmark
    from mobilebert_tf.export.reference import reference_suite

    models = {}
    for precision, path in tflite_files.items():
        models[f"demo student {precision}"] = fileio.read_bytes(path)
    if config.full_size_latency:
        print("Converting full-size MobileBERT (ours) and BERT-base (tf-models-official), "
              "random weights, sequence length 128 ...", flush=True)
        with native_logs_to(tf.io.gfile.join(out, "convert.log")):
            full = reference_suite("mobilebert", ["float32", "dynamic_int8", "int8"], 128,
                                   out, include=("ours", "tfmg bert_base"))
        models.update({name.replace("ours", "MobileBERT").replace("tfmg bert_base",
                                                                  "BERT-base"): content
                       for name, content in full.items()})
    latencies = benchmark.time_models(models, num_threads, rounds=config.latency_rounds)
    baseline = "BERT-base float32" if config.full_size_latency else None
    table = benchmark.format_table(latencies, baseline)
    print(table)
    plot = benchmark.plot(latencies, tf.io.gfile.join(out, "latency.png"))
    return {"num_threads": num_threads, "rounds": config.latency_rounds,
            "latencies": [dataclasses.asdict(l) for l in latencies], "table": table,
            "plot": plot}


# Summary ----------------------------------------------------------------------------------

def scalar_series(summary_dir: str, tag: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one scalar in a TensorBoard event directory, by step (a resumed
    run's later value wins)."""
    from tensorflow.core.util import event_pb2

    points = {}
    files = fileio.glob(tf.io.gfile.join(summary_dir, "events.out.tfevents.*"))
    for record in tf.data.TFRecordDataset(files) if files else ():
        event = event_pb2.Event.FromString(record.numpy())
        for value in event.summary.value:
            if value.tag == tag:
                points[event.step] = float(tf.make_ndarray(value.tensor))
    steps = sorted(points)
    return steps, [points[s] for s in steps]


def plot_losses(work: Pipeline, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = (("teacher: MLM + NSP loss", "teacher", "loss/loss"),
              ("student: PKT layer losses, then PD", "student", "loss/loss"),
              ("sentiment fine-tuning loss", "finetune", "loss/loss"))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for ax, (title, stage, tag) in zip(axes, panels):
        steps, values = scalar_series(tf.io.gfile.join(work.dir(stage), "summaries"), tag)
        if values:
            width = max(len(values) // 50, 1)  # moving average over ~2% of the run
            smooth = np.convolve(values, np.ones(width) / width, mode="valid")
            ax.plot(steps, values, color="#c0c0c0", linewidth=0.6)
            ax.plot(steps[width - 1:], smooth, color="#4c72b0")
        if stage == "student":  # the ends of the PKT stages
            for layer in range(1, work.config.num_layers + 1):
                ax.axvline(layer * work.config.transfer_steps, color="#dd8452",
                           linewidth=0.6, linestyle="--")
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
    fig.tight_layout()
    fileio.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def _nats(values: list[float] | None) -> str:
    """Per-layer values as `0.02 / 0.31 / ...`; `-` for a stage finished before they were
    measured."""
    return " / ".join(f"{v:.2f}" for v in values) if values else "-"


def write_summary(out: str, work: Pipeline) -> dict:
    r = work.results
    teacher, student = r["teacher"], r["student"]
    accuracy, export, latency = r["accuracy"], r["export"], r["latency"]
    lines = ["# MobileBERT demo: summary", "",
             f"Corpus: {r['corpus']['documents']} documents, {r['corpus']['words']:,} words; "
             f"vocab {r['vocab']['size']} WordPiece tokens; "
             f"{r['records']['train']['examples']:,} train / "
             f"{r['records']['heldout']['examples']:,} held-out sequences of "
             f"{work.config.seq_length}.", "",
             "| model | parameters (with MLM/NSP heads) | held-out MLM accuracy | "
             "attention KL from uniform, per layer (nats) |",
             "|---|---|---|---|",
             f"| teacher ({TEACHER_PRESET}, {work.config.num_layers} layers) | "
             f"{teacher['params']['total']:,} | {teacher['mlm_accuracy']:.4f} | "
             f"{_nats(teacher.get('attention_kl'))} |",
             f"| student ({STUDENT_PRESET}, PKT) | {student['params']['total']:,} | "
             f"{student['mlm_accuracy']:.4f} | {_nats(student.get('attention_kl'))} |", "",
             f"Sentiment (Rotten Tomatoes fresh/rotten), dev split of "
             f"{accuracy['examples']} snippets; best balanced-dev accuracy while fine-tuning "
             f"{r['finetune']['best_dev_accuracy']:.4f}.", "",
             "Every `.tflite` is runtime-ready: it loads unchanged in MediaPipe's "
             "`TextClassifier` and the TFLite Task Library's `BertNLClassifier` (metadata: "
             "inputs `ids`/`mask`/`segment_ids`, output `probability`, vocab and labels "
             f"packed), tokenizing text as the device does (`{work.config.text_normalization}`"
             " normalization, also used to fine-tune); `export/saved_model` takes raw "
             "strings (`serving_text`).", "",
             "| model | dev accuracy | agrees with Keras | MediaPipe from raw text: accuracy "
             "| agrees with Keras | file MB | size / float32 |",
             "|---|---|---|---|---|---|---|"]
    float_bytes = export["bytes"].get("float32")
    for name, value in accuracy["accuracy"].items():
        size = export["bytes"].get(name)
        on_device = accuracy.get("mediapipe", {}).get(name)
        lines.append(f"| {name} | {value:.4f} | "
                     + (f"{accuracy['agreement'][name]:.2%}" if name in accuracy["agreement"]
                        else "-") + " | "
                     + (f"{on_device['accuracy']:.4f} | {on_device['agreement']:.2%}"
                        if on_device else "- | -") + " | "
                     + (f"{size / 2**20:.2f} | {size / float_bytes:.2f}x" if size else "- | -")
                     + " |")
    lines += ["", f"Latency: LiteRT interpreter, XNNPACK, {latency['num_threads']} threads, "
              f"batch 1, {latency['rounds']} interleaved rounds (demo student at sequence "
              f"length {work.config.seq_length}; full-size models at 128, random weights).",
              "", "```", latency["table"], "```", "",
              "Plots: `summary/losses.png`, `latency/latency.png`."]
    text = "\n".join(lines) + "\n"
    summary = fileio.write_text(tf.io.gfile.join(out, "summary.md"), text)
    print("\n" + text)
    losses = plot_losses(work, tf.io.gfile.join(out, "losses.png"))
    return {"summary": summary, "losses_plot": losses}


def pretraining_stages(work: Pipeline) -> tuple[dict, dict, dict]:
    """Stages 1-4 (corpus, vocab, records, teacher), which `experiments/ablation.py` shares;
    returns the vocab's, records' and teacher's results."""
    config = work.config
    corpus = work.run("corpus", lambda out: build_corpus(out, config))
    vocab = work.run("vocab", lambda out: build_vocab(out, corpus["files"]["train"], config))
    records = work.run("records", lambda out: build_records(out, corpus, vocab["file"], config))
    teacher = work.run("teacher", lambda out: train_pretrainer(
        "teacher", teacher_config(out, records["train"]["pattern"], vocab["size"], config),
        records, config))
    return vocab, records, teacher


def run_demo(work_dir: str, config: DemoConfig, num_threads: int = 2) -> dict:
    """All stages in order (skipping finished ones), TFLite with `num_threads` threads;
    returns every stage's result."""
    work = Pipeline(work_dir, config, num_stages=len(STAGES) + 1)
    vocab, records, teacher = pretraining_stages(work)
    student = work.run("student", lambda out: train_pretrainer("student", student_config(
        out, records["train"]["pattern"], vocab["size"], teacher["checkpoint"], config),
        records, config))
    tuned = work.run("finetune", lambda out: finetune(out, student["checkpoint"], vocab,
                                                      config))
    export = work.run("export", lambda out: export_model(out, tuned["model"], vocab["file"],
                                                         config, num_threads))
    work.run("accuracy", lambda out: dev_accuracy(out, tuned["model"], export["files"],
                                                  vocab["file"], config, num_threads))
    work.run("latency", lambda out: time_latency(out, export["files"], config, num_threads))
    print(f"\n[{work.num_stages}/{work.num_stages}] summary", flush=True)
    tf.io.gfile.makedirs(work.dir("summary"))  # always rewritten
    work.results["summary"] = write_summary(work.dir("summary"), work)
    fileio.write_json(tf.io.gfile.join(work_dir, "summary.json"), work.results)
    return work.results


def main(argv):
    del argv
    config = SMOKE_CONFIG if FLAGS.smoke else DemoConfig()
    start = time.perf_counter()
    run_demo(FLAGS.work_dir, config, FLAGS.num_threads)
    print(f"Demo finished in {(time.perf_counter() - start) / 60:.1f} min; everything is in "
          f"{FLAGS.work_dir}/ (summary: {FLAGS.work_dir}/summary/summary.md).")


if __name__ == "__main__":
    define_flags()
    app.run(main)
