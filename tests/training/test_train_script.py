"""`tpu/train.py` end to end in subprocesses: resume after SIGKILL, MirroredStrategy, and
clear errors before any step."""

import numpy as np
import pytest
import tensorflow as tf


def checkpoint_values(model_dir, prefix="model/"):
    """`{name: array}` of the latest checkpoint's model variables (no optimizer slots)."""
    path = tf.train.latest_checkpoint(model_dir)
    reader = tf.train.load_checkpoint(path)
    return path, {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
                  if name.startswith(prefix) and "OPTIMIZER_SLOT" not in name}


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(train_runner, distill_args, reference_run,
                                                tmp_path):
    model_dir = str(tmp_path / "resumed")
    killed = train_runner([*distill_args, "--model_dir", model_dir,
                           "--debug_exit_after_steps", "5"], check=False)
    assert killed.returncode == -9  # SIGKILL mid-stage 2 (pkt_layer_1), last save at step 4
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-4")
    resumed = train_runner([*distill_args, "--model_dir", model_dir])
    assert "at step 4" in resumed.stderr and "'pkt_layer_1': 2 steps from step 4" in resumed.stderr
    assert_same_final_checkpoint(model_dir, reference_run, "ckpt-10")


def assert_same_final_checkpoint(model_dir, reference_dir, name):
    """The latest checkpoints of both dirs are `name` with bit-identical model and optimizer
    variables (deterministic ops)."""
    ref_path, reference = checkpoint_values(reference_dir)
    path, values = checkpoint_values(model_dir)
    assert ref_path.endswith(name) and path.endswith(name)
    assert reference.keys() == values.keys() and len(values) > 50
    for key in reference:
        np.testing.assert_array_equal(values[key], reference[key], err_msg=key)
    _, optimizer_ref = checkpoint_values(reference_dir, prefix="optimizer/")
    _, optimizer = checkpoint_values(model_dir, prefix="optimizer/")
    assert optimizer_ref.keys() == optimizer.keys()
    for key in optimizer_ref:
        np.testing.assert_array_equal(optimizer[key], optimizer_ref[key], err_msg=key)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [[], ["--strategy", "mirrored", "--num_cpu_devices", "2"]],
                         ids=["one_device", "mirrored"])
def test_killed_teacher_run_with_dropout_resumes_to_the_same_weights(train_runner, teacher_args,
                                                                     strategy, tmp_path):
    args = [*teacher_args, *strategy, "--steps", "6", "--checkpoint_every", "2"]
    reference_dir, model_dir = str(tmp_path / "reference"), str(tmp_path / "resumed")
    train_runner([*args, "--model_dir", reference_dir])
    killed = train_runner([*args, "--model_dir", model_dir, "--debug_exit_after_steps", "3"],
                          check=False)
    assert killed.returncode == -9  # after step 3, last save at step 2
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-2")
    resumed = train_runner([*args, "--model_dir", model_dir])
    assert "at step 2" in resumed.stderr
    # Steps 3-6 draw the same dropout masks as the uninterrupted run's.
    assert_same_final_checkpoint(model_dir, reference_dir, "ckpt-6")


@pytest.mark.slow
def test_teacher_dropout_changes_the_update(train_runner, teacher_args, teacher_dir, tmp_path):
    model_dir = str(tmp_path / "nodropout")
    train_runner([*teacher_args, "--steps", "4", "--checkpoint_every", "4", "--model_dir",
                  model_dir, "--nodropout"])
    _, with_dropout = checkpoint_values(teacher_dir)
    _, without = checkpoint_values(model_dir)
    assert with_dropout.keys() == without.keys()
    changed = [k for k in with_dropout if not np.array_equal(with_dropout[k], without[k])]
    assert len(changed) > len(with_dropout) / 2


@pytest.mark.slow
def test_mirrored_two_replicas_match_one_device(train_runner, distill_args, reference_run,
                                                tmp_path):
    model_dir = str(tmp_path / "mirrored")
    result = train_runner([*distill_args, "--model_dir", model_dir, "--strategy", "mirrored",
                           "--num_cpu_devices", "2"])
    assert "MirroredStrategy with 2 replica(s); global batch 8" in result.stderr
    _, reference = checkpoint_values(reference_run)
    _, values = checkpoint_values(model_dir)
    assert reference.keys() == values.keys()
    # Same global batch of 8, split 4 + 4. Losses are normalized by global counts, so the
    # only difference is float summation order (per-replica partial sums, all-reduced): after
    # 10 LAMB steps weights agree to 1e-4 relative to each tensor's scale: mostly to 1e-6, but
    # an element whose gradient is a near-cancelling sum (the bias of a nearly dead ReLU unit,
    # gradient ~1e-8) was seen at 4.5e-5.
    for name in reference:
        scale = max(np.abs(reference[name]).max(), 1e-3)
        np.testing.assert_allclose(values[name], reference[name], rtol=0, atol=1e-4 * scale,
                                   err_msg=name)


def _error_of(train_runner, args):
    result = train_runner(args, check=False)
    assert result.returncode != 0
    assert "step 1/" not in result.stderr  # failed before any step ran
    return result.stderr


@pytest.mark.slow
def test_bad_inputs_fail_before_any_step(train_runner, distill_args, records, tmp_path):
    def args_with(**changes):
        args = list(distill_args) + ["--model_dir", str(tmp_path / "bad")]
        for flag, value in changes.items():
            args[args.index(f"--{flag}") + 1] = value
        return args

    assert "No teacher checkpoint" in _error_of(
        train_runner, args_with(teacher_checkpoint=str(tmp_path / "missing")))
    assert "Unknown --distill_strategy 'bkt'" in _error_of(
        train_runner, args_with() + ["--distill_strategy", "bkt"])
    assert "seq_length 32 and max_predictions 5, but the flags say 64" in _error_of(
        train_runner, args_with(seq_length="64"))
    assert "pass layer_mapping" in _error_of(
        train_runner, args_with() + ["--overrides", "num_layers=1,vocab_size=1000",
                                     "--teacher_overrides", "num_layers=2"])
