"""The demo task: a 2-layer `mobilebert_mini` from random weights learns Rotten Tomatoes
fresh/rotten well above chance within a minute on 2 CPU cores, seeded."""

import os

import pytest

from mobilebert_tf.finetune.sentiment_demo import DEMO_SETTINGS, finetune_sentiment

# Measured with DEMO_SETTINGS, seeds 0-3: best dev accuracy 0.750-0.765 on the balanced
# 400-example dev subset (chance 0.5); 0.70 leaves a margin of ~0.05.
MIN_ACCURACY = 0.70


@pytest.mark.slow
def test_sentiment_demo_beats_chance_and_plots(tmp_path):
    result = finetune_sentiment(str(tmp_path / "sentiment"), seed=0)
    steps = [h["step"] for h in result.history]
    assert steps == list(range(250, DEMO_SETTINGS["steps"] + 1, 250))
    assert result.score == "accuracy" and result.best_score >= MIN_ACCURACY, result.history
    assert result.best_score == max(h["accuracy"] for h in result.history)
    assert os.path.getsize(result.files["plot"]) > 10_000  # a PNG with a curve
    with open(result.files["validation_tsv"]) as f:
        rows = f.read().splitlines()
    assert rows[0] == "index\tprediction" and len(rows) == 401
    assert {r.split("\t")[1] for r in rows[1:]} <= {"rotten", "fresh"}
