"""GLUE metrics: the numbers the GLUE benchmark reports per task (its paper, table 1).

| task | metrics |          | task | metrics |
|---|---|---|---|---|
| cola | Matthews corr. |    | qqp | accuracy, F1 |
| sst2 | accuracy |          | mnli (matched / mismatched) | accuracy |
| mrpc | accuracy, F1 |      | qnli, rte, wnli | accuracy |
| stsb | Pearson, Spearman |

F1 is of the positive class (label 1: paraphrase / duplicate). The GLUE score of a task with two
metrics is their mean (`glue_score`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

GLUE_METRICS = {
    "cola": ("matthews_corrcoef",),
    "sst2": ("accuracy",),
    "mrpc": ("accuracy", "f1"),
    "stsb": ("pearson", "spearman"),
    "qqp": ("accuracy", "f1"),
    "mnli": ("accuracy",),
    "mnli_matched": ("accuracy",),
    "mnli_mismatched": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
}


def _pair(predictions, labels) -> tuple[np.ndarray, np.ndarray]:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or predictions.ndim != 1:
        raise ValueError(f"Predictions {predictions.shape} and labels {labels.shape} must be "
                         "1-D of the same length (pass class ids, not logits).")
    if predictions.size == 0:
        raise ValueError("No predictions to score.")
    return predictions, labels


def accuracy(predictions, labels) -> float:
    """Fraction of predictions equal to their label."""
    predictions, labels = _pair(predictions, labels)
    return float(np.mean(predictions == labels))


def f1(predictions, labels, positive=1) -> float:
    """F1 of the `positive` class: 2 TP / (2 TP + FP + FN); 0 when there is no positive."""
    predictions, labels = _pair(predictions, labels)
    tp = np.sum((predictions == positive) & (labels == positive))
    fp = np.sum((predictions == positive) & (labels != positive))
    fn = np.sum((predictions != positive) & (labels == positive))
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0


def matthews_corrcoef(predictions, labels) -> float:
    """Matthews correlation (multi-class form, Gorodkin 2004; the binary phi coefficient for
    two classes); 0 when either side is constant."""
    predictions, labels = _pair(predictions, labels)
    classes = np.union1d(predictions, labels)
    confusion = np.array([[np.sum((labels == t) & (predictions == p)) for p in classes]
                          for t in classes], np.float64)
    true_counts, pred_counts = confusion.sum(1), confusion.sum(0)
    correct, total = np.trace(confusion), confusion.sum()
    numerator = correct * total - pred_counts @ true_counts
    denominator = np.sqrt((total ** 2 - pred_counts @ pred_counts)
                          * (total ** 2 - true_counts @ true_counts))
    return float(numerator / denominator) if denominator else 0.0


def pearson(predictions, labels) -> float:
    predictions, labels = _pair(predictions, labels)
    return float(stats.pearsonr(predictions.astype(np.float64), labels.astype(np.float64))[0])


def spearman(predictions, labels) -> float:
    predictions, labels = _pair(predictions, labels)
    return float(stats.spearmanr(predictions, labels)[0])


_FUNCTIONS = {"accuracy": accuracy, "f1": f1, "matthews_corrcoef": matthews_corrcoef,
              "pearson": pearson, "spearman": spearman}


def _task(task: str) -> str:
    name = task.lower().replace("-", "_")
    if name not in GLUE_METRICS:
        raise ValueError(f"Unknown GLUE task {task!r}; known: {sorted(GLUE_METRICS)}.")
    return name


def glue_metrics(task: str, predictions, labels) -> dict[str, float]:
    """`{metric: value}` for `task`: class ids for classification, scores for stsb."""
    return {metric: _FUNCTIONS[metric](predictions, labels)
            for metric in GLUE_METRICS[_task(task)]}


def glue_score(task: str, metrics: dict[str, float]) -> float:
    """The task's single GLUE number: the mean of its metrics (what selects a best checkpoint)."""
    return float(np.mean([metrics[m] for m in GLUE_METRICS[_task(task)]]))
