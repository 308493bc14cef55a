r"""Creates MLM + NSP pretraining TFRecords from text (one sentence per line, blank line between
documents), with the standard BERT feature names, on Apache Beam.

Locally (Beam's FnApiRunner, `--num_workers` worker processes):

    python -m mobilebert_tf.data.create_pretraining_data \
        --input_file='corpus/*.txt' --output_dir=/tmp/records \
        --seq_length=128 --max_predictions_per_seq=20 --dupe_factor=10 --num_workers=2

On a cluster, Beam's own pipeline options after `--` (Dataflow needs
`pip install 'mobilebert_tf[gcp]'`; Flink and Spark work the same way):

    python -m mobilebert_tf.data.create_pretraining_data \
        --input_file='gs://my-bucket/text/*.txt' --output_dir=gs://my-bucket/records \
        --seq_length=512 --max_predictions_per_seq=20 --dynamic_masking -- \
        --runner=DataflowRunner --project=my-project --region=us-central1 \
        --temp_location=gs://my-bucket/tmp --setup_file=./setup.py

`--vocab_file` defaults to the BERT uncased vocab. The records are byte-identical whatever
the runner or the number of workers (`mobilebert_tf/data/pretraining_pipeline.py`). Shards
are written as `*.incomplete` and renamed only when the whole pipeline has succeeded; a failed
run leaves no `*.tfrecord` behind and removes nothing that was there. Beside the shards go
`pretraining_data.json` (how they were made, how many examples) and `vocab.txt`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
import time
from typing import Sequence

from absl import app, flags, logging

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
    FnApiRunner with `num_workers` worker processes. Named on purpose: Beam's default
    DirectRunner may choose the Prism runner, which downloads a binary."""
    from apache_beam.options.pipeline_options import (DirectOptions, PipelineOptions,
                                                      StandardOptions)

    options = PipelineOptions(list(beam_args))
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = "FnApiRunner"
        direct = options.view_as(DirectOptions)
        if not any(a.startswith("--direct_running_mode") for a in beam_args):
            direct.direct_running_mode = "multi_processing"
        if not any(a.startswith("--direct_num_workers") for a in beam_args):
            direct.direct_num_workers = num_workers
    return options


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
                               beam_args: Sequence[str] = ()) -> dict:
    """Text files -> sharded pretraining TFRecords, on Apache Beam.

    Args:
        input_files: glob patterns (list, or comma-separated string), on any filesystem
            `tf.io.gfile` reads.
        output_dir: created if missing.
        vocab_file: a BERT `vocab.txt`; None for BERT uncased.
        config: a `PretrainingDataConfig`.
        num_workers: worker processes of the local runner (ignored with another `--runner`).
        output_prefix: shards are `{prefix}-{i:05d}-of-{n:05d}.tfrecord`.
        overwrite: replace the records already in `output_dir` (once the new ones are
            complete) instead of refusing.
        beam_args: Beam pipeline options, e.g. `["--runner=DataflowRunner", ...]`.

    Returns:
        dict with `files` (the shard paths), `num_examples`, `seconds`, `examples_per_second`.

    Raises:
        InputError: no input file, an output directory that holds records, a non-UTF-8 input,
            fewer than 2 documents; a failed run leaves no shard behind.
    """
    import apache_beam as beam
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
    try:
        pipeline = beam.Pipeline(options=options)
        pretraining_pipeline.build(pipeline, files, vocab_file, config, num_buckets, paths)
        result = pipeline.run()
        result.wait_until_finish()
        missing = [p for p in paths
                   if not tf.io.gfile.exists(p + pretraining_records.INCOMPLETE_SUFFIX)]
        if missing:
            raise RuntimeError(f"The pipeline finished without writing {missing}.")
    except BaseException as e:
        for path in paths:
            if tf.io.gfile.exists(path + pretraining_records.INCOMPLETE_SUFFIX):
                tf.io.gfile.remove(path + pretraining_records.INCOMPLETE_SUFFIX)
        logging.error("Record creation failed; no shard was kept.")
        input_error = _input_error_in(e)
        if input_error is not None:
            raise input_error from None
        raise
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
    flags.DEFINE_integer("dupe_factor", None, "Maskings of the corpus [10; 1 with "
                         "--dynamic_masking].")
    flags.DEFINE_bool("whole_word_masking", defaults.whole_word_masking, "Whole-word masking.")
    flags.DEFINE_bool("dynamic_masking", defaults.dynamic_masking, "Write unmasked pairs "
                      "once; the input pipeline draws new masks at every read.")
    flags.DEFINE_integer("random_seed", defaults.random_seed, "Random seed.")
    flags.DEFINE_float("bucket_mb", defaults.bucket_mb, "Megabytes of text per bucket of "
                       "documents (random next sentences come from the same bucket).")
    flags.DEFINE_integer("num_shards", None, "Output files [one per ~128 MB of records].")
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Worker processes of the local "
                         "runner (without a --runner after --).")
    flags.DEFINE_bool("overwrite", False, "Replace existing shards.")
    flags.mark_flags_as_required(["input_file", "output_dir"])


def main(argv):
    # After `--`: Beam's pipeline options. Anything else left over is a mistake (often an
    # unquoted glob that the shell expanded).
    beam_args = argv[1:]
    if beam_args and "--" not in sys.argv:
        raise app.UsageError(f"Unexpected arguments {beam_args}: quote glob patterns "
                             "(--input_file='corpus/*.txt'); Beam options go after --.")
    dupe = FLAGS.dupe_factor or (1 if FLAGS.dynamic_masking else 10)
    try:
        config = PretrainingDataConfig(
            seq_length=FLAGS.seq_length, max_predictions_per_seq=FLAGS.max_predictions_per_seq,
            masked_lm_prob=FLAGS.masked_lm_prob, short_seq_prob=FLAGS.short_seq_prob,
            dupe_factor=dupe, whole_word_masking=FLAGS.whole_word_masking,
            dynamic_masking=FLAGS.dynamic_masking, random_seed=FLAGS.random_seed,
            bucket_mb=FLAGS.bucket_mb, num_shards=FLAGS.num_shards)
        create_pretraining_records(FLAGS.input_file, FLAGS.output_dir, FLAGS.vocab_file, config,
                                   num_workers=FLAGS.num_workers,
                                   output_prefix=FLAGS.output_prefix, overwrite=FLAGS.overwrite,
                                   beam_args=beam_args)
    except InputError as e:
        raise app.UsageError(str(e)) from None


if __name__ == "__main__":
    define_flags()
    app.run(main)
