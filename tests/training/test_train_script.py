"""`tpu/train.py` end to end in subprocesses: resume after SIGKILL and SIGTERM,
MirroredStrategy, two workers under MultiWorkerMirroredStrategy (and one whose peer never
starts), the README's Cloud TPU commands on ram://, and usage errors before any step."""

import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.testing import run_module


def checkpoint_values(model_dir, prefix="model/"):
    """`{name: array}` of the latest checkpoint's model variables (no optimizer slots)."""
    path = tf.train.latest_checkpoint(model_dir)
    reader = tf.train.load_checkpoint(path)
    return path, {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
                  if name.startswith(prefix) and "OPTIMIZER_SLOT" not in name}


@pytest.mark.slow
def test_killed_mirrored_distill_resumes_to_the_one_device_weights(train_runner, distill_args,
                                                                   reference_run, tmp_path):
    # Two replicas and 7 steps per host call, killed mid-stage 2 and resumed, against one
    # device, 1 step per call, uninterrupted. Host loops still end at every stage end (3, 6),
    # checkpoint (2, 4, ...) and the exit step.
    model_dir = str(tmp_path / "mirrored")
    args = [*distill_args, "--model_dir", model_dir, "--strategy", "mirrored",
            "--num_cpu_devices", "2", "--steps_per_loop", "7"]
    killed = train_runner([*args, "--debug_exit_after_steps", "5"], check=False)
    assert killed.returncode == -9  # SIGKILL mid-stage 2 (pkt_layer_1), last save at step 4
    assert "MirroredStrategy with 2 replica(s); global batch 8" in killed.stderr
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-4")
    resumed = train_runner(args)
    assert "at step 4" in resumed.stderr and "'pkt_layer_1': 2 steps from step 4" in resumed.stderr
    # Same global batch of 8, split 4 + 4. Losses are normalized by global counts, so the
    # only difference is float summation order (per-replica partial sums, all-reduced): after
    # 10 LAMB steps weights agree to 1e-4 relative to each tensor's scale: mostly to 1e-6, but
    # an element whose gradient is a near-cancelling sum (the bias of a nearly dead ReLU unit,
    # gradient ~1e-8) was seen at 4.5e-5. A resume at a wrong data position or stage would
    # differ by ~1e-3 of the scale per step.
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-10")
    assert_close_checkpoints(model_dir, reference_run, 1e-4)


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


MIRRORED = ["--strategy", "mirrored", "--num_cpu_devices", "2", "--per_replica_input"]


@pytest.fixture(scope="module")
def mirrored_teacher(teacher_args, train_runner, tmp_path_factory):
    """A 6-step teacher run on 2 replicas, one input pipeline each, killed after step 3 and
    resumed: `(model_dir, killed run, resumed run)`. The two-worker test's uninterrupted run
    must match it, which it does only if resuming restored both replicas' data positions and
    dropout streams (one run fewer than a separate uninterrupted mirrored reference)."""
    model_dir = str(tmp_path_factory.mktemp("mirrored_teacher"))
    args = [*teacher_args, *MIRRORED, "--steps", "6", "--checkpoint_every", "2",
            "--model_dir", model_dir]
    killed = train_runner([*args, "--debug_exit_after_steps", "3"], check=False)
    return model_dir, killed, train_runner(args)


@pytest.mark.slow
def test_terminated_teacher_run_with_dropout_saves_and_resumes_to_the_same_weights(
        train_runner, teacher_args, teacher_dir, tmp_path):
    args = [*teacher_args, "--steps", "6", "--checkpoint_every", "2"]
    model_dir = str(tmp_path / "resumed")
    # SIGTERM (a preempted VM, a scheduler) after step 3: saved there, one line, status 143.
    stopped = train_runner([*args, "--model_dir", model_dir, "--debug_exit_after_steps", "3",
                            "--debug_exit_signal", "TERM"], check=False)
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert stopped.stderr.rstrip().splitlines()[-1] == (
        f"train.py: stopped by SIGTERM after step 3; the latest checkpoint is {model_dir}/"
        "ckpt-3: run the same command again to resume from it.")
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-3")
    resumed = train_runner([*args, "--model_dir", model_dir])
    assert "at step 3" in resumed.stderr
    # Steps 4-6 draw the same dropout masks as the uninterrupted run's (`teacher_dir`).
    assert_same_final_checkpoint(model_dir, teacher_dir, "ckpt-6")


@pytest.mark.slow
def test_a_worker_whose_peer_never_starts_fails_after_the_cluster_timeout(teacher_args,
                                                                         tmp_path):
    peer = f"localhost:{_free_ports(1)[0]}"
    cluster = {"worker": [f"localhost:{_free_ports(1)[0]}", peer]}
    result = run_module("tpu.train", [*teacher_args, "--model_dir", str(tmp_path / "alone"),
                                      "--strategy", "multi_worker", "--cluster_timeout", "5"],
                        check=False, env={"TF_CONFIG": json.dumps(
                            {"cluster": cluster, "task": {"type": "worker", "index": 0}})})
    assert result.returncode == -9, result.stderr[-2000:]  # killed by its watchdog
    assert result.stderr.rstrip().splitlines()[-1] == (
        f"train.py: error: the workers ['{peer}'] of TF_CONFIG did not all come up within 5 s "
        "(--cluster_timeout).")
    assert not tf.io.gfile.exists(str(tmp_path / "alone" / "ckpt-1.index"))


@pytest.mark.slow
def test_a_tpu_that_never_answers_fails_after_the_cluster_timeout(teacher_args, tmp_path):
    tpu = f"grpc://localhost:{_free_ports(1)[0]}"  # nothing listens there
    args = [*teacher_args, "--model_dir", str(tmp_path / "tpu"), "--strategy", "tpu", "--tpu",
            tpu, "--cluster_timeout", "5"]
    # Record files are checked before the TPU is waited for.
    missing = str(tmp_path / "no-records" / "*.tfrecord")
    result = run_module("tpu.train", [*args, "--train_files", missing], check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.rstrip().splitlines()[-1].startswith(
        f"train.py: error: No pretraining records match {missing!r}.")
    result = run_module("tpu.train", args, check=False)
    assert result.returncode == -9, result.stderr[-2000:]  # killed by its watchdog
    assert result.stderr.rstrip().splitlines()[-1] == (
        f"train.py: error: --tpu {tpu!r} did not answer within 5 s (--cluster_timeout).")
    assert not tf.io.gfile.glob(str(tmp_path / "tpu" / "ckpt-*"))
    # The VM's own TPU, on a VM without one.
    result = run_module("tpu.train", [*args[:-4], "--tpu", "local"], check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.rstrip().splitlines()[-1] == (
        "train.py: error: --tpu 'local': TPUs not found in the cluster (no TPU there: run on a "
        "TPU VM, or name its TPU). (see --help)")


@pytest.mark.slow
def test_killed_mirrored_teacher_run_resumes_where_it_stopped(mirrored_teacher):
    model_dir, killed, resumed = mirrored_teacher
    assert killed.returncode == -9  # after step 3, last save at step 2
    assert "at step 2" in resumed.stderr
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-6")
    # Its weights against an uninterrupted run: the two-worker test below.


@pytest.mark.slow
def test_teacher_dropout_changes_the_update(train_runner, teacher_args, teacher_dir, tmp_path):
    model_dir = str(tmp_path / "nodropout")
    train_runner([*teacher_args, "--steps", "6", "--checkpoint_every", "6", "--model_dir",
                  model_dir, "--nodropout"])
    _, with_dropout = checkpoint_values(teacher_dir)
    _, without = checkpoint_values(model_dir)
    assert with_dropout.keys() == without.keys()
    changed = [k for k in with_dropout if not np.array_equal(with_dropout[k], without[k])]
    assert len(changed) > len(with_dropout) / 2


def assert_close_checkpoints(model_dir, reference_dir, tolerance):
    """Model variables within `tolerance` of each tensor's scale; each input pipeline at
    the same data position."""
    _, reference = checkpoint_values(reference_dir)
    _, values = checkpoint_values(model_dir)
    assert reference.keys() == values.keys() and len(values) > 50
    for name in reference:
        scale = max(np.abs(reference[name]).max(), 1e-3)
        np.testing.assert_allclose(values[name], reference[name], rtol=0,
                                   atol=tolerance * scale, err_msg=name)
    assert pipeline_positions(model_dir) == pipeline_positions(reference_dir)


def pipeline_positions(model_dir):
    """`{input pipeline: (window, index)}` of the last record each pipeline gave out."""
    _, values = checkpoint_values(model_dir, prefix="data_positions")
    rows = [tuple(row) for row in next(iter(values.values()))]
    return {p: max(row[1:] for row in rows if row[0] == p) for p, _, _ in rows}


def _error_of(train_runner, args):
    result = train_runner(args, check=False)
    assert result.returncode != 0
    assert "step 1/" not in result.stderr  # failed before any step ran
    assert "Traceback" not in result.stderr  # a usage error, not a crash
    return result.stderr


@pytest.mark.slow
def test_bad_inputs_are_usage_errors_before_any_step(train_runner, distill_args, tmp_path,
                                                     monkeypatch):
    args = [*distill_args, "--model_dir", str(tmp_path / "bad")]
    # Refused from the flags alone: a flag of another mode, a cluster without TF_CONFIG.
    assert "--mode distill takes no --task (a flag of another mode)" in _error_of(
        train_runner, [*args, "--task", "mrpc"])
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert "--strategy multi_worker needs the TF_CONFIG environment variable" in _error_of(
        train_runner, [*args, "--strategy", "multi_worker"])
    # Refused by the library before any model is built, one line each: the configs' checks
    # in process (test_run_layer.py), every command's line (test_error_contract.py).
    assert f"No teacher_checkpoint at '{tmp_path}/missing'" in _error_of(
        train_runner, [*args, "--teacher_checkpoint", str(tmp_path / "missing")])


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_like_one_process_with_two_replicas(teacher_args, mirrored_teacher,
                                                              tmp_path):
    # One process, two replicas, one input pipeline per replica (`mirrored_teacher`, killed
    # and resumed) against two worker processes of one replica each, one input pipeline per
    # worker, uninterrupted.
    args = [*teacher_args, "--steps", "6", "--checkpoint_every", "2", "--steps_per_loop", "2"]
    model_dir = str(tmp_path / "two_workers")
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=repo,
                   CUDA_VISIBLE_DEVICES="", TF_CONFIG=json.dumps(
                       {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "tpu.train", *args, "--model_dir", model_dir,
             "--strategy", "multi_worker"], cwd=repo, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    assert "with 2 replica(s); global batch 8" in outputs[0][1]  # 1 device per process
    assert not tf.io.gfile.exists(os.path.join(model_dir, "workers", "worker_1", "checkpoint"))
    # The same records per replica (equal data positions); the weights differ only by the
    # all-reduce's summation order, as between one device and two (measured: 4e-8 at most
    # after 4 steps, 1e-5 of a tensor's scale; each step moves weights ~1e-3 of it).
    assert_close_checkpoints(model_dir, mirrored_teacher[0], 1e-4)


def readme_commands(section_start):
    """The `mobilebert-train` commands of the README code block after `section_start`."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(repo, "README.md"), encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"```bash\n(.*?)```", text[text.index(section_start):], re.S).group(1)
    joined = block.replace("\\\n", " ")
    return [line.split("mobilebert-train", 1)[1] for line in joined.splitlines()
            if "mobilebert-train" in line]


@pytest.mark.slow
def test_readme_cloud_tpu_commands_run_with_every_path_on_ram():
    commands = readme_commands("On Cloud TPU the same commands run")
    assert [c.split()[:2] for c in commands] == [["--mode", "teacher"], ["--mode", "distill"]]
    # As written, with gs:// -> ram:// and, for a CPU, the default strategy, 2 narrower
    # layers and a few steps (later flags win).
    common = ("--strategy default --overrides num_layers=2,vocab_size=1000,intra_size=128,"
              "intermediate_size=128 --seq_length 32 --max_predictions 5 --batch_size 8 "
              "--checkpoint_every 2 ")
    shrink = {"teacher": common + "--steps 3 --warmup_steps 1",
              "distill": common + "--transfer_steps 1 --pd_steps 2 --pd_warmup_steps 1"}
    script = f"""
import shlex
from absl import flags
from tpu import train
from mobilebert_tf.data.synthetic_records import synthetic_examples, write_pretraining_records
import tensorflow as tf
for i in range(2):
    write_pretraining_records(f"ram://my-bucket/records/part-{{i}}.tfrecord",
                              synthetic_examples(32, 32, 5, 1000, seed=i))
for command in {[c.replace("gs://", "ram://") for c in commands]!r}:
    argv = shlex.split(command)
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", *argv, *{shrink!r}[argv[1]].split()])
    train.main([])
for run in ("ib_bert_large", "mobilebert"):
    print(run, sorted(tf.io.gfile.listdir(f"ram://my-bucket/{{run}}")))
"""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=600, cwd=repo, env=dict(
                                os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""))
    assert result.returncode == 0, result.stderr[-4000:]
    listed = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                  if line.startswith(("ib_bert_large ", "mobilebert ")))
    assert "'ckpt-3.index'" in listed["ib_bert_large"] and "'summaries'" in listed["ib_bert_large"]
    assert "'ckpt-4.index'" in listed["mobilebert"]  # 2 layers x 1 transfer step + 2 PD steps
