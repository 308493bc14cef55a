"""Where the time of our folded MobileBERT goes: the exported graph with one part removed at a
time, every variant converted by the same converter and timed side by side (LiteRT, XNNPACK).

    python benchmarks/export/profile_parts.py [--preset=mobilebert] [--seq_length=128] \
        [--precisions=float32,dynamic_int8] [--rounds=21] [--output=profile.json]

The LiteRT Python interpreter has no per-op profiler, so the cost of a part is read as the
latency it removes: `full - without_part`. The variants compute something else (they exist
only to be timed); `per-tensor transposes` is the previous layout of Q/K/V (one TRANSPOSE per
tensor, the graph before 2026-11-24) and `unmaterialized scales` never multiplies the residual
stream's scale in (fine in float, too wide a channel spread for int8): both compute what `full`
does.
"""

import json
import math
import os
import tempfile

from absl import app, flags, logging
import tensorflow as tf

from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.export import benchmark, exporter, tflite
from mobilebert_tf.export.folded import FoldedModel
from mobilebert_tf.signature import input_spec
from mobilebert_tf.weights import randomize_norms

flags.DEFINE_string("preset", "mobilebert", "Our preset.")
flags.DEFINE_integer("seq_length", 128, "Sequence length.")
flags.DEFINE_list("precisions", ["float32", "dynamic_int8"], "Precisions to time.")
flags.DEFINE_integer("num_threads", 2, "Interpreter threads (XNNPACK).")
flags.DEFINE_integer("rounds", 21, "Timed rounds; each runs every variant once.")
flags.DEFINE_string("output", None, "Optional JSON file for the latencies.")
FLAGS = flags.FLAGS


class WithoutAttention(FoldedModel):
    """Context = V: no Q/K matmul, no logits, softmax, or attention matmuls."""

    def _heads(self, x, batch, heads, size, num=None):
        return x if num is None else tf.split(x, num, axis=-1)

    def _attention(self, query, key, value, mask_adder):
        return value


class WithoutSoftmax(FoldedModel):
    """The attention matmuls without the mask ADD and SOFTMAX between them."""

    def _attention(self, query, key, value, mask_adder):
        context = tf.matmul(tf.matmul(query, key, transpose_b=True), value)
        return tf.reshape(tf.transpose(context, [0, 2, 1, 3]),
                          [-1, query.shape[1] * value.shape[-1]])


class WithoutFfns(FoldedModel):
    """Blocks without their stacked FFNs."""

    def _ffn(self, hidden, ffn):
        return hidden


class PerTensorTransposes(FoldedModel):
    """Q and K split before going head-major: one TRANSPOSE each."""

    def _heads(self, x, batch, heads, size, num=None):
        if num is None:
            return super()._heads(x, batch, heads, size)
        return [super(PerTensorTransposes, self)._heads(part, batch, heads, size)
                for part in tf.split(x, num, axis=-1)]


class UnmaterializedScales(FoldedModel):
    """The residual stream's scale carried to the end, never multiplied in on the way."""

    def __init__(self, encoder):
        super().__init__(encoder, max_scale_spread=math.inf)


VARIANTS = {"full": FoldedModel, "without attention": WithoutAttention,
            "without softmax": WithoutSoftmax, "without FFNs": WithoutFfns,
            "per-tensor transposes": PerTensorTransposes,
            "unmaterialized scales": UnmaterializedScales}


def _saved_model(graph: FoldedModel, path: str) -> str:
    spec = input_spec(1, FLAGS.seq_length)
    module = tf.Module()
    module.graph = graph
    module.serve = tf.function(lambda inputs: module.graph(inputs), input_signature=[spec])
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    return path


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # saving a SavedModel logs a screenful per variant
    encoder = build_encoder(FLAGS.preset)
    randomize_norms(encoder)  # identity norms would be deleted by the converter
    calibration = exporter.random_examples(20, 1, FLAGS.seq_length, encoder.config.vocab_size)
    models = {}
    with tempfile.TemporaryDirectory() as work:
        for name, cls in VARIANTS.items():
            path = _saved_model(cls(encoder), tf.io.gfile.join(work, name.replace(" ", "_")))
            for precision in FLAGS.precisions:
                models[f"{name} {precision}"] = tflite.convert(path, precision,
                                                               lambda: calibration)
    print(f"{FLAGS.preset} at seq {FLAGS.seq_length}, batch 1, random weights; LiteRT "
          f"interpreter, XNNPACK, {FLAGS.num_threads} threads, 3 warm-up + {FLAGS.rounds} "
          f"interleaved rounds, {os.cpu_count()} CPUs visible.")
    latencies = benchmark.time_models(models, FLAGS.num_threads, rounds=FLAGS.rounds)
    medians = {l.name: l.median_ms for l in latencies}
    for precision in FLAGS.precisions:
        rows = [l for l in latencies if l.name.endswith(" " + precision)]
        print(f"\n{precision}\n" + benchmark.format_table(rows, f"full {precision}"))
        full = medians[f"full {precision}"]
        for name in VARIANTS:
            if name.startswith("without"):
                part = name.removeprefix("without ")
                cost = full - medians[f"{name} {precision}"]
                print(f"  {part}: {cost:.2f} ms ({cost / full:.0%} of full)")
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump({"setup": {"preset": FLAGS.preset, "seq_length": FLAGS.seq_length,
                                 "num_threads": FLAGS.num_threads, "rounds": FLAGS.rounds},
                       "latencies": [vars(l) for l in latencies]}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
