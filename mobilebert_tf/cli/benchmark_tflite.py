"""Latency of `.tflite` models (LiteRT interpreter, XNNPACK), with the reference built and
timed in the same run so every figure is also a ratio measured side by side.

    # Ours vs tf-models-official's MobileBERTEncoder and BERT-base, random weights:
    python -m export.benchmark_tflite --reference --output_dir=benchmarks/export/results
    # Any exported files (name=path):
    python -m export.benchmark_tflite --tflite=fp32=exported/model_float32.tflite,\
int8=exported/model_int8.tflite
    # Real texts (the sentiment dev set, one at a time): fixed-length [1, 128] files vs
    # adaptive-length [1, -1] ones, every precision, of a trained classifier:
    python -m export.benchmark_tflite --real_text --model=classifier.keras \
        --vocab_file=vocab.txt --precisions=float32,float16,dynamic_int8,int8 --output_dir=out

Weights are random (--reference, and --real_text without --model), with NoNorm/LayerNorm
parameters randomized too: the converter deletes identity NoNorms, which would make untrained
models look faster than trained ones.
"""

import os

import tensorflow as tf
from absl import app, flags

from mobilebert_tf import MobileBertClassifier, fileio
from mobilebert_tf.export import benchmark, exporter, loading
from mobilebert_tf.export.reference import reference_suite
from mobilebert_tf.weights import randomize_norms

flags.DEFINE_list("tflite", [], "name=path pairs of .tflite files to time.")
flags.DEFINE_bool("reference", False, "Build and time ours and the reference encoders.")
flags.DEFINE_bool("real_text", False, "Time the sentiment dev texts one by one at their real "
                  "lengths: fixed --seq_length files (padded) vs adaptive-length ones.")
flags.DEFINE_string("model", None, "--real_text: a .keras classifier (default: a random "
                    "--preset classifier).")
flags.DEFINE_string("vocab_file", None, "--real_text: the model's vocab.txt (default: BERT "
                    "uncased).")
flags.DEFINE_integer("num_texts", 0, "--real_text: dev texts to time, spread over the split "
                     "(0: all).", lower_bound=0)
flags.DEFINE_list("buckets", ["16", "32", "64", "128"], "--real_text: lengths of the "
                  "bucketed interpreters (the adaptive file resized once per bucket).")
flags.DEFINE_integer("num_calibration", 100, "--real_text: train texts calibrating int8.",
                     lower_bound=1)
flags.DEFINE_string("preset", "mobilebert", "Our preset for --reference and --real_text.")
flags.DEFINE_list("precisions", ["float32", "dynamic_int8", "int8"],
                  "Precisions for --reference and --real_text.")
flags.DEFINE_integer("seq_length", 128, "Sequence length for --reference and the fixed files "
                     "of --real_text.", lower_bound=1)
flags.DEFINE_integer("num_threads", 2, "Interpreter threads (XNNPACK).", lower_bound=1)
flags.DEFINE_integer("warmup", 3, "Untimed rounds (--real_text: texts) first.", lower_bound=0)
flags.DEFINE_integer("rounds", 15, "Timed rounds; each runs every model once.", lower_bound=1)
flags.DEFINE_string("output_dir", None, "Where to write latency.json, latency.png and the "
                    "converted models (--real_text: real_text.json, real_text.png).")
FLAGS = flags.FLAGS


def real_text(output_dir, buckets):
    """Export the model fixed and adaptive, then time them on the dev texts."""
    if FLAGS.model is None:
        model = loading.build_model(FLAGS.preset, "classifier")
        randomize_norms(model.encoder)
    else:
        model = loading.load_model(FLAGS.model)
        if not isinstance(model, MobileBertClassifier):
            raise app.UsageError(f"--model {FLAGS.model!r} holds a {type(model).__name__}; "
                                 "--real_text times a sentiment classifier.")
    vocab_size = model.encoder.config.vocab_size

    def texts(split, count):
        return exporter.examples_from_task("sentiment", split, FLAGS.vocab_file, count, 1,
                                           FLAGS.seq_length, vocab_size)

    try:
        calibration, dev = texts("train", FLAGS.num_calibration), texts(
            "validation", FLAGS.num_texts or 10**9)
    except ValueError as e:  # a vocab that is not the model's
        raise app.UsageError(str(e)) from None
    files = benchmark.export_pairs(model, FLAGS.precisions, FLAGS.seq_length, calibration,
                                   dev[:16], output_dir)
    lengths = [int(e["input_mask"].sum()) for e in dev]
    load = os.getloadavg()[0]
    print(f"LiteRT interpreter, XNNPACK, {FLAGS.num_threads} threads, batch 1, {len(dev)} "
          f"sentiment dev texts (real length median {sorted(lengths)[len(lengths) // 2]}, "
          f"max {max(lengths)}) vs fixed [1, {FLAGS.seq_length}], {os.cpu_count()} CPUs, "
          f"load average {load:.2f}.")
    latencies = benchmark.time_real_text(files, dev, buckets, FLAGS.num_threads,
                                         FLAGS.warmup)
    print(benchmark.format_real_text(latencies))
    fileio.write_json(tf.io.gfile.join(output_dir, "real_text.json"), {
        "model": FLAGS.model or f"random {FLAGS.preset} classifier",
        "num_threads": FLAGS.num_threads, "seq_length": FLAGS.seq_length,
        "buckets": buckets, "num_texts": len(dev), "lengths": lengths,
        "load_average_before": load, "load_average_after": os.getloadavg()[0],
        "latencies": [dict(vars(l), speedup={m: l.speedup(m) for m in benchmark.MODES[1:]})
                      for l in latencies]})
    benchmark.plot_real_text(latencies, tf.io.gfile.join(output_dir, "real_text.png"))


def _buckets() -> list[int]:
    try:
        buckets = sorted(int(b) for b in FLAGS.buckets)
    except ValueError:
        buckets = []
    if not buckets or buckets[0] < 1 or buckets[-1] < FLAGS.seq_length:
        raise app.UsageError(f"--buckets wants increasing lengths up to --seq_length "
                             f"{FLAGS.seq_length}, got {FLAGS.buckets}.")
    return buckets


def main(argv):
    del argv
    output_dir = FLAGS.output_dir or "benchmark_output"
    if not (FLAGS.tflite or FLAGS.reference or FLAGS.real_text):
        raise app.UsageError("Nothing to time: give --tflite=name=path, --reference and/or "
                             "--real_text.")
    if FLAGS.real_text and (FLAGS.tflite or FLAGS.reference):
        raise app.UsageError("--real_text times its own fixed and adaptive exports: run it "
                             "without --tflite and --reference.")
    if FLAGS.model is not None and not tf.io.gfile.exists(FLAGS.model):
        raise app.UsageError(f"No model file at --model {FLAGS.model!r}.")
    if FLAGS.vocab_file is not None and not tf.io.gfile.exists(FLAGS.vocab_file):
        raise app.UsageError(f"No vocab file at --vocab_file {FLAGS.vocab_file!r}.")
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
    if FLAGS.real_text:
        return real_text(output_dir, _buckets())
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
