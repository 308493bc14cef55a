"""Pretraining TFRecords from the Beam pipeline: balanced complete shards, byte-identical at
any number of worker processes, Model Garden (TFMG) compatibility both ways, NSP from the
document's bucket, and bad input refused with nothing left behind."""

import filecmp
import glob
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from official.nlp.data import create_pretraining_data as tfmg_create
from official.nlp.data import pretrain_dataloader as tfmg_loader
from official.nlp.tools import tokenization as tfmg_tokenization

from mobilebert_tf import fileio
from mobilebert_tf.data import pretraining_records
from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                        create_pretraining_records)
from mobilebert_tf.data.pretraining_dataset import pretraining_dataset
from mobilebert_tf.data.pretraining_pipeline import bucket_of, document_key
from mobilebert_tf.errors import InputError

SEQ, PRED = 64, 10
# Small buckets, so that the three plays make several of them.
SMALL = PretrainingDataConfig(seq_length=SEQ, max_predictions_per_seq=PRED, dupe_factor=2,
                              bucket_mb=0.1, num_shards=3)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
           PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))
COMMAND = [sys.executable, "-m", "mobilebert_tf.cli.create_pretraining_data"]


def _create(inputs, out, config=SMALL, **kwargs):
    return create_pretraining_records(inputs, str(out), config=config, **kwargs)


@pytest.fixture(scope="module")
def records(corpus_file, tmp_path_factory):
    return _create(corpus_file, tmp_path_factory.mktemp("records"))


def _count(path):
    return sum(1 for _ in tf.data.TFRecordDataset(path))


def _read_all(files, **kwargs):
    ds = pretraining_dataset(files, SEQ, PRED, global_batch_size=8, shuffle=False, repeat=False,
                             **kwargs)
    return [{k: v.numpy() for k, v in batch.items()} for batch in ds]


def test_shards_are_complete_named_balanced_and_described(records):
    out = os.path.dirname(records["files"][0])
    assert [os.path.basename(f) for f in records["files"]] == [
        f"pretrain-0000{i}-of-00003.tfrecord" for i in range(3)]
    counts = [_count(f) for f in records["files"]]
    assert sum(counts) == records["num_examples"] > 1000
    assert max(counts) - min(counts) <= 1, counts  # every TPU host gets the same amount
    info = pretraining_records.read_info(out)
    assert info["num_examples"] == records["num_examples"] and info["masking"] == "static"
    assert info["num_buckets"] >= 3 and info["config"]["dupe_factor"] == 2
    assert sorted(os.listdir(out)) == sorted(
        [os.path.basename(f) for f in records["files"]] + ["pretraining_data.json",
                                                          "vocab.txt"])


@pytest.mark.slow
def test_two_worker_processes_write_the_same_bytes_other_seed_differs(records, corpus_file,
                                                                      tmp_path):
    # The command, on Beam's FnApiRunner with 2 worker processes, against the in-process run.
    out = tmp_path / "two"
    result = subprocess.run(
        COMMAND + [f"--input_file={corpus_file}", f"--output_dir={out}", f"--seq_length={SEQ}",
                   f"--max_predictions_per_seq={PRED}", "--dupe_factor=2", "--bucket_mb=0.1",
                   "--num_shards=3", "--num_workers=2"],
        env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "examples in 3 shards" in result.stdout
    two = sorted(glob.glob(str(out / "*.tfrecord")))
    assert [os.path.basename(f) for f in two] == [os.path.basename(f) for f in records["files"]]
    for a, b in zip(two, records["files"]):
        assert filecmp.cmp(a, b, shallow=False)
    other = _create(corpus_file, tmp_path / "seed", PretrainingDataConfig(
        seq_length=SEQ, max_predictions_per_seq=PRED, dupe_factor=2, bucket_mb=0.1,
        num_shards=3, random_seed=1))
    for mine, different in zip(records["files"], other["files"]):
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


def _distinct_word_corpus(path, vocab, num_docs=100):
    """Documents whose words are their own (document d uses only its 12 words), so that a
    segment tells which document it came from. Returns {word id: document}."""
    words = [t for t in vocab.tokens[2000:] if t.isalpha()][:num_docs * 12]
    owner, docs = {}, []
    rng = np.random.default_rng(0)
    for d in range(num_docs):
        mine = words[d * 12:(d + 1) * 12]
        owner.update({vocab.tokens.index(w): d for w in mine})
        docs.append("\n".join(" ".join(rng.choice(mine, size=8)) for _ in range(12)))
    fileio.write_text(str(path), "\n\n".join(docs) + "\n")
    return owner


def test_nsp_is_balanced_and_random_next_comes_from_the_same_bucket(vocab, tmp_path):
    owner = _distinct_word_corpus(tmp_path / "docs.txt", vocab)
    config = PretrainingDataConfig(seq_length=SEQ, max_predictions_per_seq=PRED,
                                   dupe_factor=1, dynamic_masking=True, bucket_mb=0.01,
                                   num_shards=2, random_seed=5)
    result = _create(str(tmp_path / "docs.txt"), tmp_path / "out", config)
    num_buckets = pretraining_records.read_info(str(tmp_path / "out"))["num_buckets"]
    assert num_buckets >= 3
    labels, same_bucket = [], 0
    for record in tf.data.TFRecordDataset(result["files"]):
        features = tf.train.Example.FromString(record.numpy()).features.feature
        assert "masked_lm_positions" not in features  # unmasked: the pipeline draws masks
        ids = np.array(features["input_ids"].int64_list.value)
        segments = np.array(features["segment_ids"].int64_list.value)
        doc_a = {owner[i] for i in ids[segments == 0] if i in owner}
        doc_b = {owner[i] for i in ids[segments == 1] if i in owner}
        assert len(doc_a) == len(doc_b) == 1  # each segment from one document
        label = features["next_sentence_labels"].int64_list.value[0]
        labels.append(label)
        assert (doc_a != doc_b) == bool(label)
        buckets = {bucket_of(document_key(0, d), num_buckets, config.random_seed)
                   for d in doc_a | doc_b}
        same_bucket += len(buckets) == 1
    assert len(labels) > 250 and abs(np.mean(labels) - 0.5) < 0.1, np.mean(labels)
    assert same_bucket == len(labels)


def test_failure_half_way_leaves_no_shards(corpus_file, tmp_path):
    out = tmp_path / "out"
    # Shard 1's temporary name is taken by a directory: the other shards are written, then
    # shard 1 fails.
    os.makedirs(out / "pretrain-00001-of-00003.tfrecord.incomplete")
    with pytest.raises(Exception):
        _create(corpus_file, out)
    assert sorted(os.listdir(out)) == ["pretrain-00001-of-00003.tfrecord.incomplete"]


def test_output_dir_with_shards_is_refused_and_kept(records, corpus_file):
    out = os.path.dirname(records["files"][0])
    before = {f: fileio.read_bytes(f) for f in sorted(glob.glob(os.path.join(out, "*")))}
    with pytest.raises(InputError, match=r"already holds 3 'pretrain-\*.tfrecord' shards"):
        _create(corpus_file, out)
    assert {f: fileio.read_bytes(f) for f in sorted(glob.glob(os.path.join(out, "*")))} == before


@pytest.mark.parametrize("content, message", [
    (b"", "0 document"),
    (b"\n\n  \n", "0 document"),
    (b"One document only.\nWith two sentences.\n", "1 document.*at least 2"),
])
def test_too_few_documents_fail_before_writing(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        _create(str(path), tmp_path / "out")
    assert glob.glob(str(tmp_path / "out" / "*")) == []


def test_bad_settings_and_paths_fail_before_any_work(tmp_path):
    with pytest.raises(InputError, match="matches no file"):
        _create(str(tmp_path / "nothing*.txt"), tmp_path / "o")
    with pytest.raises(InputError, match=r"--max_predictions_per_seq must be in \[1, "
                                         r"seq_length - 3 = 13\]"):
        PretrainingDataConfig(seq_length=16, max_predictions_per_seq=20)
    with pytest.raises(InputError, match="--dupe_factor must be 1 with --dynamic_masking"):
        PretrainingDataConfig(dynamic_masking=True, dupe_factor=2)
    assert not os.path.exists(tmp_path / "o")


def test_command_reports_bad_input_in_one_line(tmp_path):
    """A non-UTF-8 file among good ones, through the command: one line naming the file, line
    and byte, exit status 2, and no shard left; leftover arguments (an unquoted glob the shell
    expanded) are refused the same way."""
    good = tmp_path / "good.txt"
    good.write_text("A first document.\nIt has two lines.\n\nA second one.\n", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Good line.\n\nBad \xff byte here.\n")
    out = tmp_path / "out"
    common = [f"--output_dir={out}", "--seq_length=32", "--max_predictions_per_seq=4",
              "--num_workers=1"]
    # Both at once: each process spends most of its time importing TensorFlow.
    runs = [subprocess.Popen(COMMAND + args + common, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for args in ([f"--input_file={tmp_path}/*.txt"], [f"--input_file={good}", str(bad)])]
    (_, stderr), (_, unquoted) = [run.communicate(timeout=300) for run in runs]
    assert runs[0].returncode == 2, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("create_pretraining_data.py: error: ") and (
        f"{bad} is not valid UTF-8: line 3, byte offset 16" in last), stderr[-3000:]
    assert "Traceback" not in stderr
    assert glob.glob(str(out / "*.tfrecord*")) == []
    assert runs[1].returncode == 2 and "Unexpected arguments" in unquoted, unquoted[-3000:]
    assert "Traceback" not in unquoted
