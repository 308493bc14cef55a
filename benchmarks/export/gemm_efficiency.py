"""How fast LiteRT/XNNPACK runs MobileBERT's matmul shapes next to BERT-base's, on this CPU.

    python benchmarks/export/gemm_efficiency.py [--threads=1,2] [--rounds=15] [--output=f.json]

BERT-base / MobileBERT latency can only reach the FLOP ratio (4.15 at seq 128) if both models'
arithmetic runs equally fast. This times each model's three parts in isolation, with
its real shapes, converted by the same converter and interleaved in one process:

- `ffn`: every stacked FFN of the model, `x + relu(x W1) W2` in a chain (MobileBERT: 96 of
  128 -> 512 -> 128; BERT-base: 12 of 768 -> 3072 -> 768), as FULLY_CONNECTED ops;
- `dense`: every other dense layer, as our folded graph has them (MobileBERT, per layer:
  512 -> 384, 128 -> 256, 128 -> 128, 128 -> 512; BERT-base: four 768 -> 768, Q, K, V and
  output, as tf-models-official's encoder has them), chained through slices;
- `attention`: every layer's attention core, `softmax(q k^T + mask) v` in a chain
  (MobileBERT: 24 layers of 4 heads x 32; BERT-base: 12 layers of 12 heads x 64): two
  BATCH_MATMULs and a SOFTMAX, float in every precision.

and reports GFLOP/s (multiply-adds x 2 / median time). `bert_base / mobilebert` is the ratio
of the two models' speeds on the same part: what BERT-base / MobileBERT latency loses
against the FLOP ratio. The parts' summed latencies give the ratio the whole models could
reach here if nothing else (embeddings, residual ADDs, TRANSPOSEs) cost anything.
"""

import json
import os
import tempfile

from absl import app, flags, logging
import numpy as np
import tensorflow as tf

from mobilebert_tf.export import benchmark, tflite

flags.DEFINE_list("threads", ["1", "2"], "Interpreter thread counts, each a separate timing.")
flags.DEFINE_list("precisions", ["float32", "dynamic_int8"], "float32 and/or dynamic_int8.")
flags.DEFINE_integer("seq_length", 128, "Tokens (rows of every matmul).")
flags.DEFINE_integer("rounds", 15, "Timed rounds; each runs every part once.")
flags.DEFINE_string("output", None, "Optional JSON file for the results.")
FLAGS = flags.FLAGS

# name: (layers, hidden width of the FFN input, FFN inner width, FFNs per layer, heads,
# head size, the other dense layers of a layer as (input width, output width))
MODELS = {"mobilebert": (24, 128, 512, 4, 4, 32, [(512, 384), (128, 256), (128, 128),
                                                   (128, 512)]),
          "bert_base": (12, 768, 3072, 1, 12, 64, [(768, 768)] * 4)}


def _ffn_chain(layers, width, inner, ffns, seq):
    count = layers * ffns
    rng = np.random.default_rng(0)
    kernels = [(tf.constant(rng.normal(0, width ** -0.5, (width, inner)), tf.float32),
                tf.constant(rng.normal(0, inner ** -0.5, (inner, width)), tf.float32))
               for _ in range(count)]

    def chain(inputs):
        x = inputs["x"]
        for w1, w2 in kernels:  # a residual keeps magnitudes steady (no denormals)
            x = x + tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
        return {"y": x}

    return chain, {"x": [seq, width]}, 2 * seq * width * inner * 2 * count


def _dense_chain(layers, shapes, seq):
    rng = np.random.default_rng(1)
    kernels = [tf.constant(rng.normal(0, n ** -0.5, (n, m)), tf.float32)
               for _ in range(layers) for n, m in shapes]
    width = shapes[0][0]

    def chain(inputs):
        x = inputs["x"]
        for kernel in kernels:  # each output sliced to the next layer's input width
            x = tf.matmul(x[:, :kernel.shape[0]], kernel)
        return {"y": x}

    flops = 2 * seq * sum(n * m for n, m in shapes) * layers
    return chain, {"x": [seq, width]}, flops


def _attention_chain(layers, heads, size, seq):
    mask = tf.constant(np.where(np.arange(seq) < 3 * seq // 4, 0.0, -1e4)[None, None, :],
                       tf.float32)

    def chain(inputs):
        query, key, value = (inputs[k] for k in ("q", "k", "v"))
        for _ in range(layers):  # each layer's context is the next layer's query
            probs = tf.nn.softmax(tf.matmul(query, key, transpose_b=True) + mask, axis=-1)
            query = tf.matmul(probs, value)
        return {"y": query}

    shape = [heads, seq, size]
    return chain, {"q": shape, "k": shape, "v": shape}, 2 * 2 * heads * seq * seq * size * layers


def _convert(chain, shapes, precision) -> bytes:
    spec = {k: tf.TensorSpec(s, tf.float32, name=k) for k, s in shapes.items()}
    module = tf.Module()
    module.serve = tf.function(chain, input_signature=[spec])
    with tempfile.TemporaryDirectory() as path:
        tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
        return tflite.convert(path, precision)  # the converter settings of our exports


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    seq = FLAGS.seq_length
    models, flops = {}, {}
    for model, (layers, width, inner, ffns, heads, size, dense) in MODELS.items():
        parts = {"ffn": _ffn_chain(layers, width, inner, ffns, seq),
                 "dense": _dense_chain(layers, dense, seq),
                 "attention": _attention_chain(layers, heads, size, seq)}
        for part, (chain, shapes, count) in parts.items():
            for precision in FLAGS.precisions:
                if part == "attention" and precision != "float32":
                    continue  # no weights: dynamic int8 leaves it float, the same graph
                name = f"{model} {part} {precision}"
                models[name], flops[name] = _convert(chain, shapes, precision), count
    print(f"seq {seq}, batch 1; LiteRT interpreter, XNNPACK, 3 warm-up + {FLAGS.rounds} "
          f"interleaved rounds, {os.cpu_count()} CPUs visible.")
    results = []
    for threads in map(int, FLAGS.threads):
        latencies = {l.name: l for l in benchmark.time_models(models, threads,
                                                              rounds=FLAGS.rounds)}
        print(f"\n{threads} thread(s)\n{'part':34} {'GFLOP':>6} {'median ms':>10} "
              f"{'GFLOP/s':>8}")
        for name, latency in latencies.items():
            speed = flops[name] / latency.median_ms / 1e6
            results.append({"name": name, "threads": threads, "gflop": flops[name] / 1e9,
                            "median_ms": latency.median_ms, "gflops_per_s": speed})
            print(f"{name:34} {flops[name] / 1e9:6.2f} {latency.median_ms:10.2f} {speed:8.0f}")
        speeds = {r["name"]: r["gflops_per_s"] for r in results if r["threads"] == threads}
        for name in speeds:
            if name.startswith("bert_base"):
                ours = name.replace("bert_base", "mobilebert")
                print(f"  {name.removeprefix('bert_base ')}: bert_base / mobilebert speed "
                      f"{speeds[name] / speeds[ours]:.2f}")
        for precision in FLAGS.precisions:
            total = {model: sum(latencies[f"{model} {part} {p}"].median_ms for part, p in (
                ("ffn", precision), ("dense", precision), ("attention", "float32")))
                for model in MODELS}
            print(f"  sum of parts, {precision}: bert_base / mobilebert "
                  f"{total['bert_base'] / total['mobilebert']:.2f} ({total['bert_base']:.2f} / "
                  f"{total['mobilebert']:.2f} ms)")
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump({"setup": {"seq_length": seq, "rounds": FLAGS.rounds,
                                 "models": MODELS}, "results": results}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
