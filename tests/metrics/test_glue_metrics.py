"""GLUE metrics against values worked out by hand from their definitions."""

import math

import pytest

from mobilebert_tf.metrics import (GLUE_METRICS, accuracy, f1, glue_metrics, glue_score,
                                   matthews_corrcoef, pearson, spearman)

PREDS = [1, 0, 1, 1, 0, 0]
LABELS = [1, 1, 1, 0, 0, 0]  # TP 2, FN 1, FP 1, TN 2


def test_classification_metrics():
    assert accuracy(PREDS, LABELS) == pytest.approx(4 / 6)
    assert f1(PREDS, LABELS) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (4 - 1) / 9
    assert matthews_corrcoef(PREDS, LABELS) == pytest.approx(1 / 3)
    assert matthews_corrcoef([1, 1, 1], [0, 1, 1]) == 0.0  # constant prediction
    assert f1([0, 0], [0, 0]) == 0.0  # no positive anywhere
    # Three classes: c = 3 correct of s = 4; pred counts (1, 1, 2), true counts (1, 2, 1):
    # (c s - p.t) / sqrt((s^2 - p.p)(s^2 - t.t)) = (12 - 5) / sqrt(10 * 10)
    assert matthews_corrcoef([0, 1, 2, 2], [0, 1, 1, 2]) == pytest.approx(0.7)


def test_correlations():
    # dx.dy = 6.5, |dx|^2 = 5, |dy|^2 = 8.75
    assert pearson([1, 2, 3, 4], [1, 2, 3, 5]) == pytest.approx(6.5 / math.sqrt(5 * 8.75))
    assert spearman([1, 2, 3, 4], [1, 2, 3, 5]) == pytest.approx(1.0)
    # Ties share the mean rank: ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4).
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))


def test_every_glue_task():
    assert set(GLUE_METRICS) >= {"cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte",
                                 "wnli"}
    assert glue_metrics("CoLA", PREDS, LABELS) == {"matthews_corrcoef": pytest.approx(1 / 3)}
    mrpc = glue_metrics("mrpc", PREDS, LABELS)
    assert mrpc == {"accuracy": pytest.approx(4 / 6), "f1": pytest.approx(2 / 3)}
    assert glue_score("mrpc", mrpc) == pytest.approx((4 / 6 + 2 / 3) / 2)
    assert set(glue_metrics("qqp", PREDS, LABELS)) == {"accuracy", "f1"}
    assert set(glue_metrics("stsb", [0.1, 2.5, 4.0], [0.0, 3.0, 5.0])) == {"pearson",
                                                                          "spearman"}
    for task in ("sst2", "mnli", "mnli_mismatched", "qnli", "rte", "wnli"):
        assert glue_metrics(task, PREDS, LABELS) == {"accuracy": pytest.approx(4 / 6)}


def test_bad_input():
    with pytest.raises(ValueError, match="Unknown GLUE task 'sst5'.*known"):
        glue_metrics("sst5", PREDS, LABELS)
    with pytest.raises(ValueError, match="1-D of the same length"):
        accuracy([[0.2, 0.8]], [1])
    with pytest.raises(ValueError, match="No predictions"):
        accuracy([], [])
