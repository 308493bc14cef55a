"""What fine-tuning does differently per kind of task, one object per kind: its head and
loss, its features and training dataset, its dev metrics and its submission files.

- `ClassificationKind`: GLUE classification and the sentiment task; softmax cross-entropy,
  argmax predictions, `{Task}.tsv` of label names.
- `RegressionKind`: STS-B; one output, squared error, `{Task}.tsv` of scores.
- `SpanKind`: SQuAD v1.1 / v2.0; start and end logits over windowed contexts, the official
  metrics, `predictions.json` (+ `null_odds.json` for v2.0).

`make_kind(task, tokenizer, seq_length, ...)` gives the task's. `finetune` (`run.py`) and the
exporter's calibration examples call these and never branch on the kind themselves.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from typing import Callable

import numpy as np
import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.data import squad
from mobilebert_tf.data.classification import classification_dataset, tokenize_examples
from mobilebert_tf.finetune import evaluation, predictions as writers
from mobilebert_tf.finetune.tasks import (DataSource, FinetuneTask, read_squad_split,
                                          read_text_split, squad_gold, subsample)
from mobilebert_tf.models import MobileBertClassifier, MobileBertSpanLabeler

Predict = Callable[[dict], object]  # model inputs -> outputs (`evaluation.Predictor`)


@dataclasses.dataclass
class TaskData:
    """A task's data, read and featurized before anything is built.

    Args:
        train: training rows (`TextExample`s, or SQuAD windows as `SquadFeature`s).
        evals: `{dev split: eval set}` (the examples, or a `evaluation.SquadEvalSet`).
        eval_inputs: `{dev split: model inputs}` of the eval sets, made once.
        tests: `{test split: examples}` predicted for submission.
    """

    train: list
    evals: dict
    eval_inputs: dict
    tests: dict


@dataclasses.dataclass(frozen=True)
class SampleSettings:
    """Seeded random subsets of the train and dev sets (smoke runs, the demo)."""

    max_train: int | None = None
    max_eval: int | None = None
    seed: int = 0
    balanced: bool = False


@dataclasses.dataclass(frozen=True)
class SpanSettings:
    """SQuAD windowing and answer selection (BERT's defaults)."""

    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0


class TaskKind(abc.ABC):
    """The interface of a kind; subclasses fill it in for a `FinetuneTask` tokenized by
    `tokenizer` (a `BertInputTokenizer`) at `seq_length`."""

    unit = "examples"  # what one training row is, for the log

    def __init__(self, task: FinetuneTask, tokenizer, seq_length: int):
        self.task, self.tokenizer, self.seq_length = task, tokenizer, seq_length

    @abc.abstractmethod
    def build_model(self, encoder, dropout: float):
        """The task model on `encoder`, built."""

    @staticmethod
    @abc.abstractmethod
    def loss(outputs, labels) -> dict:
        """`{name: (sum over this replica's sequences, "sequences")}` (`FinetuneTrainer`)."""

    @abc.abstractmethod
    def read_examples(self, split: str, source: DataSource) -> list | None:
        """The examples of `split` (None: an absent test split)."""

    @abc.abstractmethod
    def read(self, source: DataSource, sample: SampleSettings) -> TaskData:
        """Train, dev and test data, featurized."""

    @abc.abstractmethod
    def example_inputs(self, examples: list) -> dict[str, np.ndarray]:
        """Model inputs of one row per example (export calibration and checks)."""

    @abc.abstractmethod
    def batches(self, train: list, batch_size: int, seed: int) -> tf.data.Dataset:
        """Shuffled, repeated `(features, labels)` batches of `batch_size` training rows."""

    @abc.abstractmethod
    def metrics(self, eval_set, outputs) -> dict[str, float]:
        """Dev metrics of the model's `outputs` on `eval_set` (one of `TaskData.evals`)."""

    @abc.abstractmethod
    def write_predictions(self, out_dir: str, data: TaskData, dev_outputs: dict,
                          predict: Predict) -> dict[str, str]:
        """Submission files in `out_dir`; returns `{name: path}`."""

    def train_dataset(self, train: list, global_batch_size: int, seed: int, context,
                      resume) -> tf.data.Dataset:
        """This input pipeline's per-replica batches from `resume.step` on (the loop's
        `dataset_fn`). Every pipeline builds the one stream of per-replica batches (the rows
        are in memory) and takes every P-th, so any number of pipelines trains on the same
        global batches. Skipping costs time linear in the step (in memory, not records)."""
        batch_size = context.get_per_replica_batch_size(global_batch_size)
        dataset = self.batches(train, batch_size, seed)
        dataset = dataset.skip(resume.step * context.num_replicas_in_sync)
        return dataset.shard(context.num_input_pipelines, context.input_pipeline_id)

    def evaluate(self, data: TaskData, predict: Predict) -> tuple[dict, dict]:
        """`(metrics, {dev split: outputs})`: the first split's metrics as they are, the
        others' prefixed (MNLI: `mismatched_accuracy`)."""
        results, outputs_by_split = {}, {}
        for i, (split, inputs) in enumerate(data.eval_inputs.items()):
            outputs_by_split[split] = predict(inputs)
            values = self.metrics(data.evals[split], outputs_by_split[split])
            prefix = "" if i == 0 else split.replace("validation_", "") + "_"
            results.update({prefix + k: float(v) for k, v in values.items()})
        return results, outputs_by_split


class ClassificationKind(TaskKind):
    """Sentence(-pair) classification: `MobileBertClassifier` over the task's labels."""

    is_regression = False

    def num_outputs(self) -> int:
        return len(self.task.labels)

    def build_model(self, encoder, dropout: float):
        model = MobileBertClassifier(encoder, self.num_outputs(), dropout=dropout)
        model(model.example_inputs())
        return model

    @staticmethod
    def loss(outputs, labels) -> dict:
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
            tf.cast(labels, tf.int32), tf.cast(outputs, tf.float32))
        return {"cross_entropy": (tf.reduce_sum(loss), "sequences")}

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Class ids (argmax of the logits)."""
        return np.argmax(outputs, -1)

    def read_examples(self, split: str, source: DataSource) -> list | None:
        return read_text_split(self.task, split, source)

    def read(self, source: DataSource, sample: SampleSettings) -> TaskData:
        def read_sampled(split, n):
            return subsample(self.read_examples(split, source), n, sample.seed, sample.balanced)

        train = read_sampled("train", sample.max_train)
        evals = {s: read_sampled(s, sample.max_eval) for s in self.task.eval_splits}
        tests = {s: t for s in self.task.test_splits
                 if (t := self.read_examples(s, source)) is not None}
        return TaskData(train, evals, {s: self.example_inputs(e) for s, e in evals.items()},
                        tests)

    def example_inputs(self, examples: list) -> dict[str, np.ndarray]:
        return tokenize_examples(examples, self.tokenizer, self.seq_length)

    def batches(self, train: list, batch_size: int, seed: int) -> tf.data.Dataset:
        return classification_dataset(train, self.tokenizer, batch_size, self.seq_length,
                                      shuffle=True, seed=seed, repeat=True,
                                      drop_remainder=True, is_regression=self.is_regression)

    def metrics(self, eval_set, outputs) -> dict[str, float]:
        return evaluation.classification_metrics(self.task, self.predictions(outputs),
                                                 [e.label for e in eval_set])

    def write_predictions(self, out_dir: str, data: TaskData, dev_outputs: dict,
                          predict: Predict) -> dict[str, str]:
        """GLUE `{Task}.tsv` under `dev/` and (when there is a test file) `test/`."""
        names = dict(self.task.submission_names)
        outputs = {**dev_outputs, **{s: predict(self.example_inputs(examples))
                                     for s, examples in data.tests.items()}}
        files = {}
        for split, examples in {**data.evals, **data.tests}.items():
            kind = "test" if split.startswith("test") else "dev"
            path = os.path.join(out_dir, kind, f"{names.get(split, self.task.name)}.tsv")
            files[f"{split}_tsv"] = writers.write_glue_tsv(
                path, writers.example_indices(examples), self.predictions(outputs[split]),
                self.task.labels, self.is_regression)
        return files


class RegressionKind(ClassificationKind):
    """A score (STS-B): the classifier head with one output, squared error."""

    is_regression = True

    def num_outputs(self) -> int:
        return 1

    @staticmethod
    def loss(outputs, labels) -> dict:
        error = tf.square(tf.cast(outputs[:, 0], tf.float32) - tf.cast(labels, tf.float32))
        return {"squared_error": (tf.reduce_sum(error), "sequences")}

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """The scores."""
        return outputs[:, 0]


class SpanKind(TaskKind):
    """Extractive question answering (SQuAD): `MobileBertSpanLabeler` on context windows."""

    unit = "features"  # windows: a long context gives several

    def __init__(self, task: FinetuneTask, tokenizer, seq_length: int,
                 span: SpanSettings = SpanSettings()):
        super().__init__(task, tokenizer, seq_length)
        self.span = span

    def build_model(self, encoder, dropout: float):
        del dropout  # BERT's SQuAD head has no dropout of its own
        model = MobileBertSpanLabeler(encoder)
        model(model.example_inputs())
        return model

    @staticmethod
    def loss(outputs, labels) -> dict:
        """The mean of the start and end positions' cross-entropies (BERT's SQuAD loss)."""
        total = 0.0
        for key, label_key in (("start_logits", "start_positions"),
                               ("end_logits", "end_positions")):
            total += tf.nn.sparse_softmax_cross_entropy_with_logits(
                tf.cast(labels[label_key], tf.int32), tf.cast(outputs[key], tf.float32))
        return {"span_cross_entropy": (tf.reduce_sum(total) / 2.0, "sequences")}

    def features(self, examples: list) -> list[squad.SquadFeature]:
        return squad.create_squad_features(examples, self.tokenizer, self.seq_length,
                                           self.span.doc_stride, self.span.max_query_length)

    def read_examples(self, split: str, source: DataSource) -> list:
        return read_squad_split(self.task, split, source)[0]

    def read(self, source: DataSource, sample: SampleSettings) -> TaskData:
        train, _ = read_squad_split(self.task, "train", source)
        dev, gold = read_squad_split(self.task, "validation", source)
        if sample.max_eval:
            dev = subsample(dev, sample.max_eval, sample.seed)
            gold = squad_gold(dev)
        eval_set = evaluation.SquadEvalSet(dev, self.features(dev), gold)
        return TaskData(self.features(subsample(train, sample.max_train, sample.seed)),
                        {"validation": eval_set},
                        {"validation": squad.squad_inputs(eval_set.features)}, {})

    def example_inputs(self, examples: list) -> dict[str, np.ndarray]:
        """Each example's first window."""
        return squad.squad_inputs([f for f in self.features(examples)
                                   if f.window_index == 0])

    def batches(self, train: list, batch_size: int, seed: int) -> tf.data.Dataset:
        return squad.squad_dataset(train, batch_size, shuffle=True, seed=seed, repeat=True,
                                   drop_remainder=True)

    def answers(self, eval_set, outputs) -> tuple[dict, dict, dict | None]:
        """`(metrics, answers, null_odds)`: `evaluation.squad_evaluate` at these settings."""
        return evaluation.squad_evaluate(self.task, eval_set, outputs, self.span.n_best_size,
                                         self.span.max_answer_length,
                                         self.span.null_score_diff_threshold)

    def metrics(self, eval_set, outputs) -> dict[str, float]:
        return self.answers(eval_set, outputs)[0]

    def write_predictions(self, out_dir: str, data: TaskData, dev_outputs: dict,
                          predict: Predict) -> dict[str, str]:
        """`predictions.json` and, for v2.0, `null_odds.json` of the dev set."""
        del predict  # SQuAD has no test set to predict
        _, answers, null_odds = self.answers(data.evals["validation"],
                                             dev_outputs["validation"])
        files = {"predictions": fileio.write_json(os.path.join(out_dir, "predictions.json"),
                                                  answers)}
        if null_odds is not None:
            files["null_odds"] = fileio.write_json(os.path.join(out_dir, "null_odds.json"),
                                                   null_odds)
        return files


def make_kind(task: FinetuneTask, tokenizer, seq_length: int,
              span: SpanSettings = SpanSettings()) -> TaskKind:
    """The kind object of `task` (`span` settings apply to SQuAD tasks only)."""
    if task.kind == "span":
        return SpanKind(task, tokenizer, seq_length, span)
    return {"classification": ClassificationKind,
            "regression": RegressionKind}[task.kind](task, tokenizer, seq_length)
