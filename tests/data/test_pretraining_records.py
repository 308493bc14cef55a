"""Pretraining TFRecords: determinism, Model Garden (TFMG) compatibility both ways, atomic
shards, bad input."""

import filecmp
import glob
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from official.nlp.data import create_pretraining_data as tfmg_create
from official.nlp.data import pretrain_dataloader as tfmg_loader
from official.nlp.tools import tokenization as tfmg_tokenization

from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                        create_pretraining_records)
from mobilebert_tf.data.pretraining_dataset import pretraining_dataset

SEQ, PRED = 64, 10
SMALL = PretrainingDataConfig(seq_length=SEQ, max_predictions_per_seq=PRED, dupe_factor=2)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def records(corpus_file, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("records"))
    result = create_pretraining_records(corpus_file, out, config=SMALL, progress=False)
    return result


def _read_all(files, **kwargs):
    ds = pretraining_dataset(files, SEQ, PRED, global_batch_size=8, shuffle=False, repeat=False,
                             **kwargs)
    return [{k: v.numpy() for k, v in batch.items()} for batch in ds]


def test_records_are_complete_and_named(records):
    assert records["num_examples"] > 1000
    assert [os.path.basename(f) for f in records["files"]] == [
        "pretrain-00000-of-00002.tfrecord", "pretrain-00001-of-00002.tfrecord"]
    assert not glob.glob(os.path.join(os.path.dirname(records["files"][0]), "*.incomplete"))


def test_same_seed_gives_byte_identical_records(records, corpus_file, tmp_path):
    again = create_pretraining_records(corpus_file, str(tmp_path / "a"), config=SMALL,
                                       progress=False)
    other = create_pretraining_records(
        corpus_file, str(tmp_path / "b"), progress=False,
        config=PretrainingDataConfig(seq_length=SEQ, max_predictions_per_seq=PRED,
                                     dupe_factor=2, random_seed=1))
    for mine, same, different in zip(records["files"], again["files"], other["files"]):
        assert filecmp.cmp(mine, same, shallow=False)
        assert not filecmp.cmp(mine, different, shallow=False)


def test_records_load_with_tfmg_pretrain_dataloader(records):
    params = tfmg_loader.BertPretrainDataConfig(
        input_path=records["files"][0], global_batch_size=8, is_training=False,
        seq_length=SEQ, max_predictions_per_seq=PRED)
    theirs = next(iter(tfmg_loader.BertPretrainDataLoader(params).load()))
    ours = _read_all(records["files"][0])[0]
    assert set(theirs) == set(ours)
    for key in ours:
        np.testing.assert_array_equal(theirs[key].numpy(), ours[key], err_msg=key)
    # The content is what the model expects: labels are the true ids at masked positions.
    weights = ours["masked_lm_weights"]
    assert weights.sum() > 0 and set(np.unique(weights)) <= {0.0, 1.0}
    rows, cols = np.nonzero(weights)
    positions = ours["masked_lm_positions"][rows, cols]
    assert (ours["input_mask"][rows, positions] == 1).all()
    assert set(np.unique(ours["next_sentence_labels"])) <= {0, 1}


def test_tfmg_records_load_with_our_pipeline(corpus_file, vocab_file, tmp_path):
    tokenizer = tfmg_tokenization.FullTokenizer(vocab_file, do_lower_case=True)
    instances = tfmg_create.create_training_instances(
        [corpus_file], tokenizer, tfmg_create.get_processor_text_fn(False, True), SEQ,
        dupe_factor=1, short_seq_prob=0.1, masked_lm_prob=0.15, max_predictions_per_seq=PRED,
        rng=random.Random(3))
    path = str(tmp_path / "tfmg.tfrecord")
    tfmg_create.write_instance_to_example_files(instances[:64], tokenizer, SEQ, PRED, [path],
                                                gzip_compress=False, use_v2_feature_names=False)
    batches = _read_all(path)
    assert len(batches) == 8
    first = batches[0]
    assert first["input_word_ids"].shape == (8, SEQ)
    assert first["next_sentence_labels"].shape == (8, 1)
    expected = tokenizer.convert_tokens_to_ids(instances[0].tokens)
    assert first["input_word_ids"][0, :len(expected)].tolist() == expected
    assert first["input_word_ids"][0, 0] == 101


@pytest.mark.slow
def test_cli_with_two_workers_matches_in_process_serial_run(records, corpus_file, tmp_path):
    out = tmp_path / "cli"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))
    subprocess.run([sys.executable, "-m", "mobilebert_tf.data.create_pretraining_data",
                    f"--input_file={corpus_file}", f"--output_dir={out}", f"--seq_length={SEQ}",
                    f"--max_predictions_per_seq={PRED}", "--dupe_factor=2", "--num_workers=2"],
                   check=True, env=env, capture_output=True, timeout=300)
    cli_files = sorted(glob.glob(str(out / "*.tfrecord")))
    assert [os.path.basename(f) for f in cli_files] == [
        os.path.basename(f) for f in records["files"]]
    for a, b in zip(cli_files, records["files"]):
        assert filecmp.cmp(a, b, shallow=False)


def test_failure_half_way_leaves_no_shards(corpus_file, tmp_path):
    out = tmp_path / "out"
    # Shard 1's temp name is taken by a directory: shard 0 is written, then shard 1 fails.
    os.makedirs(out / "pretrain-00001-of-00002.tfrecord.incomplete")
    with pytest.raises(Exception):
        create_pretraining_records(corpus_file, str(out), config=SMALL, progress=False)
    left = sorted(os.listdir(out))
    assert left == ["pretrain-00001-of-00002.tfrecord.incomplete"]  # Only what was there.


def test_existing_shards_are_not_overwritten_silently(records, corpus_file):
    out = os.path.dirname(records["files"][0])
    with pytest.raises(ValueError, match="already holds 2 'pretrain-\\*' shards"):
        create_pretraining_records(corpus_file, out, config=SMALL, progress=False)


@pytest.mark.parametrize("content, message", [
    (b"", "Empty corpus"),
    (b"\n\n  \n", "Empty corpus"),
    (b"One document only.\nWith two sentences.\n", "at least 2"),
    (b"Good line.\n\nBad \xff byte here.\n", r"not valid UTF-8: line 3"),
])
def test_bad_corpus_fails_before_writing(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        create_pretraining_records(str(path), str(tmp_path / "out"), config=SMALL,
                                   progress=False)
    assert not glob.glob(str(tmp_path / "out" / "*"))


def test_one_sentence_documents_are_used(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(f"Sentence number {i} stands alone in its document."
                                for i in range(40)), encoding="utf-8")
    result = create_pretraining_records(str(path), str(tmp_path / "out"), config=SMALL,
                                        progress=False)
    labels = np.concatenate([b["next_sentence_labels"][:, 0]
                             for b in _read_all(result["files"])])
    assert len(labels) >= 64 and 0 < labels.mean() < 1


def test_missing_input_pattern(tmp_path):
    with pytest.raises(ValueError, match="matches no file"):
        create_pretraining_records(str(tmp_path / "nothing*.txt"), str(tmp_path / "o"),
                                   config=SMALL, progress=False)
