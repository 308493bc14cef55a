"""SQuAD v1.1 and v2.0 scoring, as the official evaluation scripts define it.

Both versions normalize an answer the same way: lower-case, delete ASCII punctuation
(`string.punctuation`), delete the articles "a", "an", "the" as whole words, collapse white
space. Exact match compares normalized strings; F1 is the harmonic mean of precision and
recall of the normalized tokens (a multiset overlap); a question scores the max over its gold
answers, and the totals are percentages.

Where the versions differ:
- v1.1: every question has gold answers; a question with no prediction scores 0 and counts
  in the total; F1 of two empty token lists is 0.
- v2.0: gold answers that normalize to "" are dropped and a question left with none is
  unanswerable, scored against the empty answer (predict "" to abstain); F1 is 1 when both
  sides are empty and 0 when only one is; every question needs a prediction. With no-answer
  probabilities, an answer whose probability exceeds the threshold counts as "" and the best
  threshold for EM and for F1 is searched (`best_null_threshold`).
"""

from __future__ import annotations

import collections
import re
import string

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> int:
    return int(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str, version: str = "v2.0") -> float:
    """Token-overlap F1 of one prediction against one gold answer."""
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if version == "v2.0" and (not pred_tokens or not gold_tokens):
        return float(pred_tokens == gold_tokens)
    common = sum((collections.Counter(pred_tokens) & collections.Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def gold_answers(dataset) -> dict[str, list[str]]:
    """`{question id: [gold answer texts]}` from a SQuAD json (`{"data": [...]}`) or its
    `data` list. Raises ValueError for a question without an `answers` field."""
    articles = dataset["data"] if isinstance(dataset, dict) else dataset
    golds = {}
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if "answers" not in qa:
                    raise ValueError(f"SQuAD question {qa.get('id')!r} has no 'answers' field "
                                     "(an unanswerable v2.0 question has an empty list).")
                golds[qa["id"]] = [answer["text"] for answer in qa["answers"]]
    if not golds:
        raise ValueError("The SQuAD dataset holds no questions.")
    return golds


def squad_v1_metrics(dataset, predictions: dict[str, str]) -> dict[str, float]:
    """`{"exact_match", "f1"}` in percent, as `evaluate-v1.1.py` prints them."""
    golds = gold_answers(dataset)
    exact = f1_total = 0.0
    for qid, answers in golds.items():
        if qid not in predictions:
            continue  # unanswered: scores 0, still counted
        if not answers:
            raise ValueError(f"SQuAD v1.1 question {qid!r} has no gold answer; use "
                             "squad_v2_metrics for data with unanswerable questions.")
        exact += max(exact_match(predictions[qid], gold) for gold in answers)
        f1_total += max(token_f1(predictions[qid], gold, "v1.1") for gold in answers)
    return {"exact_match": 100.0 * exact / len(golds), "f1": 100.0 * f1_total / len(golds)}


def _v2_raw_scores(golds, predictions):
    exact, f1 = {}, {}
    for qid, answers in golds.items():
        answers = [a for a in answers if normalize_answer(a)] or [""]
        exact[qid] = max(exact_match(predictions[qid], a) for a in answers)
        f1[qid] = max(token_f1(predictions[qid], a, "v2.0") for a in answers)
    return exact, f1


def best_null_threshold(scores: dict[str, float], predictions: dict[str, str],
                        na_probs: dict[str, float], has_answer: dict[str, bool]
                        ) -> tuple[float, float]:
    """`(best score in percent, threshold)`: the no-answer threshold that maximizes the total
    of `scores` (per-question EM or F1 of the predictions as given).

    Start from abstaining everywhere (each unanswerable question scores 1), then stop
    abstaining on questions in increasing order of no-answer probability: an answerable one
    gains its score, an unanswerable one loses 1 if a non-empty answer was predicted. The
    best running total, and the probability at which it is reached, win (the first on ties).
    """
    current = best = sum(1 for qid in scores if not has_answer[qid])
    threshold = 0.0
    for qid in sorted(na_probs, key=na_probs.__getitem__):
        if qid not in scores:
            continue
        if has_answer[qid]:
            current += scores[qid]
        elif predictions[qid]:
            current -= 1
        if current > best:
            best, threshold = current, na_probs[qid]
    return 100.0 * best / len(scores), threshold


def squad_v2_metrics(dataset, predictions: dict[str, str],
                     na_probs: dict[str, float] | None = None,
                     na_prob_threshold: float = 1.0) -> dict[str, float]:
    """The keys `evaluate-v2.0.py` prints: `exact`, `f1`, `total`, `HasAns_*`, `NoAns_*`,
    and with `na_probs` also `best_exact`, `best_exact_thresh`, `best_f1`, `best_f1_thresh`.

    Answers whose no-answer probability exceeds `na_prob_threshold` count as "".
    """
    golds = gold_answers(dataset)
    missing = sorted(set(golds) - set(predictions))
    if missing:
        raise ValueError(f"No prediction for {len(missing)} question(s), e.g. {missing[:5]}; "
                         "SQuAD v2.0 scores every question (predict \"\" to abstain).")
    has_answer = {qid: any(normalize_answer(a) for a in answers) for qid, answers in golds.items()}
    exact_raw, f1_raw = _v2_raw_scores(golds, predictions)
    probs = na_probs if na_probs is not None else {qid: 0.0 for qid in golds}

    def thresholded(raw):
        return {qid: float(not has_answer[qid]) if probs[qid] > na_prob_threshold else value
                for qid, value in raw.items()}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)
    result = {"exact": 100.0 * sum(exact.values()) / len(exact),
              "f1": 100.0 * sum(f1.values()) / len(f1), "total": len(exact)}
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        ids = [qid for qid in golds if has_answer[qid] == wanted]
        if ids:
            result[f"{prefix}_exact"] = 100.0 * sum(exact[q] for q in ids) / len(ids)
            result[f"{prefix}_f1"] = 100.0 * sum(f1[q] for q in ids) / len(ids)
            result[f"{prefix}_total"] = len(ids)
    if na_probs is not None:
        result["best_exact"], result["best_exact_thresh"] = best_null_threshold(
            exact_raw, predictions, na_probs, has_answer)
        result["best_f1"], result["best_f1_thresh"] = best_null_threshold(
            f1_raw, predictions, na_probs, has_answer)
    return result
