import re

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                        create_pretraining_records)
from mobilebert_tf.data.pretraining_dataset import (POSITION_KEY, check_record_shapes,
                                                    pretraining_dataset, resume_start,
                                                    to_model_inputs)
from mobilebert_tf.data.synthetic_records import synthetic_examples, write_pretraining_records

SEQ, PRED = 32, 5


@pytest.fixture(scope="module")
def files(corpus_file, tmp_path_factory):
    config = PretrainingDataConfig(seq_length=SEQ, max_predictions_per_seq=PRED, dupe_factor=2,
                                   num_shards=4)
    return create_pretraining_records(corpus_file, str(tmp_path_factory.mktemp("r")),
                                      config=config)["files"]


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
    with pytest.raises(ValueError, match="No pretraining records match 'ram://nowhere/"):
        pretraining_dataset("ram://nowhere/*.tfrecord", SEQ, PRED, 4)
    with pytest.raises(ValueError, match="Not BERT pretraining record features: \\['input_word_ids'\\]"):
        to_model_inputs({"input_word_ids": tf.zeros([2], tf.int64)})
    renamed = to_model_inputs({"input_ids": tf.zeros([2], tf.int64),
                               "segment_ids": tf.ones([2], tf.int64)})
    assert set(renamed) == {"input_word_ids", "input_type_ids"}
    assert renamed["input_word_ids"].dtype == tf.int32


@pytest.fixture
def ram_records(ram_path):
    """Five record files of 37-41 synthetic examples (seq 16, 3 predictions) on ram://."""
    for i in range(5):
        write_pretraining_records(f"{ram_path}/r-{i}.tfrecord",
                                  synthetic_examples(37 + i, 16, 3, 50, seed=i))
    return f"{ram_path}/r-*.tfrecord"


def _ids(batches):
    return [b["input_word_ids"].numpy() for b in batches]


def test_bucket_records_round_trip_in_file_order(ram_records, ram_path):
    first = next(iter(pretraining_dataset(f"{ram_path}/r-0.tfrecord", 16, 3, 37,
                                          shuffle=False, repeat=False)))
    expected = list(synthetic_examples(37, 16, 3, 50, seed=0))
    np.testing.assert_array_equal(first["input_word_ids"],
                                  np.stack([e["input_ids"] for e in expected]))
    np.testing.assert_array_equal(first["input_type_ids"],
                                  np.stack([e["segment_ids"] for e in expected]))
    one_pass = sum(b["input_mask"].shape[0] for b in pretraining_dataset(
        ram_records, 16, 3, 1, shuffle=False, repeat=False, files_per_window=2))
    assert one_pass == sum(37 + i for i in range(5))


def test_resuming_after_a_position_continues_the_same_order(ram_records):
    def dataset(**kwargs):
        return pretraining_dataset(ram_records, 16, 3, 4, seed=1, with_position=True,
                                   files_per_window=2, shuffle_block=10, **kwargs)

    full = list(dataset().take(120))  # 480 records: about 2.5 passes over the 195
    # Positions count records within windows: each batch ends 4 records after the last.
    positions = [tuple(b[POSITION_KEY].numpy()) for b in full]
    assert positions[0] == (0, 0, 3) and positions[1] == (0, 0, 7)
    assert len({p[1] for p in positions}) >= 7  # windows of 2, 2, 1 files per pass
    for k in (0, 10, 47, 100):
        resumed = list(dataset(start=positions[k][1:]).take(5))
        for a, b in zip(_ids(full[k + 1:k + 6]), _ids(resumed)):
            np.testing.assert_array_equal(a, b)
    # Every pass reads every record once, in another order.
    first_pass = np.concatenate(_ids(full))[:195]
    second_pass = np.concatenate(_ids(full))[195:390]
    assert sorted(map(tuple, first_pass)) == sorted(map(tuple, second_pass))
    assert (first_pass != second_pass).any()


def test_resume_start_takes_each_pipelines_last_position():
    positions = np.array([[0, 3, 7], [1, 2, 9], [0, 3, 11], [1, 2, 13]])
    assert resume_start(positions, tf.distribute.InputContext(2, 0, 4)) == (3, 11)
    assert resume_start(positions, tf.distribute.InputContext(2, 1, 4)) == (2, 13)
    assert resume_start(np.full([2, 3], -1), None) is None
    assert resume_start(None, None) is None
    with pytest.raises(ValueError, match=r"input pipelines \[0, 1\], but this run has 1"):
        resume_start(positions, None)


def test_record_shapes_are_checked_before_reading(ram_records, ram_path):
    files = tf.io.gfile.glob(ram_records)
    check_record_shapes(files, 16, 3)
    with pytest.raises(ValueError, match="has seq_length 16 and max_predictions 3, but "
                                         "seq_length=128 and max_predictions=3"):
        check_record_shapes(files, 128, 3)
    # Every file's first record, not only the first file's: features present, of their type,
    # and a file that is not a record file, each named.
    good = sorted(files)[0]
    example = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset([good]))).numpy())
    bad_records = {"floats": _with(example, "input_ids", [0.0] * 16),
                   "missing": _with(example, "segment_ids", None)}
    for name, bad in bad_records.items():
        with tf.io.TFRecordWriter(f"{ram_path}/bad/{name}.tfrecord") as writer:
            writer.write(bad.SerializeToString())
    with tf.io.gfile.GFile(f"{ram_path}/bad/text.tfrecord", "w") as f:
        f.write("not a record file\n")
    bad = f"{ram_path}/bad"
    for name, message in [
            ("floats", f"{bad}/floats.tfrecord: pretraining features of the wrong type "
                       "{'input_ids': 'float_list'}"),
            ("missing", f"{bad}/missing.tfrecord lacks pretraining features ['segment_ids']"),
            ("text", f"Cannot read {bad}/text.tfrecord")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            check_record_shapes([good, f"{bad}/{name}.tfrecord"], 16, 3)


def _with(example, name, floats):
    """A copy of `example` whose feature `name` is removed (`floats` None) or a float list."""
    changed = tf.train.Example.FromString(example.SerializeToString())
    del changed.features.feature[name]
    if floats is not None:
        changed.features.feature[name].float_list.value.extend(floats)
    return changed
