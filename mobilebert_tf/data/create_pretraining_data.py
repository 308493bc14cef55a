r"""Creates MLM + NSP pretraining TFRecords from text (one sentence per line, blank line between
documents), with the standard BERT feature names, on Apache Beam: `create_pretraining_records`,
the library side of the `mobilebert-create-pretraining-data` command
(`mobilebert_tf/cli/create_pretraining_data.py`).

The records are byte-identical whatever the runner or the number of workers
(`mobilebert_tf/data/pretraining_pipeline.py`). Shards are written as `*.incomplete` and
renamed only when the whole pipeline has succeeded; a failed run leaves no `*.tfrecord` behind
and removes nothing that was there. Beside the shards go `pretraining_data.json` (how they
were made, how many examples) and `vocab.txt`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging as std_logging
import math
import os
import re
import time
from typing import Sequence

from absl import logging

from mobilebert_tf import fileio
from mobilebert_tf.data import documents as documents_lib
from mobilebert_tf.data import pretraining_records
from mobilebert_tf.data.masking import MaskingConfig
from mobilebert_tf.data.vocab import Vocab, default_vocab_file
from mobilebert_tf.errors import InputError, check

# Default shard size, in estimated bytes of records: each TPU host reads whole shards, so
# tens to hundreds of MB keeps hosts busy and files few.
SHARD_BYTES = 128 << 20


@dataclasses.dataclass(frozen=True)
class PretrainingDataConfig:
    """Everything that determines the records, given the corpus and vocab.

    Args:
        seq_length: packed length.
        max_predictions_per_seq: masked-LM targets per sequence (padded to this); with
            dynamic masking, the cap the input pipeline is expected to use.
        masked_lm_prob: fraction of tokens to predict.
        short_seq_prob: probability of a shorter-than-max sequence.
        dupe_factor: how many times the corpus is used, each with a different masking.
        whole_word_masking: mask all pieces of a word together.
        random_seed: seed of everything.
        dynamic_masking: write unmasked sentence pairs once (`dupe_factor` 1); the input
            pipeline draws new masks every time it reads a record.
        bucket_mb: megabytes of text per bucket of documents: the random next sentence of NSP
            comes from the same bucket, and a worker holds one bucket at a time.
        num_shards: output files; None: one per ~128 MB of records, estimated from the
            input's size.
    """

    seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    dupe_factor: int = 10
    whole_word_masking: bool = False
    random_seed: int = 12345
    dynamic_masking: bool = False
    bucket_mb: float = 64.0
    num_shards: int | None = None

    def __post_init__(self):
        check(self.seq_length >= 5, "--seq_length", self.seq_length, ">= 5")
        check(1 <= self.max_predictions_per_seq <= self.seq_length - 3,
              "--max_predictions_per_seq", self.max_predictions_per_seq,
              f"in [1, seq_length - 3 = {self.seq_length - 3}] (--seq_length="
              f"{self.seq_length} leaves that many positions besides [CLS] and two [SEP])")
        check(0.0 < self.masked_lm_prob < 1.0, "--masked_lm_prob", self.masked_lm_prob,
              "in (0, 1)")
        check(0.0 <= self.short_seq_prob <= 1.0, "--short_seq_prob", self.short_seq_prob,
              "in [0, 1]")
        check(self.dupe_factor >= 1, "--dupe_factor", self.dupe_factor, ">= 1")
        check(not (self.dynamic_masking and self.dupe_factor != 1), "--dupe_factor",
              self.dupe_factor, "1 with --dynamic_masking (every read draws new masks)")
        check(not (self.dynamic_masking and self.whole_word_masking), "--whole_word_masking",
              self.whole_word_masking, "False with --dynamic_masking (masks drawn in the "
              "input pipeline are per token)")
        check(self.bucket_mb > 0, "--bucket_mb", self.bucket_mb, "> 0")
        check(self.num_shards is None or self.num_shards >= 1, "--num_shards",
              self.num_shards, ">= 1")

    def masking(self, vocab: Vocab) -> MaskingConfig:
        return MaskingConfig.from_vocab(
            vocab, masked_lm_prob=self.masked_lm_prob,
            max_predictions_per_seq=self.max_predictions_per_seq,
            whole_word_masking=self.whole_word_masking)

    def estimated_record_bytes(self, text_bytes: int) -> float:
        """Record bytes for `text_bytes` of text: ~4.2 bytes of text per word piece and
        sequences ~90% full (measured on the demo corpus); ~5 bytes per position and ~7 per
        prediction serialized."""
        examples = self.dupe_factor * text_bytes / (4.2 * 0.9 * (self.seq_length - 3))
        per_example = 5 * self.seq_length + 60 + (
            0 if self.dynamic_masking else 7 * self.max_predictions_per_seq)
        return examples * per_example


def shard_paths(output_dir: str, prefix: str, num_shards: int) -> list[str]:
    return [os.path.join(output_dir, f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord")
            for i in range(num_shards)]


def pipeline_options(beam_args: Sequence[str] = (), num_workers: int = 1):
    """Beam options from `beam_args` (standard Beam flags); without `--runner`, Beam's
    FnApiRunner: `num_workers` worker processes, or for one worker this process itself (a
    worker process would import TensorFlow again and pass every element through gRPC).
    Named on purpose: Beam's default DirectRunner may choose the Prism runner, which
    downloads a binary."""
    from apache_beam.options.pipeline_options import (DirectOptions, PipelineOptions,
                                                      StandardOptions)

    options = PipelineOptions(list(beam_args))
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = "FnApiRunner"
        direct = options.view_as(DirectOptions)
        if not any(a.startswith("--direct_running_mode") for a in beam_args):
            direct.direct_running_mode = "in_memory" if num_workers == 1 else "multi_processing"
        if not any(a.startswith("--direct_num_workers") for a in beam_args):
            direct.direct_num_workers = num_workers
    return options


def _import_beam():
    """Imports Apache Beam without its warnings about the optional Google Cloud clients
    (they are expected without the `gcp` extra), its INFO lines kept out of the log."""
    root = std_logging.getLogger()
    level = root.level
    std_logging.getLogger("apache_beam").setLevel(std_logging.WARNING)
    std_logging.getLogger("apache_beam.io.filesystems").setLevel(std_logging.ERROR)
    root.setLevel(std_logging.ERROR)
    try:
        import apache_beam
    finally:
        root.setLevel(level)
    return apache_beam


def _input_error_in(error: BaseException) -> InputError | None:
    """The `InputError` a worker raised, from the runner's error (which carries the worker's
    traceback as text), or None."""
    if isinstance(error, InputError):
        return error
    match = re.search(r"InputError: (.+?)(?: \[while running .*)?$", str(error), re.MULTILINE)
    return InputError(match.group(1).strip()) if match else None


def create_pretraining_records(input_files: str | Sequence[str], output_dir: str,
                               vocab_file: str | None = None,
                               config: PretrainingDataConfig = PretrainingDataConfig(),
                               num_workers: int = 1, output_prefix: str = "pretrain",
                               overwrite: bool = False,
                               beam_args: Sequence[str] = (),
                               runner_log: str | None = None) -> dict:
    """Text files -> sharded pretraining TFRecords, on Apache Beam.

    Args:
        input_files: glob patterns (list, or comma-separated string), on any filesystem
            `tf.io.gfile` reads.
        output_dir: created if missing.
        vocab_file: a BERT `vocab.txt`; None for BERT uncased.
        config: a `PretrainingDataConfig`.
        num_workers: worker processes of the local runner, 1 for this process (ignored with
            another `--runner`).
        output_prefix: shards are `{prefix}-{i:05d}-of-{n:05d}.tfrecord`.
        overwrite: replace the records already in `output_dir` (once the new ones are
            complete) instead of refusing.
        beam_args: Beam pipeline options, e.g. `["--runner=DataflowRunner", ...]`.
        runner_log: a file (may be a bucket URL) that takes this process's stderr, and its
            local workers', while the pipeline runs (Beam logs dozens of lines per worker);
            None: stderr.

    Returns:
        dict with `files` (the shard paths), `num_examples`, `seconds`, `examples_per_second`.

    Raises:
        InputError: no input file, an output directory that holds records, a non-UTF-8 input,
            fewer than 2 documents; a failed run leaves no shard behind.
    """
    beam = _import_beam()
    import tensorflow as tf

    from mobilebert_tf.data import pretraining_pipeline

    check(num_workers >= 1, "--num_workers", num_workers, ">= 1")
    files = documents_lib.expand_patterns(input_files)
    vocab_file = vocab_file or default_vocab_file()
    vocab = Vocab.load(vocab_file)
    existing = fileio.glob(os.path.join(output_dir, f"{output_prefix}-*.tfrecord"))
    if existing and not overwrite:
        raise InputError(f"--output_dir {output_dir} already holds {len(existing)} "
                         f"'{output_prefix}-*.tfrecord' shards; pass --overwrite or another "
                         "--output_dir.")
    text_bytes = sum(tf.io.gfile.stat(f).length for f in files)
    num_buckets = max(1, math.ceil(text_bytes / (config.bucket_mb * 2**20)))
    num_shards = config.num_shards or max(
        1, round(config.estimated_record_bytes(text_bytes) / SHARD_BYTES))
    paths = shard_paths(output_dir, output_prefix, num_shards)
    tf.io.gfile.makedirs(output_dir)
    logging.info("%d input files, %.1f MB of text, %d buckets -> %d shards in %s.", len(files),
                 text_bytes / 2**20, num_buckets, num_shards, output_dir)

    start = time.perf_counter()
    options = pipeline_options(beam_args, num_workers)
    # Each bucket's records, one part file per shard they go to; removed however the run ends.
    parts_dir = os.path.join(output_dir, f".{output_prefix}-parts")
    tf.io.gfile.makedirs(parts_dir)
    try:
        pipeline = beam.Pipeline(options=options)
        pretraining_pipeline.build(pipeline, files, vocab_file, config, num_buckets, paths,
                                   parts_dir)
        with (fileio.native_logs_to(runner_log) if runner_log else contextlib.nullcontext()):
            result = pipeline.run()
            result.wait_until_finish()
        missing = [p for p in paths
                   if not tf.io.gfile.exists(p + pretraining_records.INCOMPLETE_SUFFIX)]
        if missing:
            raise RuntimeError(f"The pipeline finished without writing {missing}.")
    except BaseException as e:
        for path in paths:
            partial = path + pretraining_records.INCOMPLETE_SUFFIX
            if tf.io.gfile.exists(partial) and not tf.io.gfile.isdir(partial):
                tf.io.gfile.remove(partial)
        input_error = _input_error_in(e)
        if input_error is not None:
            raise input_error from None
        logging.error("Record creation failed; no shard was kept.")
        raise
    finally:
        tf.io.gfile.rmtree(parts_dir)
    seconds = time.perf_counter() - start
    counters = {c.key.metric.name: c.committed for c in result.metrics().query(
        beam.metrics.MetricsFilter().with_namespace(
            pretraining_pipeline.METRICS_NAMESPACE))["counters"]}
    for path in paths:
        tf.io.gfile.rename(path + pretraining_records.INCOMPLETE_SUFFIX, path, overwrite=True)
    for path in existing:
        if path not in paths:
            tf.io.gfile.remove(path)
    total = counters.get("examples")
    fileio.write_bytes(os.path.join(output_dir, pretraining_records.VOCAB_FILE),
                       fileio.read_bytes(vocab_file))
    fileio.write_json(os.path.join(output_dir, pretraining_records.INFO_FILE), {
        "config": dataclasses.asdict(config), "masking": "dynamic" if config.dynamic_masking
        else "static", "files": [os.path.basename(p) for p in paths], "num_examples": total,
        "documents": counters.get("documents"), "tokens": counters.get("tokens"),
        "input_files": files, "input_bytes": text_bytes, "num_buckets": num_buckets,
        "vocab_size": len(vocab)})
    logging.info("Wrote %s examples to %d shards in %s (%.1f s).", total, num_shards,
                 output_dir, seconds)
    return {"files": paths, "num_examples": total, "seconds": seconds,
            "examples_per_second": (total or 0) / seconds}
