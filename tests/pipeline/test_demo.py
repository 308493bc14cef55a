"""`make demo`'s pipeline at smoke sizes (what CI runs), in process: every stage writes its
result, the summary reads them all, a rerun skips everything, a stage made with other
settings is refused, and the `mobilebert-train` commands it prints make the configs it runs."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from mobilebert_tf import demo, fileio
from mobilebert_tf.demo import SMOKE_CONFIG, STAGES, Pipeline
from mobilebert_tf.demo.config import setting
from mobilebert_tf.demo.report import scalar_series
from mobilebert_tf.demo.stages import word_order_data
from mobilebert_tf.export.tflite import PRECISIONS

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_smoke_demo_runs_every_stage(smoke_demo):
    work_dir, stdout = smoke_demo
    with open(work_dir / "summary.json") as f:
        results = json.load(f)
    assert set(STAGES) <= set(results)
    assert results["vocab"]["size"] <= SMOKE_CONFIG.vocab_size
    assert results["records"]["train"]["examples"] > results["records"]["heldout"]["examples"] > 0
    for stage in ("teacher", "student"):
        assert 0.0 <= results[stage]["mlm_accuracy"] <= 1.0
        kl = results[stage]["attention_kl"]
        assert len(kl) == SMOKE_CONFIG.num_layers and all(v >= 0.0 for v in kl)
    # Layer transfer measured at every distillation stage's end: PKT's layers, then PD.
    ends = results["student"]["stage_ends"]
    assert [row["stage"] for row in ends] == [f"pkt_layer_{l}" for l in
                                              range(SMOKE_CONFIG.num_layers)] + ["pd"]
    assert all(len(row["fmt"]) == len(row["at"]) == SMOKE_CONFIG.num_layers for row in ends)
    # The student is the smaller model, teacher and student share the vocab.
    assert results["student"]["params"]["total"] < results["teacher"]["params"]["total"]
    for precision in PRECISIONS:
        assert os.path.exists(results["export"]["files"][precision])
        assert 0.0 <= results["accuracy"]["accuracy"][precision] <= 1.0
        on_device = results["accuracy"]["mediapipe"][precision]  # MediaPipe, from raw text
        assert 0.0 <= on_device["accuracy"] <= 1.0 and on_device["same_as_litert"] == 1.0
        # And in the Task Library (`make test` names its Python; the runtime tests say more).
        on_device = results["accuracy"].get("task_library", {}).get(precision, {})
        assert "accuracy" in on_device, on_device  # not refused, not skipped
        assert 0.0 <= on_device["accuracy"] <= 1.0
        if "float" in precision:  # its int8 kernels are its own
            assert on_device["same_as_litert"] == 1.0
    assert results["export"]["bytes"]["int8"] < 0.5 * results["export"]["bytes"]["float32"]
    timed = {l["name"] for l in results["latency"]["latencies"]}
    assert timed == {f"demo student {p}" for p in PRECISIONS}
    real_text = results["latency"]["real_text"]  # fixed vs length-adaptive files, per text
    assert real_text["buckets"] == [16, SMOKE_CONFIG.seq_length]
    assert [l["precision"] for l in real_text["latencies"]] == list(PRECISIONS)
    for latency in real_text["latencies"]:
        assert os.path.exists(results["export"]["adaptive_files"][latency["precision"]])
        assert latency["top1_agreement"] == {"adaptive": 1.0, "bucketed": 1.0}
    summary = (work_dir / "summary" / "summary.md").read_text()
    assert "held-out MLM accuracy" in summary and "| int8 |" in summary
    assert "Task Library from raw text" in summary and "refused" not in summary
    assert "attention KL from uniform" in summary and "length-adaptive twins" in summary
    assert "| pkt_layer_0 | " in summary and "Before PD the student" in summary
    word_order = results["word_order"]
    assert word_order["train_examples"] > word_order["dev_examples"] > 0
    assert 0.0 <= word_order["best_dev_accuracy"] <= 1.0 and "Word order (" in summary
    assert word_order["probe_sentences"] > 100 and "Word order without fine-tuning" in summary
    for accuracy in word_order["probe_accuracy"].values():  # the teacher's and the student's
        assert 0.0 <= accuracy <= 1.0
    for plot in (work_dir / "summary" / "losses.png", work_dir / "latency" / "latency.png"):
        assert plot.read_bytes()[:8] == PNG
    assert "$ mobilebert-train --mode distill" in stdout


@pytest.mark.slow
def test_smoke_demo_rerun_skips_finished_stages(smoke_demo, capsys):
    work_dir, _ = smoke_demo
    done = {s: os.path.getmtime(work_dir / s / "done.json") for s in STAGES}
    demo.run_demo(str(work_dir), SMOKE_CONFIG)
    assert capsys.readouterr().out.count("done before, skipped.") == len(STAGES)
    assert {s: os.path.getmtime(work_dir / s / "done.json") for s in STAGES} == done


def test_stages_made_with_other_settings_are_refused(tmp_path):
    def never(out):
        raise AssertionError("a finished stage ran again")

    Pipeline(str(tmp_path), SMOKE_CONFIG, STAGES, num_stages=2).run("vocab",
                                                                    lambda out: {"size": 9})
    # A field of a later stage: the vocab is reused.
    later = dataclasses.replace(SMOKE_CONFIG, finetune_learning_rate=1.0)
    assert Pipeline(str(tmp_path), later, STAGES, 1).run("vocab", never)["size"] == 9
    for changed in ({"vocab_size": 7}, {"max_plays": 3}):  # its own field, an earlier one's
        other = dataclasses.replace(SMOKE_CONFIG, **changed)
        with pytest.raises(ValueError, match=rf"vocab was made with other settings "
                                             rf"\(\['{next(iter(changed))}'\]\); delete it"):
            Pipeline(str(tmp_path), other, STAGES, 1).run("vocab", never)


def test_bookkeeping_on_a_bucket_work_dir(ram_path, tmp_path, monkeypatch, capsys):
    """The demo's own file I/O with a work_dir only `tf.io.gfile` can use, as a `gs://` one:
    corpus, vocab and records for real, the training, export, accuracy and latency stages
    faked (each writing what the summary reads). done.json, the corpus, summary.md,
    losses.png, summary.json and the converter log all land there, nothing locally; a rerun
    skips every stage and other settings are refused."""
    monkeypatch.chdir(tmp_path)  # builtin file I/O on "ram://..." would write under ./ram:/

    def never(*args):
        raise AssertionError("a finished stage ran again")

    def train(out, role):
        with tf.summary.create_file_writer(tf.io.gfile.join(out, "summaries")).as_default():
            for step in (1, 2, 3):
                tf.summary.scalar("loss/loss", 1.0 / step, step=step)
        return {"checkpoint": out, "mlm_accuracy": 0.25,
                "params": {"total": 200 if role == "teacher" else 100}}

    def export(out, *args):
        with fileio.native_logs_to(tf.io.gfile.join(out, "convert.log")):
            os.write(2, b"converter log line\n")
        return {"files": {"int8": fileio.write_bytes(tf.io.gfile.join(out, "int8.tflite"),
                                                     b"tflite")},
                "bytes": {"float32": 12, "int8": 6}}

    fakes = {  # by stage
        "teacher": lambda out, *args: train(out, "teacher"),
        "student": lambda out, *args: train(out, "student"),
        "finetune": lambda out, *args: {**train(out, "finetune"), "model": f"{out}/m.keras",
                                        "best_dev_accuracy": 0.5, "best_step": 3},
        # The word-order task's files are written for real (from the held-out text).
        "word_order": lambda out, config, done: {
            **word_order_data(f"{out}/data", done["corpus"]["files"]["heldout"]),
            "best_dev_accuracy": 0.5, "best_step": 3},
        "export": export,
        "accuracy": lambda *args: {"examples": 4, "accuracy": {"int8": 0.5},
                                   "agreement": {"int8": 1.0}},
        "latency": lambda *args: {"num_threads": 1, "rounds": 1, "table": "(table)",
                                  "real_text": {"buckets": [16], "table": "(real)"}}}
    for name, fake in fakes.items():
        monkeypatch.setitem(STAGES, name, fake)
    demo.run_demo(ram_path, SMOKE_CONFIG)

    assert list(tmp_path.iterdir()) == []
    for stage in STAGES:
        done = fileio.read_json(f"{ram_path}/{stage}/done.json")
        assert done.pop("settings") == dataclasses.asdict(SMOKE_CONFIG)
    results = fileio.read_json(f"{ram_path}/summary.json")
    assert set(results) == {*STAGES, "summary"}
    assert results["corpus"]["files"]["train"] == f"{ram_path}/corpus/train.txt"
    assert fileio.read_text(results["corpus"]["files"]["heldout"]).strip()
    assert "| int8 | 0.5000 | 100.00% |" in fileio.read_text(results["summary"]["summary"])
    assert fileio.read_text(f"{ram_path}/word_order/data/validation.tsv").startswith(
        "sentence\tlabel\n")
    assert fileio.read_bytes(results["summary"]["losses_plot"])[:8] == PNG
    assert scalar_series(f"{ram_path}/teacher/summaries", "loss/loss") == (
        [1, 2, 3], [1.0, 0.5, pytest.approx(1 / 3)])
    log = f"{ram_path}/export/convert.log"
    with fileio.native_logs_to(log):  # appends, as to a local file
        os.write(2, b"second line\n")
    assert fileio.read_text(log) == "converter log line\nsecond line\n"

    capsys.readouterr()
    for name in fakes:
        monkeypatch.setitem(STAGES, name, never)
    demo.run_demo(ram_path, SMOKE_CONFIG)
    assert capsys.readouterr().out.count("done before, skipped.") == len(STAGES)
    other = dataclasses.replace(SMOKE_CONFIG, vocab_size=7)
    with pytest.raises(ValueError, match=r"vocab was made with other settings"):
        demo.run_demo(ram_path, other)


def test_a_setting_of_no_stage_is_refused(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class Config:
        vocab_size: int = setting("vocab", 8)
        steps: int = setting("teacher", 1)  # a stage the pipeline does not have

    with pytest.raises(ValueError, match=r"Config.steps names the stage 'teacher'"):
        Pipeline(str(tmp_path), Config(), ("corpus", "vocab"), 2)


def test_printed_commands_make_the_configs_the_demo_runs():
    # In a subprocess: tpu/train.py defines its flags on import, and other modules imported by
    # this pytest process (tf-models-official's create_pretraining_data) define some of the
    # same names.
    script = """
import shlex
from mobilebert_tf import demo, stored_config
from mobilebert_tf.run.command_line import command_line
from tpu import train
vocab = {"file": "vocab.txt", "size": 800}
smoke = demo.SMOKE_CONFIG
student = demo.student_config("ram://student", "records/*", 800, "teacher", smoke)
stored_config.write_model_config(student.model_dir, student.model_config())  # as distill does
configs = (demo.teacher_config("teacher", "records/*", 800, smoke), student,
           demo.finetune_config("finetune", student.model_dir, vocab, smoke))
for config in configs:
    command = command_line(config)
    assert command.startswith("mobilebert-train --mode "), command
    train.FLAGS(shlex.split(command))  # argv[0] is mobilebert-train
    assert type(config)(**train.config_values()) == config, command
    train.FLAGS.unparse_flags()
    print("same config:", command.split()[2])
"""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True,
                            text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=repo))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [f"same config: {mode}"
                                          for mode in ("teacher", "distill", "finetune")]