import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                        create_pretraining_records)
from mobilebert_tf.data.pretraining_dataset import pretraining_dataset, to_model_inputs

SEQ, PRED = 32, 5


@pytest.fixture(scope="module")
def files(corpus_file, tmp_path_factory):
    config = PretrainingDataConfig(seq_length=SEQ, max_predictions_per_seq=PRED, dupe_factor=2,
                                   shards_per_dupe=2)
    return create_pretraining_records(corpus_file, str(tmp_path_factory.mktemp("r")),
                                      config=config, progress=False)["files"]


def _take(ds, n):
    return [{k: v.numpy() for k, v in b.items()} for b in ds.take(n)]


def test_static_shapes_and_dtypes(files):
    ds = pretraining_dataset(files, SEQ, PRED, global_batch_size=4, seed=1)
    spec = ds.element_spec
    assert spec["input_word_ids"].shape == (4, SEQ) and spec["input_word_ids"].dtype == tf.int32
    assert spec["input_mask"].shape == (4, SEQ) and spec["input_type_ids"].shape == (4, SEQ)
    assert spec["masked_lm_positions"].shape == (4, PRED)
    assert spec["masked_lm_ids"].dtype == tf.int32
    assert spec["masked_lm_weights"].dtype == tf.float32
    assert spec["next_sentence_labels"].shape == (4, 1)


def test_same_seed_same_order_other_seed_differs(files):
    a = _take(pretraining_dataset(files, SEQ, PRED, 4, seed=5), 3)
    b = _take(pretraining_dataset(files, SEQ, PRED, 4, seed=5), 3)
    c = _take(pretraining_dataset(files, SEQ, PRED, 4, seed=6), 3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["input_word_ids"], y["input_word_ids"])
    assert any((x["input_word_ids"] != z["input_word_ids"]).any() for x, z in zip(a, c))


def test_each_input_pipeline_reads_its_own_files(files):
    def ids(ctx):
        ds = pretraining_dataset(files, SEQ, PRED, global_batch_size=4, input_context=ctx,
                                 shuffle=False, repeat=False)
        return [tuple(row) for b in ds for row in b["input_word_ids"].numpy()]

    full = ids(None)
    parts = [ids(tf.distribute.InputContext(2, i, 2)) for i in range(2)]
    batch = next(iter(pretraining_dataset(files, SEQ, PRED, 4, tf.distribute.InputContext(2, 0, 2))))
    assert batch["input_word_ids"].shape == (2, SEQ)  # Per-replica batch.
    assert set(parts[0]).isdisjoint(parts[1])
    assert len(parts[0]) + len(parts[1]) >= len(full) - 8  # Only drop_remainder tails differ.
    with pytest.raises(ValueError, match="cannot be split over 8 input pipelines"):
        pretraining_dataset(files, SEQ, PRED, 8, tf.distribute.InputContext(8, 0, 8))


def test_no_files_and_bad_names(tmp_path):
    with pytest.raises(ValueError, match="No pretraining records match"):
        pretraining_dataset(str(tmp_path / "*.tfrecord"), SEQ, PRED, 4)
    with pytest.raises(ValueError, match="Not BERT pretraining record features: \\['input_word_ids'\\]"):
        to_model_inputs({"input_word_ids": tf.zeros([2], tf.int64)})
    renamed = to_model_inputs({"input_ids": tf.zeros([2], tf.int64),
                               "segment_ids": tf.ones([2], tf.int64)})
    assert set(renamed) == {"input_word_ids", "input_type_ids"}
    assert renamed["input_word_ids"].dtype == tf.int32
