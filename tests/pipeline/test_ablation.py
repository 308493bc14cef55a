"""experiments/ablation.py: one compute budget for every variant, the claims read off the
means, and a smoke run end to end (in process) that a rerun skips."""

import dataclasses
import glob
import json
import math
import os

import pytest

from experiments import ablation
from mobilebert_tf import demo, fileio, run
from mobilebert_tf.demo import SMOKE_CONFIG, DemoConfig
from mobilebert_tf.run.command_line import command_line


@pytest.mark.parametrize("config", [DemoConfig(), SMOKE_CONFIG], ids=["demo", "smoke"])
def test_every_variant_trains_the_budget(config):
    ablation.check_budgets(list(ablation.VARIANTS), config)
    with pytest.raises(ValueError, match="pkt_no_pd would train 9 steps, not the budget 10"):
        ablation.check_budgets(["pkt", "pkt_no_pd"], dataclasses.replace(
            config, num_layers=3, transfer_steps=2, pd_steps=4))


def test_variant_configs():
    student = demo.student_config("student", "records/*", 800, "teacher", DemoConfig())
    no_at = ablation.variant_config("pkt_no_at", student)
    assert no_at == dataclasses.replace(student, attention_transfer=False)
    assert "--noattention_transfer" in command_line(no_at)
    assert ablation.variant_config("pkt_no_pd", student).pd_steps == 0
    assert ablation.variant_config("pkt_lower_0.1", student).lower_multiplier == 0.1
    none = ablation.variant_config("none", student)
    assert isinstance(none, run.PretrainConfig) and none.preset == DemoConfig().student_preset
    assert (none.learning_rate, none.model_dir) == (student.learning_rate, student.model_dir)
    assert command_line(none).startswith("mobilebert-train --mode teacher ")
    assert none.dropout and ablation.variant_config("none_no_dropout", student) == \
        dataclasses.replace(none, dropout=False)


def test_bad_variants_and_seeds_are_rejected():
    with pytest.raises(ValueError, match=r"Unknown variant\(s\) \['pkd'\]"):
        ablation.check_variants(["pkt", "pkd"])
    with pytest.raises(ValueError, match="at least one"):
        ablation.parse_seeds([])
    with pytest.raises(ValueError, match="integers"):
        ablation.parse_seeds(["0", "x"])


def test_claims_are_read_off_the_means_beyond_seed_noise():
    # Two seeds at mean -+ 0.01: a std of 0.0141, so a gap of 0.005 is within seed noise.
    means = {"pkt": 0.5, "jkt": 0.4, "akt": 0.45, "none": 0.3, "pkt_no_fmt": 0.35,
             "pkt_no_at": 0.48}
    close = {**means, "jkt": 0.495, "akt": 0.4}  # jkt within noise of pkt, above akt
    rows = [{"variant": v, "seed": s, "mlm_accuracy": m + d, "dev_accuracy": m + d,
             "order_probe_accuracy": close[v] + d, "word_order_accuracy": m + d}
            for v, m in means.items() for s, d in enumerate((-0.01, 0.01))]
    claims = ablation.evaluate_claims(ablation.summarize(rows))
    verdicts = {(c["claim"][:8], c["metric"]): c["verdict"] for c in claims}
    assert verdicts[("PKT >= J", "dev_accuracy")] == "does not hold"  # jkt < akt
    assert verdicts[("PKT >= J", "order_probe_accuracy")] == "not separated"
    assert verdicts[("feature-", "dev_accuracy")] == "holds"  # pkt_no_pd not run
    assert verdicts[("every di", "mlm_accuracy")] == "holds"
    detail = next(c["detail"] for c in claims if c["claim"].startswith("feature-"))
    assert "not run: pkt_no_pd" in detail and "gap +0.1300" in detail
    detail = next(c["detail"] for c in claims if c["claim"].startswith("PKT >= J")
                  and c["metric"] == "order_probe_accuracy")
    assert "gap +0.0050, within seed noise" in detail


def test_results_are_written_to_a_bucket_path(ram_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # builtin file I/O on "ram://..." would write under ./ram:/
    rows = [{"variant": v, "seed": 0, "mlm_accuracy": 0.3, "dev_accuracy": 0.6,
             "order_probe_accuracy": 0.7, "word_order_accuracy": 0.55} for v in ("pkt", "none")]
    summary = ablation.summarize(rows)
    results = {"command": "python -m experiments.ablation", "config": dataclasses.asdict(
        SMOKE_CONFIG), "budget_steps": 8, "seeds": [0],
        "majority_class_accuracy": 0.5, "runs": rows, "summary": summary,
        "word_order": {"naive_bayes_1gram": 0.5, "naive_bayes_2gram": 0.56,
                       "probe_sentences": 100},
        "teacher": {"mlm_accuracy": ablation.statistics_of([0.4]),
                    "order_probe_accuracy": ablation.statistics_of([0.8])},
        "claims": ablation.evaluate_claims(summary)}
    ablation.write_results(f"{ram_path}/out", results)
    assert list(tmp_path.iterdir()) == []
    assert fileio.read_json(f"{ram_path}/out/results.json") == results
    table = fileio.read_text(f"{ram_path}/out/results.md")
    assert "| pkt |" in table
    assert "| teacher | the teacher itself (reference) | 0.4000 | 0.8000 | not run | not run |" \
        in table
    assert fileio.read_bytes(f"{ram_path}/out/ablation.png")[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_smoke_ablation_writes_results_and_reruns_skip(smoke_demo, tmp_path, capsys):
    work_dir, output_dir = smoke_demo[0], tmp_path / "out"  # reuses the demo's teacher
    # One variant, the one that is not the demo's distillation (that runs in the demo test);
    # every variant trains through the same `train_student` (about 25 s each here).
    command = "python -m experiments.ablation --smoke --seeds 0 --variants none"

    def ablate():
        ablation.ablate(str(work_dir), SMOKE_CONFIG, SMOKE_CONFIG, ["none"], [0],
                        str(output_dir), command)
        return capsys.readouterr().out

    assert "$ mobilebert-train --mode teacher" in ablate()  # the `none` variant
    with open(output_dir / "results.json") as f:
        results = json.load(f)
    assert [(r["variant"], r["seed"]) for r in results["runs"]] == [("none", 0)]
    for stats in [results["runs"][0], {m: s["mean"] for m, s in results["teacher"].items()}]:
        for metric in ablation.METRICS:  # the teacher's row too: the reference
            assert math.isfinite(stats[metric]) and 0.0 <= stats[metric] <= 1.0
    assert 0.5 <= results["majority_class_accuracy"] < 1.0
    assert results["word_order"]["probe_sentences"] > 100
    assert results["command"] == command
    table = (output_dir / "results.md").read_text()
    assert "| none |" in table and "| teacher |" in table and results["command"] in table
    assert (output_dir / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    done = sorted(glob.glob(str(work_dir / "ablation" / "*" / "seed_0" / "*" / "done.json")))
    # The variant's student, probe, sentiment and word-order fine-tuning; the teacher's two.
    assert len(done) == 4 + 2
    mtimes = [os.path.getmtime(p) for p in done]
    # Demo stages 1-4, the word-order data, the run's four, the teacher's probe and two.
    assert ablate().count("done before, skipped.") == 4 + 1 + 4 + 1 + 2
    assert [os.path.getmtime(p) for p in done] == mtimes
