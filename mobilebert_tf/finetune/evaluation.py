"""Dev-set evaluation during fine-tuning: distributed prediction in example order, and each
task's official metrics from those predictions."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from mobilebert_tf import metrics
from mobilebert_tf.data import squad
from mobilebert_tf.encoder import INPUT_KEYS
from mobilebert_tf.finetune.tasks import FinetuneTask


def predict(model, inputs: dict[str, np.ndarray], batch_size: int,
            strategy: tf.distribute.Strategy | None = None, predict_fn=None):
    """`model(inputs, training=False)` over all rows, as numpy in row order.

    Rows are padded to a whole number of global batches (static shapes for TPUs) and carry
    their index through `strategy.run`, so the replicas' shards are put back in order and
    the padding dropped, whatever the replica count.

    Args:
        predict_fn: a `tf.function` from a previous call, reused to avoid retracing.

    Returns:
        `(outputs, predict_fn)`: outputs with the model's structure, each `[n, ...]`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    n = len(next(iter(inputs.values())))
    padded = -(-n // batch_size) * batch_size
    columns = {k: np.concatenate([v, np.zeros((padded - n,) + v.shape[1:], v.dtype)])
               for k, v in inputs.items()}
    columns["index"] = np.concatenate([np.arange(n), -np.ones(padded - n, np.int64)])
    dataset = tf.data.Dataset.from_tensor_slices(columns).batch(batch_size, drop_remainder=True)
    if predict_fn is None:
        predict_fn = _predict_fn(model, strategy)

    def numpy(per_replica):
        return [x.numpy() for x in per_replica]

    all_indices, all_outputs = [], []
    for batch in strategy.experimental_distribute_dataset(dataset):
        indices, outputs = predict_fn(batch)
        all_indices.extend(numpy(indices))
        all_outputs.append({k: numpy(v) for k, v in outputs.items()}
                           if isinstance(outputs, dict) else numpy(outputs))
    index = np.concatenate(all_indices)
    order = np.argsort(index, kind="stable")[padded - n:]  # padding (-1) sorts first

    def gather(*per_batch):
        return np.concatenate([np.concatenate(parts) for parts in per_batch])[order]

    if isinstance(all_outputs[0], dict):
        result = {k: gather(*[o[k] for o in all_outputs]) for k in all_outputs[0]}
    else:
        result = gather(*all_outputs)
    return result, predict_fn


def _predict_fn(model, strategy: tf.distribute.Strategy):
    """`batch -> (indices, outputs)`, each as its replicas' local results."""
    @tf.function
    def predict_fn(batch):
        def replica_fn(batch):
            return batch["index"], model({k: batch[k] for k in INPUT_KEYS}, training=False)
        indices, outputs = strategy.run(replica_fn, args=(batch,))
        local = strategy.experimental_local_results
        if isinstance(outputs, dict):
            return local(indices), {k: local(v) for k, v in outputs.items()}
        return local(indices), local(outputs)

    return predict_fn


class Predictor:
    """`predictor(inputs)`: `predict` with the model, batch size and strategy fixed, traced
    once for every call."""

    def __init__(self, model, batch_size: int, strategy: tf.distribute.Strategy | None = None):
        self.model, self.batch_size, self.strategy = model, batch_size, strategy
        self._predict_fn = None

    def __call__(self, inputs: dict[str, np.ndarray]):
        outputs, self._predict_fn = predict(self.model, inputs, self.batch_size, self.strategy,
                                            self._predict_fn)
        return outputs


def classification_metrics(task: FinetuneTask, predictions, labels) -> dict[str, float]:
    """GLUE tasks: their GLUE metrics plus `glue_score`; the others (sentiment, word order):
    accuracy."""
    if not task.is_glue:
        return {"accuracy": metrics.accuracy(predictions, labels)}
    values = metrics.glue_metrics(task.name, predictions, labels)
    values["glue_score"] = metrics.glue_score(task.name, values)
    return values


@dataclasses.dataclass
class SquadEvalSet:
    """A SQuAD dev set ready to score: examples, windowed features, gold JSON."""

    examples: list
    features: list
    gold: dict


def squad_evaluate(task: FinetuneTask, eval_set: SquadEvalSet, outputs: dict,
                   n_best_size: int = 20, max_answer_length: int = 30,
                   null_score_diff_threshold: float = 0.0):
    """`(metrics, predictions, null_odds)` of span logits on a SQuAD dev set.

    v1.1: `exact_match`, `f1`. v2.0: the official script's keys with `null_odds` as the
    no-answer probabilities (`best_f1`, `best_f1_thresh`, ...); predictions are made at
    `null_score_diff_threshold`.
    """
    v2 = task.squad_version == "v2.0"
    spans = squad.best_spans(eval_set.examples, eval_set.features, outputs["start_logits"],
                             outputs["end_logits"], n_best_size, max_answer_length)
    predictions = {qas_id: span.answer(v2, null_score_diff_threshold)
                   for qas_id, span in spans.items()}
    if not v2:
        return metrics.squad_v1_metrics(eval_set.gold, predictions), predictions, None
    null_odds = {qas_id: span.null_odds for qas_id, span in spans.items()}
    # Questions the data layer dropped (misaligned answers) are scored as abstentions.
    golds = metrics.squad.gold_answers(eval_set.gold)
    for qid in golds:
        predictions.setdefault(qid, "")
        null_odds.setdefault(qid, 0.0)
    # The official script thresholds na_probs at 1.0 by default; null_odds are score
    # differences, so the plain EM/F1 use the predictions as made (threshold +inf).
    values = metrics.squad_v2_metrics(eval_set.gold, predictions, null_odds,
                                      na_prob_threshold=np.inf)
    return values, predictions, null_odds
