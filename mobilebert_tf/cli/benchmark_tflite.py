"""Latency of `.tflite` models (LiteRT interpreter, XNNPACK), with the reference built and
timed in the same run so every figure is also a ratio measured side by side.

    # Ours vs tf-models-official's MobileBERTEncoder and BERT-base, random weights:
    python -m export.benchmark_tflite --reference --output_dir=benchmarks/export/results
    # Any exported files (name=path):
    python -m export.benchmark_tflite --tflite=fp32=exported/model_float32.tflite,\
int8=exported/model_int8.tflite

Weights are random, with NoNorm/LayerNorm parameters randomized too: the converter deletes
identity NoNorms, which would make untrained models look faster than trained ones.
"""

import os

import tensorflow as tf
from absl import app, flags

from mobilebert_tf import fileio
from mobilebert_tf.export import benchmark
from mobilebert_tf.export.reference import reference_suite

flags.DEFINE_list("tflite", [], "name=path pairs of .tflite files to time.")
flags.DEFINE_bool("reference", False, "Build and time ours and the reference encoders.")
flags.DEFINE_string("preset", "mobilebert", "Our preset for --reference.")
flags.DEFINE_list("precisions", ["float32", "dynamic_int8", "int8"],
                  "Precisions for --reference.")
flags.DEFINE_integer("seq_length", 128, "Sequence length for --reference.")
flags.DEFINE_integer("num_threads", 2, "Interpreter threads (XNNPACK).")
flags.DEFINE_integer("warmup", 3, "Untimed rounds first.")
flags.DEFINE_integer("rounds", 15, "Timed rounds; each runs every model once.")
flags.DEFINE_string("output_dir", None, "Where to write latency.json, latency.png and the "
                    "converted reference models.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    output_dir = FLAGS.output_dir or "benchmark_output"
    if not FLAGS.tflite and not FLAGS.reference:
        raise app.UsageError("Nothing to time: give --tflite=name=path and/or --reference.")
    models = {}
    for item in FLAGS.tflite:
        name, _, path = item.partition("=")
        if not path or not tf.io.gfile.exists(path):
            raise app.UsageError(f"--tflite wants name=path with an existing file: {item!r}")
        models[name] = fileio.read_bytes(path)
    try:
        tf.io.gfile.makedirs(output_dir)
    except tf.errors.OpError as e:
        raise app.UsageError(f"Cannot create --output_dir {output_dir!r}: {e.message}") from None
    if FLAGS.reference:
        models.update(reference_suite(FLAGS.preset, FLAGS.precisions, FLAGS.seq_length,
                                      output_dir))
    for name, content in models.items():
        fileio.write_bytes(tf.io.gfile.join(output_dir, name.replace(" ", "_") + ".tflite"), content)
    print(f"LiteRT interpreter, XNNPACK, {FLAGS.num_threads} threads, batch 1, "
          f"{FLAGS.warmup} warm-up + {FLAGS.rounds} interleaved rounds, "
          f"{os.cpu_count()} CPUs visible.")
    latencies = benchmark.time_models(models, FLAGS.num_threads, FLAGS.warmup, FLAGS.rounds)
    baseline = next((n for n in models if n.startswith("tfmg mobilebert float32")), None)
    print(benchmark.format_table(latencies, baseline))
    fileio.write_json(tf.io.gfile.join(output_dir, "latency.json"),
                      {"num_threads": FLAGS.num_threads, "rounds": FLAGS.rounds,
                       "seq_length": FLAGS.seq_length,
                       "latencies": [vars(l) for l in latencies]})
    benchmark.plot(latencies, tf.io.gfile.join(output_dir, "latency.png"))


def run_cli():
    """The `mobilebert-benchmark-tflite` command (`python -m export.benchmark_tflite` in a
    checkout)."""
    from mobilebert_tf import cli
    cli.run(main, __name__)


if __name__ == "__main__":
    run_cli()
