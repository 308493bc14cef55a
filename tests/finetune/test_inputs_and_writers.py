"""Task table, submission writers, ordered prediction, and input errors raised before any
training step (in-process: no subprocess start-up)."""

import json
import os
import re

import numpy as np
import pytest

from mobilebert_tf.finetune import predictions as writers
from mobilebert_tf.finetune.run import FinetuneConfig, finetune
from mobilebert_tf.finetune.tasks import TASKS, InputError, get_task, subsample


def test_every_glue_task_squad_sentiment_and_word_order_are_known():
    assert list(TASKS) == ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte",
                           "wnli", "squad_v1.1", "squad_v2.0", "sentiment", "word_order"]
    assert get_task("SST-2") is TASKS["sst2"] and get_task("STS-B").kind == "regression"
    mnli = get_task("mnli")
    assert mnli.eval_splits == ("validation_matched", "validation_mismatched")
    assert dict(mnli.submission_names)["test_mismatched"] == "MNLI-mm"
    squad = get_task("squad_v1.1")
    assert (squad.learning_rate, squad.epochs, squad.batch_size, squad.seq_length) == (
        4e-5, 5, 32, 384)  # the authors' (GR's) SQuAD recipe
    assert get_task("squad_v2.0").score == "best_f1"
    with pytest.raises(InputError, match="Unknown fine-tuning task 'glue'; known tasks: cola"):
        get_task("glue")


def test_glue_tsv_format(tmp_path):
    path = writers.write_glue_tsv(str(tmp_path / "MNLI-m.tsv"), [0, 1, 2], np.array([2, 0, 1]),
                                  get_task("mnli").labels)
    assert open(path).read() == ("index\tprediction\n0\tcontradiction\n1\tentailment\n"
                                 "2\tneutral\n")
    path = writers.write_glue_tsv(str(tmp_path / "STS-B.tsv"), [0, 1], [5.7, 1.23456], (),
                                  is_regression=True)
    assert open(path).read() == "index\tprediction\n0\t5.000\n1\t1.235\n"


def test_balanced_subsample_is_seeded_and_balanced():
    from mobilebert_tf.data.classification import TextExample
    examples = [TextExample(str(i), "x", None, int(i % 4 == 0)) for i in range(100)]
    picked = subsample(examples, 20, seed=3, balanced=True)
    assert [e.label for e in picked].count(1) == 10 and len(picked) == 20
    assert picked == subsample(examples, 20, seed=3, balanced=True)


def test_predict_keeps_order_and_drops_padding():
    import tensorflow as tf

    from mobilebert_tf.finetune.evaluation import predict

    class Echo(tf.Module):  # returns the first id: shows which row each output came from
        def __call__(self, inputs, training=False):
            return {"first": tf.cast(inputs["input_word_ids"][:, :1], tf.float32)}

    ids = np.arange(10, dtype=np.int32)[:, None] * np.ones((1, 4), np.int32)
    inputs = {"input_word_ids": ids, "input_mask": ids, "input_type_ids": ids}
    outputs, _ = predict(Echo(), inputs, batch_size=4)
    np.testing.assert_array_equal(outputs["first"][:, 0], np.arange(10))


def _config(tmp_path, **changes):
    return FinetuneConfig(**{**dict(task="mrpc", model_dir=str(tmp_path / "run"),
                                    preset="mobilebert_mini", overrides={"num_layers": 2},
                                    seq_length=32, batch_size=4, steps=2), **changes})


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, "batch_size must be a positive integer or None; got batch_size=0"),
    ("warmup_proportion", 1.5, "warmup_proportion must be in [0, 1]; got warmup_proportion=1.5"),
    ("dropout", 1.0, "dropout must be in [0, 1); got dropout=1.0"),
    ("doc_stride", -8, "doc_stride must be a positive integer; got doc_stride=-8"),
    ("seq_length", 1024, "seq_length must be at most the model's max_position (512); got "
                         "seq_length=1024"),
    ("overrides", {"num_layerz": 2}, "preset/overrides: "),
    ("task", "mrpcc", "Unknown fine-tuning task 'mrpcc'"),
])
def test_config_names_the_bad_field_and_value(tmp_path, field, value, message):
    with pytest.raises(InputError, match=re.escape(message)):
        _config(tmp_path, **{field: value})


def test_vocab_size_mismatch_fails_before_any_step(mrpc_dir, tmp_path):
    with pytest.raises(InputError, match="has 30522 tokens but the model config has "
                                         "vocab_size=1000"):
        finetune(_config(tmp_path, data_dir=mrpc_dir,
                         overrides={"num_layers": 2, "vocab_size": 1000}))
    assert not os.path.exists(tmp_path / "run")


def test_squad_without_answers_fails_before_any_step(make_squad_json, tmp_path):
    data_dir = tmp_path / "squad"
    data_dir.mkdir()
    for name in ("train-v1.1.json", "dev-v1.1.json"):
        with open(data_dir / name, "w") as f:
            json.dump(make_squad_json(drop_answers_of="q2" if "train" in name else None), f)
    with pytest.raises(InputError, match="train-v1.1.json: question 'q2' has no 'answers' list"):
        finetune(_config(tmp_path, task="squad_v1.1", data_dir=str(data_dir), seq_length=48))
    assert not os.path.exists(tmp_path / "run")


def test_missing_init_checkpoint_fails_before_any_step(mrpc_dir, tmp_path):
    with pytest.raises(InputError, match="No init_checkpoint at"):
        finetune(_config(tmp_path, data_dir=mrpc_dir, init_checkpoint=str(tmp_path / "no")))


def test_squad_v2_null_odds_agree_with_predicted_abstentions(make_squad_json):
    """At threshold 0, `predict_answers` abstains exactly where null_odds > 0."""
    from mobilebert_tf.data import squad
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    from mobilebert_tf.finetune.evaluation import SquadEvalSet, squad_evaluate
    data = make_squad_json()
    data["data"][0]["paragraphs"][0]["qas"].append(
        {"id": "q4", "question": "Who ruled Normandy in 1900?", "answers": [],
         "is_impossible": True})
    examples = squad.examples_from_squad_dict(data)
    features = squad.create_squad_features(examples, BertInputTokenizer(), 48, 8, 16)
    rng = np.random.default_rng(0)
    for trial in range(5):
        logits = {k: rng.normal(size=(len(features), 48)).astype(np.float32)
                  for k in ("start_logits", "end_logits")}
        values, answers, odds = squad_evaluate(get_task("squad_v2.0"),
                                               SquadEvalSet(examples, features, data), logits)
        assert sorted(odds) == ["q1", "q2", "q3", "q4"]
        assert all((answers[q] == "") == (odds[q] > 0) for q in odds), (answers, odds)
        assert {"exact", "f1", "best_f1", "best_f1_thresh", "HasAns_f1", "NoAns_f1"} <= set(values)


def test_squad_v2_finetunes_end_to_end(make_squad_json, tmp_path):
    """Fine-tuning on SQuAD v2.0 files: chosen by best_f1, predictions.json and null_odds.json
    for every dev question, abstaining exactly where the odds exceed the threshold."""
    data = make_squad_json()
    data["version"] = "v2.0"
    data["data"][0]["paragraphs"][0]["qas"].append(
        {"id": "q4", "question": "Who ruled Normandy in 1900?", "answers": [],
         "is_impossible": True})
    data_dir = tmp_path / "squad"
    data_dir.mkdir()
    for name in ("train-v2.0.json", "dev-v2.0.json"):
        with open(data_dir / name, "w") as f:
            json.dump(data, f)
    result = finetune(_config(tmp_path, task="squad_v2.0", data_dir=str(data_dir),
                              seq_length=48, max_query_length=16, doc_stride=8,
                              steps=2, eval_every=2, null_score_diff_threshold=0.5))
    assert result.score == "best_f1" and [h["step"] for h in result.history] == [2]
    assert {"exact", "f1", "best_f1", "best_f1_thresh", "HasAns_f1", "NoAns_f1"} <= set(
        result.best_metrics)
    with open(result.files["predictions"]) as f:
        answers = json.load(f)
    with open(result.files["null_odds"]) as f:
        odds = json.load(f)
    assert sorted(answers) == sorted(odds) == ["q1", "q2", "q3", "q4"]
    assert all((answers[q] == "") == (odds[q] > 0.5) for q in odds), (answers, odds)


def test_mnli_evaluates_matched_and_mismatched_and_writes_both_files(tmp_path):
    root = tmp_path / "MNLI"
    root.mkdir()
    cols = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
            "sentence1_parse\tsentence2_parse\tsentence1\tsentence2")
    pairs = [("A man is playing a guitar.", "A person plays music.", "entailment"),
             ("A man is playing a guitar.", "The man is asleep.", "contradiction"),
             ("A woman reads a book.", "She is reading a novel for school.", "neutral")]

    def rows(label_cols):
        return [f"{i}\t{i}\t{i}e\tfiction\t()\t()\t()\t()\t{a}\t{b}" + "".join(
            f"\t{g}" for _ in range(label_cols)) for i, (a, b, g) in enumerate(pairs)]

    (root / "train.tsv").write_text("\n".join([cols + "\tlabel1\tgold_label"] + rows(2) * 2))
    for name in ("dev_matched", "dev_mismatched"):
        (root / f"{name}.tsv").write_text("\n".join([cols + "\tlabel1\tgold_label"] + rows(2)))
    (root / "test_matched.tsv").write_text("\n".join([cols] + rows(0)))
    result = finetune(_config(tmp_path, task="mnli", data_dir=str(root), log_every=1))
    assert set(result.best_metrics) == {"accuracy", "glue_score", "mismatched_accuracy",
                                        "mismatched_glue_score"}
    out = tmp_path / "run" / "predictions"
    assert (out / "dev" / "MNLI-m.tsv").exists() and (out / "dev" / "MNLI-mm.tsv").exists()
    lines = (out / "test" / "MNLI-m.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 4
    assert {line.split("\t")[1] for line in lines[1:]} <= set(get_task("mnli").labels)
    assert not (out / "test" / "MNLI-mm.tsv").exists()  # no test_mismatched file given


@pytest.mark.parametrize("what", ["pretrainer", "encoder"])
def test_restore_encoder_from_a_converted_checkpoint(what, tmp_path):
    """`convert_checkpoint` saves `model` and `encoder`; both a pretrainer's and a bare
    encoder's checkpoint give the fine-tuning encoder the same weights."""
    from mobilebert_tf.convert.exporter import save_tf2_checkpoint
    from mobilebert_tf.encoder import build_encoder
    from mobilebert_tf.finetune.run import restore_encoder
    from mobilebert_tf.models import MobileBertClassifier, MobileBertPretrainer
    source = build_encoder("mobilebert_mini", num_layers=2)
    pretrainer = MobileBertPretrainer(source)
    pretrainer(pretrainer.example_inputs())
    saved = pretrainer if what == "pretrainer" else source
    prefix = save_tf2_checkpoint(saved, str(tmp_path))
    target = MobileBertClassifier(build_encoder("mobilebert_mini", num_layers=2), 2)
    target(target.example_inputs())
    assert restore_encoder(target.encoder, str(tmp_path)) == prefix
    for a, b in zip(source.weights, target.encoder.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)
    wrong = MobileBertClassifier(build_encoder("mobilebert_mini", num_layers=3), 2)
    wrong(wrong.example_inputs())
    with pytest.raises(InputError, match="does not fit preset/overrides"):
        restore_encoder(wrong.encoder, str(tmp_path))
