"""`BestTracker`: the dev evaluations of a fine-tuning run, their history and the best model
so far, all surviving a restart; `plot_history` draws the score over steps.

What it keeps in `model_dir`:
    eval_history.json                                every evaluation: step and metrics
    summaries/eval/                                  dev metrics per evaluation
    best/ckpt-N*, best/best.json                     the best score's model and metrics
"""

from __future__ import annotations

import math
import os
from typing import Callable

import tensorflow as tf
from absl import logging

from mobilebert_tf import fileio


class BestTracker:
    """Evaluates `model` with `evaluate` (`() -> (metrics, outputs)`), records the metrics and
    checkpoints the model whenever `score` improves. `tracker.evaluate(step)` is the
    training loop's evaluation hook.

    A restarted run keeps the evaluations up to its resumed step (later ones are redone) and
    the best model and score so far.
    """

    def __init__(self, model_dir: str, score: str, model, evaluate: Callable[[], tuple]):
        self.score, self._evaluate = score, evaluate
        self.best_dir = os.path.join(model_dir, "best")
        self.history_path = os.path.join(model_dir, "eval_history.json")
        self.checkpoint = tf.train.Checkpoint(model=model)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.best_dir, max_to_keep=1)
        self.writer = tf.summary.create_file_writer(os.path.join(model_dir, "summaries", "eval"))
        self.history, self.best_score, self.best_step = [], -math.inf, 0
        state = tf.train.get_checkpoint_state(model_dir)
        resumed_at = int(state.model_checkpoint_path.rsplit("-", 1)[1]) if state else 0
        if tf.io.gfile.exists(self.history_path):
            self.history = [h for h in fileio.read_json(self.history_path)
                            if h["step"] <= resumed_at]
        best_path = os.path.join(self.best_dir, "best.json")
        if tf.io.gfile.exists(best_path) and self.manager.latest_checkpoint:
            best = fileio.read_json(best_path)
            self.best_score, self.best_step = best["score"], best["step"]

    def evaluate(self, step: int) -> None:
        """Evaluate the model as it is at `step` and record the metrics."""
        self.record(step, self._evaluate()[0])

    def record(self, step: int, results: dict) -> None:
        score = results[self.score]
        self.history.append({"step": step, **results})
        fileio.write_json(self.history_path, self.history, indent=1)
        with self.writer.as_default(step=step):
            for name, value in results.items():
                tf.summary.scalar(f"dev/{name}", value)
        self.writer.flush()
        improved = score > self.best_score
        if improved:
            self.best_score, self.best_step = score, step
            self.manager.save(checkpoint_number=step)
            fileio.write_json(os.path.join(self.best_dir, "best.json"),
                              {"step": step, "score": score, "metrics": results}, indent=1)
        logging.info("dev @ step %d: %s%s", step,
                     ", ".join(f"{k} {v:.4f}" for k, v in results.items()),
                     " (best)" if improved else "")

    def restore_best(self) -> None:
        self.checkpoint.restore(self.manager.latest_checkpoint).expect_partial() \
            .assert_existing_objects_matched()


def plot_history(history: list, metric: str, path: str, title: str = "") -> str:
    """A PNG of `metric` over steps; returns `path`."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([h["step"] for h in history], [h[metric] for h in history], "o-", label=metric)
    ax.set_xlabel("step")
    ax.set_ylabel(f"dev {metric}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fileio.write_figure(fig, path, dpi=100)
    plt.close(fig)
    return path
