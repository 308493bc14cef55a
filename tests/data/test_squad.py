"""SQuAD: spans survive tokenization and windowing both ways, on files in the real JSON format."""

import json
import random
import re

import numpy as np
import pytest
import tensorflow as tf
from official.nlp.tools import squad_evaluate_v1_1, squad_evaluate_v2_0

from mobilebert_tf.data import squad
from mobilebert_tf.data.tokenizer import BertInputTokenizer

SEQ, STRIDE, QUERY = 64, 16, 16


def _norm(text):
    return " ".join(text.lower().split())


def _make_squad_json(sentences, path, version_2):
    """Paragraphs of real sentences; questions whose answers are random word spans."""
    rng = random.Random(0)
    articles = []
    context = ("The Café  Müller in Paris was   naïvely named;\tHamlet's ghost walks at "
               "midnight, and the year was 1603.")

    def answer(text):
        return {"text": text, "answer_start": context.index(text)}

    # Accents, doubled spaces and a tab inside answers, a possessive, a number.
    hand_made = {"context": context, "qas": [
        {"id": "hand-1", "question": "Which café?", "answers": [answer("Café  Müller")]},
        {"id": "hand-2", "question": "Whose ghost?", "answers": [
            answer("Hamlet's ghost"), answer("Hamlet's")]},
        {"id": "hand-3", "question": "When?", "answers": [answer("1603")]},
        {"id": "hand-4", "question": "How named?", "answers": [answer("naïvely named;\tHamlet")]},
    ]}
    paragraphs = [hand_made]
    for p in range(30):
        context = " ".join(sentences[p * 12:(p + 1) * 12])  # Long: several windows at SEQ=64.
        words = [(m.start(), m.end()) for m in re.finditer(r"[A-Za-z][A-Za-z']*[A-Za-z]|[A-Za-z]",
                                                           context)]
        qas = []
        for q in range(6):
            i = rng.randrange(len(words))
            j = min(len(words) - 1, i + rng.randrange(4))
            start, end = words[i][0], words[j][1]
            qa = {"id": f"p{p}-q{q}", "question": f"What comes {q} in part {p}?",
                  "answers": [{"text": context[start:end], "answer_start": start}]}
            if version_2 and q % 3 == 2:
                qa = {"id": qa["id"], "question": "Who wrote the sonnets of Mars?",
                      "answers": [], "is_impossible": True,
                      "plausible_answers": qa["answers"]}
            qas.append(qa)
        paragraphs.append({"context": context, "qas": qas})
    articles.append({"title": "Shakespeare", "paragraphs": paragraphs})
    data = {"version": "v2.0" if version_2 else "1.1", "data": articles}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return data


@pytest.fixture(scope="module")
def squad_tokenizer(vocab):
    return BertInputTokenizer(vocab, seq_length=SEQ)


@pytest.mark.parametrize("version_2", [False, True])
def test_answer_spans_round_trip(tmp_path, corpus_sentences, squad_tokenizer, version_2):
    data = _make_squad_json(corpus_sentences, tmp_path / "squad.json", version_2)
    examples = squad.read_squad_json(str(tmp_path / "squad.json"))
    assert len(examples) == 4 + 30 * 6
    assert sum(e.is_impossible for e in examples) == (60 if version_2 else 0)
    features = squad.create_squad_features(examples, squad_tokenizer, SEQ, STRIDE, QUERY)
    windows = np.bincount([f.example_index for f in features])
    assert windows.max() >= 4, "long contexts must be split into several windows"

    labelled = {i: 0 for i, e in enumerate(examples) if not e.is_impossible}
    for f in features:
        example = examples[f.example_index]
        assert len(f.input_word_ids) == SEQ and f.input_word_ids[0] == 101
        if example.is_impossible:
            assert (f.start_position, f.end_position) == (0, 0)
        elif f.start_position:
            text = squad.span_text(example, f, f.start_position, f.end_position)
            assert _norm(text) == _norm(example.answers[0][0]), (text, example.answers[0])
            labelled[f.example_index] += 1
    assert all(labelled.values()), "every answer is labelled in at least one window"

    # Oracle logits through the post-processing give back every answer exactly.
    start = np.full((len(features), SEQ), -10.0)
    end = np.full((len(features), SEQ), -10.0)
    for f in features:
        start[f.unique_id, f.start_position] = 10.0
        end[f.unique_id, f.end_position] = 10.0
    predictions = squad.predict_answers(examples, features, start, end,
                                        version_2_with_negative=version_2)
    for e in examples:
        assert predictions[e.qas_id] == ("" if e.is_impossible else e.answers[0][0])
    # The scores behind them: an answer's window scores its span 10 + 10 and [CLS] -10 - 10;
    # an impossible question's windows score [CLS] 10 + 10 and every span -10 - 10.
    spans = squad.best_spans(examples, features, start, end)
    for e in examples:
        span = spans[e.qas_id]
        expected = (-20.0, 20.0, 40.0) if e.is_impossible else (20.0, -20.0, -40.0)
        assert (span.score, span.null_score, span.null_odds) == expected, (e.qas_id, span)
    if version_2:
        scores = squad_evaluate_v2_0.evaluate(data["data"], predictions)
        assert scores["exact"] == 100.0 and scores["NoAns_total"] == 60
    else:
        assert squad_evaluate_v1_1.evaluate(data["data"], predictions)["exact_match"] == 1.0  # A fraction here, a percentage in v2.


def test_dataset_batches_and_labels(tmp_path, corpus_sentences, squad_tokenizer):
    _make_squad_json(corpus_sentences, tmp_path / "s.json", False)
    examples = squad.read_squad_json(str(tmp_path / "s.json"))[:20]
    features = squad.create_squad_features(examples, squad_tokenizer, SEQ, STRIDE, QUERY)
    inputs, labels = next(iter(squad.squad_dataset(features, batch_size=8)))
    assert set(inputs) == {"input_word_ids", "input_mask", "input_type_ids"}
    assert inputs["input_word_ids"].shape == (8, SEQ) and inputs["input_word_ids"].dtype == tf.int32
    assert labels["start_positions"].numpy().tolist() == [f.start_position for f in features[:8]]
    batches = list(squad.squad_dataset(features, batch_size=8, drop_remainder=True))
    assert len(batches) == len(features) // 8


def test_long_question_is_truncated(squad_tokenizer):
    example = squad.SquadExample("q", " ".join(["why"] * 100), "The answer is here.",
                                 (("here", 14),))
    (feature,) = squad.create_squad_features([example], squad_tokenizer, SEQ, STRIDE, QUERY)
    assert feature.input_type_ids.index(1) == QUERY + 2
    assert squad.span_text(example, feature, feature.start_position, feature.end_position) == "here"


def test_tfds_records_convert_like_json(tmp_path, corpus_sentences):
    data = _make_squad_json(corpus_sentences, tmp_path / "s.json", True)
    from_json = squad.read_squad_json(str(tmp_path / "s.json"))
    records = []
    for paragraph in data["data"][0]["paragraphs"]:
        for qa in paragraph["qas"]:
            answers = qa["answers"]
            records.append({
                "id": qa["id"].encode(), "question": qa["question"].encode(),
                "context": paragraph["context"].encode(),
                "is_impossible": qa.get("is_impossible", False),
                "answers": {"text": np.array([a["text"].encode() for a in answers], object),
                            "answer_start": np.array([a["answer_start"] for a in answers],
                                                     np.int32)}})
    assert squad.examples_from_tfds_records(records) == from_json


def test_bad_squad_input(tmp_path, squad_tokenizer):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "1.1", "articles": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="no top-level 'data' list"):
        squad.read_squad_json(str(bad))
    bad.write_bytes(b'{"data": [\xff]}')
    with pytest.raises(ValueError, match="not UTF-8 JSON"):
        squad.read_squad_json(str(bad))
    misaligned = {"data": [{"paragraphs": [{"context": "abc def", "qas": [
        {"id": "1", "question": "?", "answers": [{"text": "def", "answer_start": 0}]}]}]}]}
    assert squad.examples_from_squad_dict(misaligned) == []
    with pytest.raises(ValueError, match="no room for context"):
        squad.create_squad_features([], squad_tokenizer, seq_length=16, max_query_length=16)
    with pytest.raises(ValueError, match="doc_stride"):
        squad.create_squad_features([], squad_tokenizer, seq_length=64, doc_stride=100,
                                    max_query_length=16)
