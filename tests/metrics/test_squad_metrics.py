"""SQuAD v1.1 / v2.0 scoring on small fixed prediction files, expected values worked out by
hand from the official scripts' definitions (normalization, token F1, max over gold answers,
no-answer threshold)."""

import json

import pytest

from mobilebert_tf.metrics import (best_null_threshold, exact_match, normalize_answer,
                                   squad_v1_metrics, squad_v2_metrics, token_f1)


def _dataset(questions):
    qas = [{"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in golds]}
           for qid, golds in questions.items()]
    return {"version": "test", "data": [{"title": "t", "paragraphs": [{"context": "c",
                                                                       "qas": qas}]}]}


def _write_and_read(tmp_path, name, obj):  # score what a file holds, as the scripts do
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return json.loads(path.read_text())


def test_normalization():
    assert normalize_answer("The  Cat, a hat & AN apple.") == "cat hat apple"
    assert normalize_answer("theater") == "theater"  # articles only as whole words
    assert normalize_answer("Eiffel's  tower!") == "eiffels tower"
    assert normalize_answer("  ") == ""
    assert exact_match("the Eiffel Tower", "Eiffel tower.") == 1
    assert token_f1("in 1889", "1889") == pytest.approx(2 / 3)  # P 1/2, R 1
    assert token_f1("", "", "v2.0") == 1.0 and token_f1("", "", "v1.1") == 0.0
    assert token_f1("a", "the", "v2.0") == 1.0  # both normalize to nothing


def test_squad_v1(tmp_path):
    dataset = _write_and_read(tmp_path, "dev-v1.1.json", _dataset({
        "q1": ["the Eiffel Tower", "Eiffel Tower in Paris"],
        "q2": ["1889"],
        "q3": ["Gustave Eiffel's company", "Gustave Eiffel"],
        "q4": ["Paris"]}))
    predictions = _write_and_read(tmp_path, "predictions.json", {
        "q1": "Eiffel tower!",                   # EM 1, F1 1
        "q2": "in 1889",                         # EM 0, F1 2/3
        "q3": "the company of Gustave Eiffel",   # F1 max(4/7, 2/3) = 2/3
    })                                           # q4 unanswered: 0, still counted
    result = squad_v1_metrics(dataset, predictions)
    assert result == {"exact_match": pytest.approx(25.0),
                      "f1": pytest.approx(100 * (1 + 2 / 3 + 2 / 3) / 4)}


V2_QUESTIONS = {
    "a1": ["Denver Broncos"],
    "a2": ["Carolina Panthers", "the Panthers"],
    "u1": [],
    "u2": [],
    "u3": ["the"],  # normalizes to "": unanswerable
}
V2_PREDICTIONS = {"a1": "Denver Broncos", "a2": "Carolina", "u1": "", "u2": "Super Bowl",
                  "u3": ""}
# Raw scores: EM a1 1, a2 0, u1 1, u2 0, u3 1; F1 the same except a2 = 2/3.
V2_NA_PROBS = {"a1": 0.1, "a2": 0.2, "u2": 0.3, "u3": 0.8, "u1": 0.9}


def test_squad_v2_without_probabilities(tmp_path):
    dataset = _write_and_read(tmp_path, "dev-v2.0.json", _dataset(V2_QUESTIONS))
    result = squad_v2_metrics(dataset, _write_and_read(tmp_path, "p.json", V2_PREDICTIONS))
    assert result == pytest.approx({
        "exact": 60.0, "f1": 100 * (3 + 2 / 3) / 5, "total": 5,
        "HasAns_exact": 50.0, "HasAns_f1": 100 * (1 + 2 / 3) / 2, "HasAns_total": 2,
        "NoAns_exact": 100 * 2 / 3, "NoAns_f1": 100 * 2 / 3, "NoAns_total": 3})


def test_squad_v2_threshold_and_best_threshold():
    dataset = _dataset(V2_QUESTIONS)
    result = squad_v2_metrics(dataset, V2_PREDICTIONS, V2_NA_PROBS, na_prob_threshold=0.15)
    # Above 0.15 an answer counts as "": a2 -> 0, u2 -> 1; a1 (0.1) keeps its answer.
    assert result["exact"] == pytest.approx(80.0) and result["f1"] == pytest.approx(80.0)
    assert result["HasAns_exact"] == pytest.approx(50.0)
    assert result["NoAns_exact"] == pytest.approx(100.0)
    # Best threshold: abstain everywhere = 3 (the unanswerable ones); answer a1 (0.1): 4;
    # a2 (0.2): EM 4 (no gain, first best kept), F1 4 + 2/3; u2 (0.3): -1; u3, u1: +0.
    assert result["best_exact"] == pytest.approx(80.0)
    assert result["best_exact_thresh"] == pytest.approx(0.1)
    assert result["best_f1"] == pytest.approx(100 * (4 + 2 / 3) / 5)
    assert result["best_f1_thresh"] == pytest.approx(0.2)
    # Default threshold 1.0 changes nothing.
    plain = squad_v2_metrics(dataset, V2_PREDICTIONS, V2_NA_PROBS)
    assert plain["exact"] == pytest.approx(60.0)
    assert best_null_threshold({"x": 1.0}, {"x": "y"}, {"x": 0.5}, {"x": True}) == (100.0, 0.5)


def test_bad_squad_input():
    dataset = _dataset(V2_QUESTIONS)
    del dataset["data"][0]["paragraphs"][0]["qas"][1]["answers"]
    with pytest.raises(ValueError, match="'a2' has no 'answers' field"):
        squad_v2_metrics(dataset, V2_PREDICTIONS)
    with pytest.raises(ValueError, match="No prediction for 1 question.*'u3'"):
        squad_v2_metrics(_dataset(V2_QUESTIONS),
                         {k: v for k, v in V2_PREDICTIONS.items() if k != "u3"})
    with pytest.raises(ValueError, match="use squad_v2_metrics"):
        squad_v1_metrics(_dataset({"q": []}), {"q": ""})
