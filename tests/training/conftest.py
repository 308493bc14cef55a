"""Records, a tiny teacher checkpoint and subprocess runs of `tpu/train.py` for the
training tests. Subprocesses keep device setup (2 logical CPUs for MirroredStrategy) and
process kills away from the pytest process."""

import pytest

from mobilebert_tf.testing import run_train_script as run_train

SEQ, PREDICTIONS, VOCAB = 32, 5, 1000
TINY = ["--overrides", f"num_layers=2,vocab_size={VOCAB}", "--seq_length", str(SEQ),
        "--max_predictions", str(PREDICTIONS)]


@pytest.fixture(scope="session")
def records(tmp_path_factory):
    """`(train_pattern, eval_path)`: synthetic pretraining records (seq 32, 5 predictions)."""
    from mobilebert_tf.data.synthetic_records import synthetic_examples, write_pretraining_records
    root = tmp_path_factory.mktemp("records")
    for i in range(2):  # two files: one per worker of the multi-worker test
        write_pretraining_records(str(root / f"train-{i}.tfrecord"),
                                  synthetic_examples(128, SEQ, PREDICTIONS, VOCAB, seed=i))
    write_pretraining_records(str(root / "eval.tfrecord"),
                              synthetic_examples(64, SEQ, PREDICTIONS, VOCAB, seed=99))
    return str(root / "train-*.tfrecord"), str(root / "eval.tfrecord")


@pytest.fixture(scope="session")
def teacher_args(records):
    """Flags of a tiny deterministic `--mode teacher` run (with dropout, the default)."""
    return ["--mode", "teacher", "--preset", "ib_bert_mini", *TINY, "--train_files",
            records[0], "--batch_size", "8", "--deterministic"]


@pytest.fixture(scope="session")
def teacher_dir(teacher_args, tmp_path_factory):
    """A tiny teacher trained for 6 steps by `--mode teacher`, saved every 2 (also the
    uninterrupted reference of the one-device kill/resume test)."""
    model_dir = str(tmp_path_factory.mktemp("teacher"))
    run_train([*teacher_args, "--steps", "6", "--checkpoint_every", "2", "--model_dir",
               model_dir])
    return model_dir


@pytest.fixture(scope="session")
def distill_args(records, teacher_dir):
    """Flags of a short deterministic PKT run crossing every stage boundary (3+3+4 steps)."""
    return ["--mode", "distill", "--teacher_preset", "ib_bert_mini", "--preset",
            "mobilebert_mini", *TINY, "--teacher_checkpoint", teacher_dir,
            "--train_files", records[0], "--batch_size", "8", "--transfer_steps", "3",
            "--pd_steps", "4", "--lower_multiplier", "0.1", "--checkpoint_every", "2",
            "--log_every", "1", "--deterministic"]


@pytest.fixture(scope="session")
def reference_run(distill_args, tmp_path_factory):
    """The uninterrupted single-device run the resume and mirrored tests compare against."""
    model_dir = str(tmp_path_factory.mktemp("reference"))
    run_train([*distill_args, "--model_dir", model_dir])
    return model_dir


@pytest.fixture(scope="session")
def train_runner():
    """`run_train(args, check=True)`."""
    return run_train
