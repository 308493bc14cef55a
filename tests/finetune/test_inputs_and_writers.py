"""Task table, submission writers, ordered prediction, and input errors raised before any
training step (in-process: no subprocess start-up)."""

import json
import os

import numpy as np
import pytest

from mobilebert_tf.finetune import predictions as writers
from mobilebert_tf.finetune.run import FinetuneConfig, finetune, subsample
from mobilebert_tf.finetune.tasks import TASKS, InputError, get_task


def test_every_glue_task_squad_and_sentiment_are_known():
    assert list(TASKS) == ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte",
                           "wnli", "squad_v1.1", "squad_v2.0", "sentiment"]
    assert get_task("SST-2") is TASKS["sst2"] and get_task("STS-B").kind == "regression"
    mnli = get_task("mnli")
    assert mnli.eval_splits == ("validation_matched", "validation_mismatched")
    assert dict(mnli.submission_names)["test_mismatched"] == "MNLI-mm"
    squad = get_task("squad_v1.1")
    assert (squad.learning_rate, squad.epochs, squad.batch_size, squad.seq_length) == (
        4e-5, 5, 32, 384)  # GR's SQuAD recipe
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
    with pytest.raises(InputError, match="No checkpoint at --init_checkpoint"):
        finetune(_config(tmp_path, data_dir=mrpc_dir, init_checkpoint=str(tmp_path / "no")))
