"""`FinetuneTask`: what each fine-tuning task is (head, labels, splits, metric, default
hyper-parameters) and where its examples come from.

Default hyper-parameters. SQuAD follows the authors' README (GR): LR 4e-5, 5 epochs, batch 32,
seq 384, 10% warm-up. GR publishes no per-task GLUE values, so the GLUE defaults are picked
inside BERT's fine-tuning grid (LR {2, 3, 5}e-5, 2-4 epochs, batch 16/32), seq 128, 10%
warm-up: large sets (MNLI, QQP, QNLI, SST-2) take the gentler 3e-5 x 3 epochs, small sets
(CoLA, MRPC, STS-B) 5e-5 x 4 epochs, RTE 3e-5 x 4 at batch 16, WNLI (where the majority class
is the usual best) 2e-5 x 2. They are starting points for a search, not tuned results.

| task | head | dev metric(s) | score that picks the best checkpoint | LR | epochs | batch | seq |
|---|---|---|---|---|---|---|---|
| cola | 2 classes | Matthews corr. | glue_score | 5e-5 | 4 | 32 | 128 |
| sst2 | 2 | accuracy | glue_score | 3e-5 | 3 | 32 | 128 |
| mrpc | 2 | accuracy, F1 | glue_score (mean) | 5e-5 | 4 | 32 | 128 |
| stsb | regression | Pearson, Spearman | glue_score (mean) | 5e-5 | 4 | 32 | 128 |
| qqp | 2 | accuracy, F1 | glue_score (mean) | 3e-5 | 3 | 32 | 128 |
| mnli | 3 | accuracy (matched, mismatched) | glue_score (matched) | 3e-5 | 3 | 32 | 128 |
| qnli | 2 | accuracy | glue_score | 3e-5 | 3 | 32 | 128 |
| rte | 2 | accuracy | glue_score | 3e-5 | 4 | 16 | 128 |
| wnli | 2 | accuracy | glue_score | 2e-5 | 2 | 16 | 128 |
| squad_v1.1 | span | EM, F1 | f1 | 4e-5 | 5 | 32 | 384 |
| squad_v2.0 | span | EM, F1, best thresholds | best_f1 | 4e-5 | 5 | 32 | 384 |
| sentiment | 2 (rotten/fresh) | accuracy | accuracy | 5e-5 | 3 | 32 | 128 |
| word_order | 2 (swapped/original) | accuracy | accuracy | 5e-5 | 3 | 32 | 128 |

`word_order` (`mobilebert_tf.data.word_order`) needs word order to be solved: a sentence as
written or with two adjacent words swapped; its `data_dir` holds the files
`data.word_order.write_word_order_data` writes (the demo makes them from its held-out text).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random

import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.data import glue, sentiment, squad, word_order
from mobilebert_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class FinetuneTask:
    """One fine-tuning task.

    Args:
        name: the `task` name.
        kind: "classification", "regression" or "span" (`finetune.kinds` holds what each
            kind does).
        labels: label names in class-id order (what the submission file writes).
        eval_splits: dev splits evaluated during training; the first one gives the score.
        test_splits: unlabelled splits predicted for submission (`submission_names` gives each
            one's file name).
        score: the metric that selects the best checkpoint.
        learning_rate, epochs, batch_size, seq_length: default hyper-parameters.
        submission_names: `{split: file stem}` of the submission files.
        squad_version: "v1.1" or "v2.0" for the SQuAD tasks.
    """

    name: str
    kind: str
    labels: tuple[str, ...]
    eval_splits: tuple[str, ...]
    test_splits: tuple[str, ...]
    score: str
    learning_rate: float
    epochs: float
    batch_size: int = 32
    seq_length: int = 128
    submission_names: tuple[tuple[str, str], ...] = ()
    squad_version: str | None = None

    @property
    def is_glue(self) -> bool:
        return self.name in glue.GLUE_TASKS


_GLUE_DEFAULTS = {  # name: (learning rate, epochs, batch size, submission file stem)
    "cola": (5e-5, 4, 32, "CoLA"), "sst2": (3e-5, 3, 32, "SST-2"),
    "mrpc": (5e-5, 4, 32, "MRPC"), "stsb": (5e-5, 4, 32, "STS-B"),
    "qqp": (3e-5, 3, 32, "QQP"), "mnli": (3e-5, 3, 32, "MNLI"), "qnli": (3e-5, 3, 32, "QNLI"),
    "rte": (3e-5, 4, 16, "RTE"), "wnli": (2e-5, 2, 16, "WNLI"),
}


def _glue_task(name: str) -> FinetuneTask:
    spec = glue.GLUE_TASKS[name]
    lr, epochs, batch, stem = _GLUE_DEFAULTS[name]
    if name == "mnli":
        evals, tests = ("validation_matched", "validation_mismatched"), ("test_matched",
                                                                          "test_mismatched")
        names = (("validation_matched", "MNLI-m"), ("validation_mismatched", "MNLI-mm"),
                 ("test_matched", "MNLI-m"), ("test_mismatched", "MNLI-mm"))
    else:
        evals, tests = ("validation",), ("test",)
        names = (("validation", stem), ("test", stem))
    return FinetuneTask(name, "regression" if spec.is_regression else "classification",
                        spec.labels, evals, tests, "glue_score", lr, epochs, batch, 128, names)


TASKS: dict[str, FinetuneTask] = {
    **{name: _glue_task(name) for name in glue.GLUE_TASKS},
    **{f"squad_{v}": FinetuneTask(f"squad_{v}", "span", (), ("validation",), (),
                                  "f1" if v == "v1.1" else "best_f1", 4e-5, 5, 32, 384,
                                  squad_version=v)
       for v in ("v1.1", "v2.0")},
    "sentiment": FinetuneTask("sentiment", "classification", sentiment.LABELS,
                              ("validation",), (), "accuracy", 5e-5, 3, 32, 128,
                              (("validation", "sentiment"),)),
    "word_order": FinetuneTask("word_order", "classification", word_order.LABELS,
                               ("validation",), (), "accuracy", 5e-5, 3, 32, 128,
                               (("validation", "word_order"),)),
}


def get_task(name: str) -> FinetuneTask:
    """The task called `name` (case-insensitive; "SST-2" and "STS-B" spellings accepted).

    Raises:
        InputError: unknown name, listing the tasks.
    """
    key = (name or "").lower()
    key = key if key in TASKS else key.replace("-", "")
    if key not in TASKS:
        raise InputError(f"Unknown fine-tuning task {name!r}; known tasks: "
                         f"{', '.join(TASKS)}.")
    return TASKS[key]


# --- Examples -------------------------------------------------------------------------------

def squad_file(data_dir: str, version: str, split: str) -> str:
    """`{data_dir}/train-v1.1.json` or `dev-v1.1.json` (v2.0 likewise), the official names."""
    return tf.io.gfile.join(data_dir, f"{'train' if split == 'train' else 'dev'}-{version}.json")


def read_squad_checked(path: str) -> dict:
    """The raw SQuAD JSON of `path`, with every question checked for an `answers` list.

    The data layer skips an answerable question without `answers` silently; training on a
    file that lost its labels that way would be a silent failure, so it is an error here.

    Raises:
        InputError: missing file, not JSON, or a question without `answers`.
    """
    try:
        data = fileio.read_json(path)
    except FileNotFoundError:
        raise InputError(f"No SQuAD file {path} (expected the official file names "
                         "train-v1.1.json / dev-v1.1.json, or -v2.0).") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path} is not UTF-8 JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise InputError(f"{path}: not SQuAD JSON (no top-level 'data' list).")
    for article in data["data"]:
        for paragraph in article.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                if not isinstance(qa.get("answers"), list):
                    raise InputError(
                        f"{path}: question {qa.get('id')!r} has no 'answers' list (SQuAD needs "
                        "one per question; an unanswerable v2.0 question has an empty list).")
    return data


def squad_gold(examples) -> dict:
    """A SQuAD-JSON-shaped `{"data": ...}` of `examples`' gold answers, for the metrics
    (used with tensorflow-datasets, where no original file is at hand)."""
    qas = [{"id": e.qas_id, "answers": [{"text": t} for t, _ in e.answers]} for e in examples]
    return {"data": [{"paragraphs": [{"qas": qas}]}]}


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Where a task's examples are read from: official files in `data_dir`, or
    tensorflow-datasets (`use_tfds`, with its `tfds_data_dir` and `tfds_manual_dir`). The
    sentiment task reads its own packaged data and needs neither."""

    data_dir: str | None = None
    use_tfds: bool = False
    tfds_data_dir: str | None = None
    tfds_manual_dir: str | None = None

    def check_dir(self, task: FinetuneTask) -> str:
        """`data_dir`, or InputError when it is unset or not a directory."""
        if not self.data_dir:
            raise InputError(f"Task {task.name!r} reads local files: set data_dir (or "
                             "use_tfds).")
        if not tf.io.gfile.isdir(self.data_dir):
            raise InputError(f"data_dir={self.data_dir!r} is not a directory.")
        return self.data_dir


@contextlib.contextmanager
def _reading(task: FinetuneTask, split: str):
    """The data layer's errors as InputError naming the task and split."""
    try:
        yield
    except InputError:
        raise
    except (ValueError, KeyError, OSError) as e:
        raise InputError(f"Reading {task.name} {split}: {e}") from e


def read_text_split(task: FinetuneTask, split: str, source: DataSource):
    """`TextExample`s of one split of a GLUE or the sentiment task; None for a test split
    whose file is absent (nothing to submit).

    Raises:
        InputError: missing data directory or file, or malformed data.
    """
    with _reading(task, split):
        if task.name == "sentiment":
            return sentiment.read_rotten_tomatoes(split)
        if task.name == "word_order":
            return word_order.read_word_order(source.check_dir(task), split)
        if source.use_tfds:
            return glue.read_glue_tfds(task.name, split, source.tfds_data_dir,
                                       source.tfds_manual_dir)
        data_dir = source.check_dir(task)
        path = glue.tsv_file(glue.GLUE_TASKS[task.name], data_dir, split)
        if not tf.io.gfile.exists(path):
            if split.startswith("test"):
                return None
            raise InputError(f"No {task.name} {split} file {path}.")
        return glue.read_glue_tsv(task.name, data_dir, split)


def read_squad_split(task: FinetuneTask, split: str, source: DataSource):
    """`(SquadExample list, gold answers as SQuAD JSON)` of one split of a SQuAD task.

    Raises:
        InputError: missing data directory or file, or malformed data.
    """
    with _reading(task, split):
        if source.use_tfds:
            tfds_split = "train" if split == "train" else "validation"
            examples = squad.read_squad_tfds(task.squad_version, tfds_split,
                                             source.tfds_data_dir, source.tfds_manual_dir)
            return examples, squad_gold(examples)
        path = squad_file(source.check_dir(task), task.squad_version, split)
        raw = read_squad_checked(path)
        return squad.examples_from_squad_dict(raw, path), raw


def subsample(examples: list, n: int | None, seed: int, balanced: bool = False) -> list:
    """A seeded random subset of `n` examples, class-balanced if asked, in file order."""
    if n is None or n >= len(examples) and not balanced:
        return examples
    rng = random.Random(seed)
    if not balanced:
        keep = set(rng.sample(range(len(examples)), n))
    else:
        by_label: dict = {}
        for i, e in enumerate(examples):
            by_label.setdefault(e.label, []).append(i)
        per_class = min(min(len(v) for v in by_label.values()), n // len(by_label))
        keep = {i for v in by_label.values() for i in rng.sample(v, per_class)}
    return [e for i, e in enumerate(examples) if i in keep]
