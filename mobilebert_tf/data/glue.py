"""The nine GLUE tasks, from the original TSV files or through tensorflow-datasets.

Both sources give the same `TextExample`s with tensorflow-datasets' label numbering, so a
model fine-tuned on one evaluates on the other. Local layout: `{data_dir}/train.tsv`,
`dev.tsv` (MNLI: `dev_matched.tsv`, `dev_mismatched.tsv`), `test.tsv` (MNLI:
`test_matched.tsv`, `test_mismatched.tsv`), as the GLUE download unpacks them.
"""

from __future__ import annotations

import dataclasses
import os

from absl import logging

from mobilebert_tf import fileio
from mobilebert_tf.data.classification import TextExample
from mobilebert_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """How one GLUE task is laid out.

    Args:
        name: task name, also the tensorflow-datasets config (`glue/{name}`).
        text_a / text_b: TSV column names of the texts (text_b None for single sentences).
        label: TSV column name of the label.
        tfds_a / tfds_b: the same fields' names in tensorflow-datasets.
        labels: label strings in tensorflow-datasets' order (index = class id); empty for
            regression.
        header: column names to assume when the TSV train/dev files have no header row.
    """

    name: str
    text_a: str
    text_b: str | None
    label: str
    tfds_a: str
    tfds_b: str | None
    labels: tuple[str, ...]
    header: tuple[str, ...] | None = None

    @property
    def is_regression(self) -> bool:
        return not self.labels

    @property
    def num_classes(self) -> int:
        return len(self.labels) or 1

    @property
    def splits(self) -> tuple[str, ...]:
        if self.name == "mnli":
            return ("train", "validation_matched", "validation_mismatched", "test_matched",
                    "test_mismatched")
        return ("train", "validation", "test")


GLUE_TASKS = {t.name: t for t in [
    GlueTask("cola", "sentence", None, "label", "sentence", None, ("0", "1"),
             header=("source", "label", "original_label", "sentence")),
    GlueTask("sst2", "sentence", None, "label", "sentence", None, ("0", "1")),
    GlueTask("mrpc", "#1 String", "#2 String", "Quality", "sentence1", "sentence2", ("0", "1")),
    GlueTask("stsb", "sentence1", "sentence2", "score", "sentence1", "sentence2", ()),
    GlueTask("qqp", "question1", "question2", "is_duplicate", "question1", "question2",
             ("0", "1")),
    GlueTask("mnli", "sentence1", "sentence2", "gold_label", "premise", "hypothesis",
             ("entailment", "neutral", "contradiction")),
    GlueTask("qnli", "question", "sentence", "label", "question", "sentence",
             ("entailment", "not_entailment")),
    GlueTask("rte", "sentence1", "sentence2", "label", "sentence1", "sentence2",
             ("entailment", "not_entailment")),
    GlueTask("wnli", "sentence1", "sentence2", "label", "sentence1", "sentence2", ("0", "1")),
]}


def get_task(name: str) -> GlueTask:
    """Raises ValueError naming the known tasks for an unknown name."""
    try:
        return GLUE_TASKS[name.lower()]
    except KeyError:
        raise InputError(f"Unknown GLUE task {name!r}; known: {sorted(GLUE_TASKS)}.") from None


def _check_split(task: GlueTask, split: str):
    if split not in task.splits:
        raise InputError(f"{task.name} has splits {list(task.splits)}, not {split!r}.")


def tsv_file(task: GlueTask, data_dir: str, split: str) -> str:
    """The TSV file of a split (`validation` -> `dev.tsv`)."""
    _check_split(task, split)
    name = split.replace("validation", "dev")
    return os.path.join(data_dir, f"{name}.tsv")


def read_glue_tsv(task: str | GlueTask, data_dir: str, split: str) -> list[TextExample]:
    """Reads one split of a GLUE task from its original TSV file.

    Test files have no labels: their examples get label -1. Rows with the wrong number of
    fields (a few dozen in QQP's train file) are skipped and counted in the log.

    Raises:
        InputError: unknown task or split, missing columns, a label outside the task's
            label set or a score that is not a number (naming file and line).
    """
    task = get_task(task) if isinstance(task, str) else task
    path = tsv_file(task, data_dir, split)
    lines = fileio.read_text(path).splitlines()
    header = lines[0].split("\t") if lines else []
    first = 1
    if task.header and task.text_a not in header:
        header, first = list(task.header), 0  # CoLA train/dev have no header row.
    needed = [task.text_a] + ([task.text_b] if task.text_b else [])
    missing = [c for c in needed if c not in header]
    if missing:
        raise InputError(f"{path}: no column {missing} in header {header}.")
    col = {name: header.index(name) for name in header}
    index = col.get("index", col.get("id"))  # GLUE's row number (QQP names it `id`)
    has_label = task.label in col and not split.startswith("test")
    examples, skipped = [], 0
    for line_no, line in enumerate(lines[first:], start=first + 1):
        fields = line.split("\t")
        if len(fields) != len(header):
            skipped += 1
            continue
        label: int | float = -1
        if has_label:
            value = fields[col[task.label]].strip()
            if task.is_regression:
                try:
                    label = float(value)
                except ValueError:
                    raise InputError(
                        f"{path}:{line_no}: score {value!r} is not a number.") from None
            elif value in task.labels:
                label = task.labels.index(value)
            else:
                raise InputError(f"{path}:{line_no}: label {value!r} is not one of "
                                 f"{list(task.labels)}.")
        row = fields[index] if index is not None else len(examples)
        examples.append(TextExample(
            f"{split}-{row}", fields[col[task.text_a]],
            fields[col[task.text_b]] if task.text_b else None, label))
    if skipped:
        logging.warning("%s: skipped %d malformed rows.", path, skipped)
    return examples


def examples_from_tfds_records(task: str | GlueTask, records, split: str) -> list[TextExample]:
    """`TextExample`s from tensorflow-datasets GLUE records (dicts of numpy values).

    Args:
        task: task name or `GlueTask`.
        records: iterable of dicts as `tfds.as_numpy` yields them (`idx`, `label`, texts).
        split: used in the guids.
    """
    task = get_task(task) if isinstance(task, str) else task

    def text(value) -> str:
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    out = []
    for r in records:
        label = float(r["label"]) if task.is_regression else int(r["label"])
        out.append(TextExample(f"{split}-{int(r['idx'])}", text(r[task.tfds_a]),
                               text(r[task.tfds_b]) if task.tfds_b else None, label))
    return out


def read_glue_tfds(task: str | GlueTask, split: str, data_dir: str | None = None,
                   manual_dir: str | None = None) -> list[TextExample]:
    """Reads a GLUE split through tensorflow-datasets (`glue/{task}`).

    Offline use: place the original GLUE archive (e.g. `SST-2.zip`) in `manual_dir`;
    tensorflow-datasets checks it against its registered checksum and prepares the dataset in
    `data_dir` once.

    Raises:
        ValueError: unknown task or split.
    """
    import tensorflow_datasets as tfds

    task = get_task(task) if isinstance(task, str) else task
    _check_split(task, split)
    builder = tfds.builder(f"glue/{task.name}", data_dir=data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    return examples_from_tfds_records(task, tfds.as_numpy(dataset), split)
