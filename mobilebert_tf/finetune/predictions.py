"""Prediction files in the official submission formats.

- GLUE (gluebenchmark.com): one `{Task}.tsv` per test set (`CoLA.tsv`, `SST-2.tsv`,
  `MNLI-m.tsv`, `MNLI-mm.tsv`, ...), a header `index\tprediction`, then one row per example
  with its index and the label *name* (`entailment`, `0`/`1`, ...), STS-B a score clipped to
  [0, 5].
- SQuAD: `predictions.json` `{question id: answer text}` ("" abstains in v2.0) and, for v2.0,
  `null_odds.json` `{question id: null score - best span score}` (the official script's
  `--na-prob-file`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mobilebert_tf import fileio


def glue_rows(labels: Sequence[str], predictions, is_regression: bool) -> list[str]:
    """The prediction column: label names for class ids, or `%.3f` scores in [0, 5]."""
    if is_regression:
        return [f"{float(np.clip(p, 0.0, 5.0)):.3f}" for p in predictions]
    return [labels[int(p)] for p in predictions]


def write_glue_tsv(path: str, indices: Sequence[int], predictions, labels: Sequence[str],
                   is_regression: bool = False) -> str:
    """Write a GLUE submission file; returns `path`."""
    if len(indices) != len(predictions):
        raise ValueError(f"{len(indices)} indices for {len(predictions)} predictions.")
    rows = glue_rows(labels, predictions, is_regression)
    return fileio.write_text(path, "".join(["index\tprediction\n"] + [
        f"{int(index)}\t{row}\n" for index, row in zip(indices, rows)]))


def example_indices(examples) -> list[int]:
    """GLUE's `index` of each example, kept in its guid (`"test-{index}"`) by both readers:
    tensorflow-datasets records come in any order, and a TSV row skipped as malformed must
    not shift the rows after it."""
    return [int(e.guid.rsplit("-", 1)[1]) for e in examples]

