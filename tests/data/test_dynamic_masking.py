"""Dynamic masking: unmasked records from the Beam pipeline, masks drawn by the input
pipeline anew at every read, by BERT's rule, and the same again on resume."""

import logging
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                        create_pretraining_records)
from mobilebert_tf.data.pretraining_dataset import (POSITION_KEY, check_record_shapes,
                                                    pretraining_dataset)
from mobilebert_tf.data.synthetic_records import synthetic_examples, write_pretraining_records
from mobilebert_tf.errors import InputError

SEQ, PRED = 64, 10


@pytest.fixture(scope="module")
def files(corpus_file, tmp_path_factory):
    config = PretrainingDataConfig(seq_length=SEQ, max_predictions_per_seq=PRED, dupe_factor=1,
                                   dynamic_masking=True, num_shards=2)
    return create_pretraining_records(corpus_file, str(tmp_path_factory.mktemp("unmasked")),
                                      config=config)["files"]


def _flat(batches):
    """Batches as one dict of arrays, one row per example."""
    return {k: np.concatenate([b[k].numpy() for b in batches])
            for k in batches[0] if k != POSITION_KEY}


def _originals(rows):
    """`input_word_ids` with the masked-LM labels put back."""
    ids = rows["input_word_ids"].copy()
    r, c = np.nonzero(rows["masked_lm_weights"])
    ids[r, rows["masked_lm_positions"][r, c]] = rows["masked_lm_ids"][r, c]
    return ids


def test_masks_follow_bert_rule_and_change_at_every_read(files, vocab, caplog):
    # On absl's logger itself: whether it reaches the root logger's capture depends on what
    # ran before in this process (absl's handler set-up).
    absl_logger = logging.getLogger("absl")
    with caplog.at_level(logging.INFO, logger="absl"):
        absl_logger.addHandler(caplog.handler)
        try:
            ds = pretraining_dataset(files[0], SEQ, PRED, global_batch_size=16, shuffle=False)
        finally:
            absl_logger.removeHandler(caplog.handler)
    assert "unmasked (dynamic masking)" in caplog.text
    n = sum(1 for _ in tf.data.TFRecordDataset(files[0]))
    rows = _flat(list(ds.take(2 * n // 16 + 1)))
    weights = rows["masked_lm_weights"]
    original = _originals(rows)
    r, c = np.nonzero(weights)
    positions = rows["masked_lm_positions"][r, c]
    # Never [CLS], [SEP] or padding; as many targets as static masking draws.
    assert not np.isin(original[r, positions], [vocab.cls_id, vocab.sep_id]).any()
    assert (rows["input_mask"][r, positions] == 1).all()
    candidates = ((rows["input_mask"] == 1) & ~np.isin(original, [vocab.cls_id, vocab.sep_id])
                  ).sum(axis=1)
    np.testing.assert_array_equal(weights.sum(axis=1),
                                  np.minimum(PRED, np.maximum(1, np.round(0.15 * candidates))))
    corrupted = rows["input_word_ids"][r, positions]
    labels = rows["masked_lm_ids"][r, c]
    assert len(labels) > 10_000
    assert abs(np.mean(corrupted == vocab.mask_id) - 0.8) < 0.02
    assert abs(np.mean(corrupted == labels) - 0.1) < 0.02
    assert abs(np.mean((corrupted != vocab.mask_id) & (corrupted != labels)) - 0.1) < 0.02
    # The second pass reads the same examples (unshuffled) with other masks.
    np.testing.assert_array_equal(original[:n], original[n:2 * n])
    changed = (rows["masked_lm_positions"][:n] != rows["masked_lm_positions"][n:2 * n]).any(1)
    assert changed.mean() > 0.95


def test_resumed_run_draws_the_same_masks(files):
    def dataset(**kwargs):
        return pretraining_dataset(files, SEQ, PRED, 8, seed=4, with_position=True,
                                   files_per_window=2, shuffle_block=50, **kwargs)

    full = list(dataset().take(40))
    for k in (0, 17, 33):
        resumed = list(dataset(start=full[k][POSITION_KEY].numpy()[1:]).take(5))
        for a, b in zip(full[k + 1:k + 6], resumed):
            for key in ("input_word_ids", "masked_lm_positions", "masked_lm_ids"):
                np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)


def test_kinds_are_not_mixed_and_unmasked_records_need_their_vocab(files, tmp_path):
    masked = str(tmp_path / "masked.tfrecord")
    write_pretraining_records(masked, synthetic_examples(4, SEQ, PRED, 100, seed=0))
    assert check_record_shapes(files, SEQ, PRED) is False
    with pytest.raises(InputError, match="masked records and .* unmasked ones"):
        check_record_shapes([masked] + files, SEQ, PRED)
    os.makedirs(tmp_path / "alone")
    shutil.copy(files[0], tmp_path / "alone")
    with pytest.raises(InputError, match="no pretraining_data.json and vocab.txt beside them"):
        pretraining_dataset(str(tmp_path / "alone" / "*"), SEQ, PRED, 4)
