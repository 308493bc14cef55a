"""`make demo`'s pipeline at smoke sizes (what CI runs): every stage writes its result, the
summary reads them all, a rerun skips everything, and a work_dir of other settings is refused."""

import json
import os

import pytest

from mobilebert_tf.demo import SMOKE_CONFIG, DemoConfig, Pipeline
from mobilebert_tf.export.tflite import PRECISIONS
from mobilebert_tf.testing import run_module

STAGES = ("corpus", "vocab", "records", "teacher", "student", "finetune", "export", "accuracy",
          "latency")
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
    # The student is the smaller model, teacher and student share the vocab.
    assert results["student"]["params"]["total"] < results["teacher"]["params"]["total"]
    for precision in PRECISIONS:
        assert os.path.exists(results["export"]["files"][precision])
        assert 0.0 <= results["accuracy"]["accuracy"][precision] <= 1.0
    assert results["export"]["bytes"]["int8"] < 0.5 * results["export"]["bytes"]["float32"]
    timed = {l["name"] for l in results["latency"]["latencies"]}
    assert timed == {f"demo student {p}" for p in PRECISIONS}
    summary = (work_dir / "summary" / "summary.md").read_text()
    assert "held-out MLM accuracy" in summary and "| int8 |" in summary
    for plot in (work_dir / "summary" / "losses.png", work_dir / "latency" / "latency.png"):
        assert plot.read_bytes()[:8] == PNG
    assert "$ python -m tpu.train --mode distill" in stdout


@pytest.mark.slow
def test_smoke_demo_rerun_skips_finished_stages(smoke_demo):
    work_dir, _ = smoke_demo
    done = {s: os.path.getmtime(work_dir / s / "done.json") for s in STAGES}
    rerun = run_module("mobilebert_tf.demo", ["--smoke", "--work_dir", str(work_dir)])
    assert rerun.stdout.count("done before, skipped.") == len(STAGES)
    assert {s: os.path.getmtime(work_dir / s / "done.json") for s in STAGES} == done


def test_work_dir_of_other_settings_is_refused(tmp_path):
    Pipeline(str(tmp_path), SMOKE_CONFIG, num_stages=1)
    with pytest.raises(ValueError, match=r"other settings \(\['batch_size'"):
        Pipeline(str(tmp_path), DemoConfig(), num_stages=1)
    Pipeline(str(tmp_path), SMOKE_CONFIG, num_stages=1)  # the same settings resume
