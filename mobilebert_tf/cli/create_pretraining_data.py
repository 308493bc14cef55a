r"""Create MLM + NSP pretraining TFRecords from text files (one sentence per line, a blank
line between documents), on Apache Beam.

Locally (Beam's FnApiRunner, `--num_workers` worker processes):

    mobilebert-create-pretraining-data --input_file='corpus/*.txt' --output_dir=/tmp/records \
        --seq_length=128 --max_predictions_per_seq=20 --dupe_factor=10 --num_workers=2

On a cluster, Beam's own pipeline options after `--` (Dataflow needs
`pip install 'mobilebert_tf[gcp]'`; Flink and Spark work the same way):

    mobilebert-create-pretraining-data --input_file='gs://my-bucket/text/*.txt' \
        --output_dir=gs://my-bucket/records --seq_length=512 --dynamic_masking -- \
        --runner=DataflowRunner --project=my-project --region=us-central1 \
        --temp_location=gs://my-bucket/tmp --setup_file=./setup.py

Writes `<prefix>-SSSSS-of-NNNNN.tfrecord` (example counts equal within one), plus
`pretraining_data.json` and `vocab.txt`; `--dynamic_masking` writes unmasked pairs once and
the training pipeline draws the masks. `--vocab_file` defaults to the BERT uncased vocab.
"""

from __future__ import annotations

import os
import sys
import tempfile

from absl import flags, logging

from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                        create_pretraining_records)
from mobilebert_tf.errors import InputError

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
                         "runner, 1: this process (without a --runner after --).",
                         lower_bound=1)
    flags.DEFINE_bool("overwrite", False, "Replace existing shards.")
    flags.mark_flags_as_required(["input_file", "output_dir"])


def main(argv):
    # After `--`: Beam's pipeline options. Anything else left over is a mistake (often an
    # unquoted glob that the shell expanded).
    beam_args = argv[1:]
    if beam_args and "--" not in sys.argv:
        raise InputError(f"Unexpected arguments {beam_args}: quote glob patterns "
                         "(--input_file='corpus/*.txt'); Beam options go after --.")
    dupe = FLAGS.dupe_factor or (1 if FLAGS.dynamic_masking else 10)
    config = PretrainingDataConfig(
        seq_length=FLAGS.seq_length, max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        masked_lm_prob=FLAGS.masked_lm_prob, short_seq_prob=FLAGS.short_seq_prob,
        dupe_factor=dupe, whole_word_masking=FLAGS.whole_word_masking,
        dynamic_masking=FLAGS.dynamic_masking, random_seed=FLAGS.random_seed,
        bucket_mb=FLAGS.bucket_mb, num_shards=FLAGS.num_shards)
    # Beam's runner and workers log dozens of lines each: into a file of their own.
    runner_log = os.path.join(tempfile.gettempdir(),
                              f"mobilebert-create-pretraining-data-{os.getpid()}.log")
    logging.info("Running the pipeline; Beam's log: %s", runner_log)
    try:
        result = create_pretraining_records(
            FLAGS.input_file, FLAGS.output_dir, FLAGS.vocab_file, config,
            num_workers=FLAGS.num_workers, output_prefix=FLAGS.output_prefix,
            overwrite=FLAGS.overwrite, beam_args=beam_args, runner_log=runner_log)
    except InputError:
        raise
    except Exception:
        logging.error("Record creation failed; Beam's log: %s", runner_log)
        raise
    print(f"{result['num_examples']} examples in {len(result['files'])} shards in "
          f"{FLAGS.output_dir} ({result['seconds']:.1f} s).")


def run_cli():
    """The `mobilebert-create-pretraining-data` command."""
    from mobilebert_tf import cli
    define_flags()
    cli.run(main, __name__, takes_arguments=True)


if __name__ == "__main__":
    run_cli()
