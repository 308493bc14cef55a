r"""Creates MLM + NSP pretraining TFRecords from text (one sentence per line, blank line between
documents), with the standard BERT feature names.

    python -m mobilebert_tf.data.create_pretraining_data \
        --input_file='corpus/*.txt' --output_dir=/tmp/records \
        --seq_length=128 --max_predictions_per_seq=20 --dupe_factor=10 --num_workers=2

`--vocab_file` defaults to the BERT uncased vocab. The work is split into
`dupe_factor * shards_per_dupe` shards (each a different masking of part of the corpus) that
run in parallel; every shard has its own seed derived from `--random_seed`, so the output is
byte-identical whatever `--num_workers` is. Shards are written as `*.incomplete` and renamed
only when every shard is complete; a failed run leaves no `*.tfrecord` behind.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from typing import Sequence

import numpy as np
from absl import app, flags, logging

from mobilebert_tf.data import documents as documents_lib
from mobilebert_tf.data import pretraining_records
from mobilebert_tf.data.masking import MaskingConfig
from mobilebert_tf.data.pretraining_instances import (TrainingInstance,
                                                      create_instances_from_document)
from mobilebert_tf.data.vocab import Vocab, default_vocab_file


@dataclasses.dataclass(frozen=True)
class PretrainingDataConfig:
    """Everything that determines the records, given the corpus and vocab.

    Args:
        seq_length: packed length.
        max_predictions_per_seq: masked-LM targets per sequence (padded to this).
        masked_lm_prob: fraction of tokens to predict.
        short_seq_prob: probability of a shorter-than-max sequence.
        dupe_factor: how many times the corpus is used, each with a different masking.
        whole_word_masking: mask all pieces of a word together.
        random_seed: seed of everything.
        shards_per_dupe: corpus pieces per dupe; shards (and parallel tasks) =
            `dupe_factor * shards_per_dupe`.
    """

    seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    dupe_factor: int = 10
    whole_word_masking: bool = False
    random_seed: int = 12345
    shards_per_dupe: int = 1

    def __post_init__(self):
        if self.seq_length < 5:
            raise ValueError(f"seq_length must be >= 5, got {self.seq_length}.")
        if not 1 <= self.max_predictions_per_seq <= self.seq_length - 3:
            raise ValueError(f"max_predictions_per_seq must be in [1, seq_length - 3], got "
                             f"{self.max_predictions_per_seq}.")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ValueError(f"short_seq_prob must be in [0, 1], got {self.short_seq_prob}.")
        if self.dupe_factor < 1 or self.shards_per_dupe < 1:
            raise ValueError("dupe_factor and shards_per_dupe must be >= 1, got "
                             f"{self.dupe_factor} and {self.shards_per_dupe}.")

    @property
    def num_shards(self) -> int:
        return self.dupe_factor * self.shards_per_dupe

    def masking(self, vocab: Vocab) -> MaskingConfig:
        return MaskingConfig.from_vocab(
            vocab, masked_lm_prob=self.masked_lm_prob,
            max_predictions_per_seq=self.max_predictions_per_seq,
            whole_word_masking=self.whole_word_masking)


def create_shard_instances(documents: Sequence[Sequence[np.ndarray]], vocab: Vocab,
                           config: PretrainingDataConfig, shard: int) -> list[TrainingInstance]:
    """The instances of shard `shard` (dupe `shard // shards_per_dupe`), shuffled.

    Args:
        documents: the whole tokenized corpus (random next sentences come from all of it).
        vocab: the `Vocab`.
        config: a `PretrainingDataConfig`.
        shard: index in `[0, config.num_shards)`.
    """
    dupe, part = divmod(shard, config.shards_per_dupe)
    rng = np.random.default_rng([config.random_seed, dupe, part])
    lo = part * len(documents) // config.shards_per_dupe
    hi = (part + 1) * len(documents) // config.shards_per_dupe
    masking = config.masking(vocab)
    instances = []
    for d in range(lo, hi):
        instances.extend(create_instances_from_document(
            documents, d, config.seq_length, config.short_seq_prob, vocab.cls_id, vocab.sep_id,
            masking, rng))
    return [instances[i] for i in rng.permutation(len(instances))]


def load_corpus(input_files: Sequence[str], vocab: Vocab) -> list[list[np.ndarray]]:
    """Reads and tokenizes the corpus; logs what it drops.

    Raises:
        ValueError: empty corpus, non-UTF-8 input, or fewer than 2 documents with text.
    """
    from mobilebert_tf.data.tokenizer import BertInputTokenizer

    docs = documents_lib.read_documents(input_files)
    tokenized = documents_lib.tokenize_documents(docs, BertInputTokenizer(vocab))
    single = sum(len(d) == 1 for d in tokenized)
    logging.info("Corpus: %d documents (%d of one sentence), %d sentences, %d tokens.",
                 len(tokenized), single, sum(len(d) for d in tokenized),
                 sum(len(s) for d in tokenized for s in d))
    if len(tokenized) < 2:
        raise ValueError(f"{input_files} holds {len(tokenized)} document(s) with text; "
                         "next-sentence prediction needs at least 2 (blank line between "
                         "documents).")
    return tokenized


# Per-process state of the worker pool (set once per worker by `_init_worker`).
_WORKER_STATE: dict = {}


def _init_worker(documents, vocab, config):
    _WORKER_STATE.update(documents=documents, vocab=vocab, config=config)


def _write_shard(args) -> tuple[int, int]:
    shard, path = args
    state = _WORKER_STATE
    instances = create_shard_instances(state["documents"], state["vocab"], state["config"],
                                       shard)
    config = state["config"]
    examples = (pretraining_records.instance_to_example(inst, config.seq_length,
                                                        config.max_predictions_per_seq)
                for inst in instances)
    return shard, pretraining_records.write_examples(path, examples)


def create_pretraining_records(input_files: str | Sequence[str], output_dir: str,
                               vocab_file: str | None = None,
                               config: PretrainingDataConfig = PretrainingDataConfig(),
                               num_workers: int = 1, output_prefix: str = "pretrain",
                               overwrite: bool = False, progress: bool = True) -> dict:
    """Text files -> sharded pretraining TFRecords.

    Args:
        input_files: glob patterns (list, or comma-separated string).
        output_dir: created if missing.
        vocab_file: a BERT `vocab.txt`; None for BERT uncased.
        config: a `PretrainingDataConfig`.
        num_workers: parallel processes; 1 runs in this process.
        output_prefix: shards are `{prefix}-{i:05d}-of-{n:05d}.tfrecord`.
        overwrite: replace existing shards with this prefix instead of refusing.
        progress: show a progress bar.

    Returns:
        dict with `files` (the shard paths) and `num_examples`, `examples_per_second`.

    Raises:
        ValueError: bad input (see `load_corpus`) or existing shards without `overwrite`.
    """
    import tensorflow as tf
    import tqdm

    files = documents_lib.expand_patterns(input_files)
    vocab = Vocab.load(vocab_file or default_vocab_file())
    tf.io.gfile.makedirs(output_dir)
    existing = tf.io.gfile.glob(os.path.join(output_dir, f"{output_prefix}-*.tfrecord"))
    if existing and not overwrite:
        raise ValueError(f"{output_dir} already holds {len(existing)} '{output_prefix}-*' shards; "
                         "pass overwrite=True (--overwrite) or another output_dir.")
    for path in existing:
        tf.io.gfile.remove(path)
    documents = load_corpus(files, vocab)
    n = config.num_shards
    paths = [os.path.join(output_dir, f"{output_prefix}-{i:05d}-of-{n:05d}.tfrecord")
             for i in range(n)]
    tasks = list(enumerate(paths))
    counts = [0] * n
    start = time.perf_counter()
    bar = tqdm.tqdm(total=n, desc="shards", unit="shard", disable=not progress)
    try:
        if num_workers <= 1:
            _init_worker(documents, vocab, config)
            results = map(_write_shard, tasks)
            for shard, count in results:
                counts[shard] = count
                bar.update()
        else:
            # Not fork: forking a process whose TF thread pools are running can hang. A fork
            # server imports this module (and TF) once, then forks fresh workers from itself.
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["mobilebert_tf.data.create_pretraining_data"])
            with ctx.Pool(min(num_workers, n), initializer=_init_worker,
                          initargs=(documents, vocab, config)) as pool:
                for shard, count in pool.imap_unordered(_write_shard, tasks):
                    counts[shard] = count
                    bar.update()
    except BaseException:
        pretraining_records.remove_incomplete(paths)
        logging.error("Record creation failed; no shard was kept.")
        raise
    finally:
        bar.close()
        _WORKER_STATE.clear()
    pretraining_records.finalize_shards(paths)
    seconds = time.perf_counter() - start
    total = sum(counts)
    logging.info("Wrote %d examples to %d shards in %s (%.1f s, %.0f examples/s).", total, n,
                 output_dir, seconds, total / max(seconds, 1e-9))
    return {"files": paths, "num_examples": total, "examples_per_second": total / seconds}


FLAGS = flags.FLAGS


def define_flags():
    defaults = PretrainingDataConfig()
    flags.DEFINE_string("input_file", None, "Glob pattern(s), comma-separated, of text files.")
    flags.DEFINE_string("output_dir", None, "Where the TFRecord shards go.")
    flags.DEFINE_string("vocab_file", None, "BERT vocab.txt; default BERT uncased.")
    flags.DEFINE_string("output_prefix", "pretrain", "Shard file name prefix.")
    flags.DEFINE_integer("seq_length", defaults.seq_length, "Packed sequence length.")
    flags.DEFINE_integer("max_predictions_per_seq", defaults.max_predictions_per_seq,
                         "Masked-LM targets per sequence.")
    flags.DEFINE_float("masked_lm_prob", defaults.masked_lm_prob, "Masked-LM probability.")
    flags.DEFINE_float("short_seq_prob", defaults.short_seq_prob,
                       "Probability of a shorter sequence.")
    flags.DEFINE_integer("dupe_factor", defaults.dupe_factor, "Maskings of the corpus.")
    flags.DEFINE_integer("shards_per_dupe", defaults.shards_per_dupe, "Shards per masking.")
    flags.DEFINE_bool("whole_word_masking", defaults.whole_word_masking, "Whole-word masking.")
    flags.DEFINE_integer("random_seed", defaults.random_seed, "Random seed.")
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Parallel processes.")
    flags.DEFINE_bool("overwrite", False, "Replace existing shards.")
    flags.mark_flags_as_required(["input_file", "output_dir"])


def main(argv):
    del argv
    config = PretrainingDataConfig(
        seq_length=FLAGS.seq_length, max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        masked_lm_prob=FLAGS.masked_lm_prob, short_seq_prob=FLAGS.short_seq_prob,
        dupe_factor=FLAGS.dupe_factor, whole_word_masking=FLAGS.whole_word_masking,
        random_seed=FLAGS.random_seed, shards_per_dupe=FLAGS.shards_per_dupe)
    create_pretraining_records(FLAGS.input_file, FLAGS.output_dir, FLAGS.vocab_file, config,
                               num_workers=FLAGS.num_workers, output_prefix=FLAGS.output_prefix,
                               overwrite=FLAGS.overwrite)


if __name__ == "__main__":
    define_flags()
    app.run(main)
