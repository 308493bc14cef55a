"""`tpu/train.py --mode finetune` end to end in subprocesses on test-built files in the
official formats: MRPC (classification), STS-B (regression), SQuAD v1.1 (spans)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.testing import file_contents

SMOKE = ["--preset", "mobilebert_mini", "--overrides", "num_layers=2", "--seq_length", "32", "--batch_size", "4", "--steps", "6",
         "--eval_every", "3", "--log_every", "3", "--checkpoint_every", "3"]


def _results(model_dir):
    with open(os.path.join(model_dir, "eval_results.json")) as f:
        return json.load(f)


def _tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f]


@pytest.fixture(scope="module")
def mrpc_run(run_train, mrpc_dir, init_checkpoint, tmp_path_factory):
    """`(args, model_dir, result)` of a deterministic MRPC run from `init_checkpoint`: checked
    below, and the uninterrupted reference of the kill-and-resume test."""
    model_dir = str(tmp_path_factory.mktemp("mrpc"))
    args = ["--mode", "finetune", "--task", "mrpc", "--data_dir", mrpc_dir,
            "--init_checkpoint", init_checkpoint, *SMOKE, "--deterministic"]
    return args, model_dir, run_train([*args, "--model_dir", model_dir])


@pytest.mark.slow
def test_mrpc_writes_submission_metrics_and_best_model(mrpc_run):
    _, model_dir, result = mrpc_run
    assert "Encoder restored from" in result.stderr and "ckpt-7" in result.stderr
    assert "step 6/6" in result.stderr
    results = _results(model_dir)
    assert [h["step"] for h in results["history"]] == [3, 6]
    assert set(results["best_metrics"]) == {"accuracy", "f1", "glue_score"}
    assert results["score"] == "glue_score" and results["best_step"] in (3, 6)
    # GLUE submission format: header, then index and label name per test row.
    rows = _tsv(os.path.join(model_dir, "predictions", "test", "MRPC.tsv"))
    assert rows[0] == ["index", "prediction"]
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(6)]
    assert {r[1] for r in rows[1:]} <= {"0", "1"}
    assert os.path.exists(os.path.join(model_dir, "predictions", "dev", "MRPC.tsv"))
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "best"))
    assert os.path.exists(os.path.join(model_dir, "dev_glue_score.png"))
    # The best model as a .keras file the exporter can read: same predictions as reloaded.
    import numpy as np
    import tf_keras as keras
    model = keras.models.load_model(os.path.join(model_dir, "best", "model.keras"))
    assert type(model).__name__ == "MobileBertClassifier" and model.num_classes == 2
    assert np.all(np.isfinite(model(model.example_inputs(2, 16)).numpy()))


@pytest.mark.slow
def test_stsb_regression_writes_scores(run_train, stsb_dir, tmp_path):
    model_dir = str(tmp_path / "stsb")
    run_train(["--mode", "finetune", "--task", "stsb", "--data_dir", stsb_dir,
               "--init_checkpoint", "none", "--model_dir", model_dir, *SMOKE])
    results = _results(model_dir)
    assert set(results["best_metrics"]) == {"pearson", "spearman", "glue_score"}
    rows = _tsv(os.path.join(model_dir, "predictions", "test", "STS-B.tsv"))
    assert rows[0] == ["index", "prediction"] and len(rows) == 7
    assert all(0.0 <= float(r[1]) <= 5.0 and len(r[1].split(".")[1]) == 3 for r in rows[1:])


@pytest.mark.slow
def test_squad_v11_writes_predictions_json(run_train, squad_dir, init_checkpoint, tmp_path):
    model_dir = str(tmp_path / "squad")
    run_train(["--mode", "finetune", "--task", "squad_v1.1", "--data_dir", squad_dir,
               "--init_checkpoint", init_checkpoint, "--model_dir", model_dir,
               "--max_query_length", "16", "--doc_stride", "8",
               *[a if a != "32" else "48" for a in SMOKE]])
    results = _results(model_dir)
    assert results["score"] == "f1"
    assert set(results["best_metrics"]) == {"exact_match", "f1"}
    with open(os.path.join(model_dir, "predictions", "predictions.json")) as f:
        predictions = json.load(f)
    assert sorted(predictions) == ["q1", "q2", "q3"]
    assert all(isinstance(a, str) for a in predictions.values())
    assert not os.path.exists(os.path.join(model_dir, "predictions", "null_odds.json"))


@pytest.mark.slow
def test_cli_rejects_unknown_task_and_missing_checkpoint(run_train, mrpc_dir, tmp_path):
    base = ["--mode", "finetune", "--data_dir", mrpc_dir, "--model_dir", str(tmp_path / "x")]
    result = run_train([*base, "--task", "mrpcc", "--init_checkpoint", "none"], check=False)
    assert result.returncode != 0 and "step 1/" not in result.stderr
    assert "Unknown fine-tuning task 'mrpcc'; known tasks: cola, sst2, mrpc" in result.stderr
    assert "squad_v1.1, squad_v2.0, sentiment" in result.stderr
    result = run_train([*base, "--task", "mrpc", "--init_checkpoint",
                        str(tmp_path / "missing")], check=False)
    assert result.returncode != 0 and "No init_checkpoint at" in result.stderr


@pytest.mark.slow
def test_killed_finetune_resumes_with_its_history_and_best(run_train, mrpc_run, tmp_path):
    args, reference_dir, _ = mrpc_run
    model_dir = str(tmp_path / "resumed")
    args = [*args, "--model_dir", model_dir]
    killed = run_train([*args, "--debug_exit_after_steps", "4"], check=False)
    assert killed.returncode == -9  # after step 4; last checkpoint and evaluation at step 3
    with open(os.path.join(model_dir, "eval_history.json")) as f:
        assert [h["step"] for h in json.load(f)] == [3]
    resumed = run_train(args)
    assert "at step 3" in resumed.stderr and "3 steps from step 3" in resumed.stderr
    results = _results(model_dir)
    assert [h["step"] for h in results["history"]] == [3, 6]
    assert results["best_score"] == max(h["glue_score"] for h in results["history"])
    # Dropout masks are seeded by the step (SeededDropout): the resumed run's weights are the
    # uninterrupted run's, bit for bit.
    expected = tf.train.load_checkpoint(tf.train.latest_checkpoint(reference_dir))
    actual = tf.train.load_checkpoint(tf.train.latest_checkpoint(model_dir))
    names = [n for n, _ in tf.train.list_variables(reference_dir) if n.startswith("model/")]
    assert len(names) > 50
    for name in names:
        np.testing.assert_array_equal(actual.get_tensor(name), expected.get_tensor(name),
                                      err_msg=name)


@pytest.mark.slow
def test_commands_refuse_a_finished_run_of_another_kind_and_leave_it_byte_identical(
        run_train, mrpc_run, tmp_path):
    """The two ways a finished run was destroyed: fine-tuning another task into it (restored,
    trained on and `best/` overwritten), and converting a checkpoint into it (its `checkpoint`
    file rewritten to list only the converted one)."""
    import subprocess
    import sys
    _, model_dir, _ = mrpc_run
    before = file_contents(model_dir)
    assert "best/model.keras" in before and "checkpoint" in before
    other_task = run_train(["--mode", "finetune", "--task", "sentiment", "--init_checkpoint",
                            "none", "--model_dir", model_dir, *SMOKE], check=False)
    assert other_task.returncode == 2, other_task.stderr[-2000:]
    assert other_task.stderr.splitlines()[-1] == (
        f"train.py: error: model_dir '{model_dir}' belongs to another run "
        f"({model_dir}/run_config.json): task: stored 'mrpc', this run 'sentiment'. Use a "
        "fresh model_dir. (see --help)")
    command = os.path.join(os.path.dirname(sys.executable), "mobilebert-convert-checkpoint")
    convert = subprocess.run([command, "--source_format", "hf", "--source", str(tmp_path),
                              "--output_dir", model_dir], capture_output=True, text=True,
                             timeout=300, env={k: v for k, v in os.environ.items()
                                               if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert convert.returncode == 2, convert.stderr[-2000:]
    assert convert.stderr.splitlines() == [
        f"mobilebert-convert-checkpoint: error: --output_dir '{model_dir}' belongs to another "
        f"run ({model_dir}/run_config.json): mode: stored 'finetune', this run 'convert'. Use "
        "a fresh --output_dir. (see --help)"]
    assert file_contents(model_dir) == before
