"""The pretraining record writer/reader."""

import numpy as np
import pytest

from mobilebert_tf.training.records import (check_record_shapes, pretraining_dataset,
                                            synthetic_examples, write_pretraining_records)


@pytest.fixture
def record_file(tmp_path):
    path = str(tmp_path / "r.tfrecord")
    write_pretraining_records(path, synthetic_examples(12, 16, 3, 50, seed=0))
    return path


def test_round_trip_and_renaming(record_file):
    first = next(iter(pretraining_dataset(record_file, 16, 3, batch_size=12, shuffle_buffer=0,
                                          repeat=False)))
    expected = list(synthetic_examples(12, 16, 3, 50, seed=0))
    np.testing.assert_array_equal(first["input_word_ids"],
                                  np.stack([e["input_ids"] for e in expected]))
    np.testing.assert_array_equal(first["input_type_ids"],
                                  np.stack([e["segment_ids"] for e in expected]))
    assert first["next_sentence_labels"].shape == (12,)
    assert first["masked_lm_weights"].dtype.name == "float32"
    assert set(first) == {"input_word_ids", "input_mask", "input_type_ids",
                          "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
                          "next_sentence_labels"}


def test_skip_batches_resumes_the_same_order(record_file):
    full = [b["input_word_ids"].numpy() for b in
            pretraining_dataset(record_file, 16, 3, batch_size=2, seed=3).take(8)]
    resumed = [b["input_word_ids"].numpy() for b in
               pretraining_dataset(record_file, 16, 3, batch_size=2, seed=3,
                                   skip_batches=5).take(3)]
    for a, b in zip(full[5:], resumed):
        np.testing.assert_array_equal(a, b)


def test_shape_mismatch_and_missing_files_are_clear(record_file, tmp_path):
    with pytest.raises(ValueError, match="seq_length 16 and max_predictions 3, but the flags "
                                         "say 128 and 3"):
        check_record_shapes([record_file], 128, 3)
    with pytest.raises(FileNotFoundError, match="No record files"):
        pretraining_dataset(str(tmp_path / "none-*.tfrecord"), 16, 3, 2)
