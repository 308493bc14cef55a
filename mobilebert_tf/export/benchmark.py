"""Latency of `.tflite` models with the LiteRT interpreter (XNNPACK), measured side by side.

Every model is timed in the same process, round-robin (each round runs every model, in an
order rotated every round), so a noisy machine slows all of them alike and the ratios between
them stay meaningful. `time_models` times one synthetic input per model; `time_real_text`
times real texts one by one, each in a fixed-length file (padded) and in an adaptive-length
one (`dynamic_length`, cut to the text's real length).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from mobilebert_tf import fileio
from mobilebert_tf.export import tflite


@dataclasses.dataclass
class Latency:
    name: str
    median_ms: float
    min_ms: float
    max_ms: float
    bytes: int
    delegate_partitions: int


def _inputs_for(runner) -> dict[str, np.ndarray]:
    """Deterministic inputs for a signature runner: a 3/4-full mask, ids in a safe range."""
    inputs = {}
    for key, detail in runner.get_input_details().items():
        shape, dtype = tuple(detail["shape"]), detail["dtype"]
        seq = shape[-1]
        mask = (np.arange(seq) < max(1, 3 * seq // 4)).astype(dtype)
        value = np.broadcast_to(mask, shape).copy()
        if key == "input_word_ids":
            value = value * (5 + np.arange(seq, dtype=dtype) % 500)  # inside any vocab
        elif key == "input_type_ids":
            value = np.zeros(shape, dtype)
        inputs[key] = value
    return inputs


def delegate_partitions(interpreter) -> int:
    """XNNPACK partitions of an allocated interpreter: each is one DELEGATE node of the plan."""
    return sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


def time_models(models: dict[str, bytes], num_threads: int = 2, warmup: int = 3,
                rounds: int = 15) -> list[Latency]:
    """Median/min/max milliseconds of one inference of each model, interleaved (the median of
    the faster of its two interpreters; min and max over both)."""
    from ai_edge_litert.interpreter import Interpreter

    # Interpreters built early in a process run a few % slower than later ones (measured:
    # the first of six copies of one model ~4% slower than the sixth, whatever the round
    # order). So every model gets two, built in forward and then in reverse order; both are
    # timed, and the faster one's median is reported (normally the one built later).
    names = list(models)
    instances = {name: [] for name in names}
    partitions = {}
    for name in names + names[::-1]:
        interpreter = Interpreter(model_content=models[name], num_threads=num_threads)
        interpreter.allocate_tensors()  # applies the XNNPACK delegate
        runner = interpreter.get_signature_runner()
        instances[name].append((runner, _inputs_for(runner), []))
        partitions[name] = delegate_partitions(interpreter)
    for _ in range(warmup):
        for name in names:
            for runner, feed, _ in instances[name]:
                runner(**feed)
    for r in range(rounds):
        # Each round starts one model later, so no model is always first.
        for name in names[r % len(names):] + names[:r % len(names)]:
            for runner, feed, samples in instances[name]:
                start = time.perf_counter()
                runner(**feed)
                samples.append((time.perf_counter() - start) * 1e3)
    latencies = []
    for name in names:
        runs = [samples for _, _, samples in instances[name]]
        pooled = np.concatenate(runs)
        latencies.append(Latency(name, float(min(np.median(s) for s in runs)),
                                 float(pooled.min()), float(pooled.max()), len(models[name]),
                                 partitions[name]))
    return latencies


MODES = ("fixed", "adaptive", "bucketed")


@dataclasses.dataclass
class RealTextLatency:
    """Per-example latency of one precision over real texts, in three ways of serving them:
    `fixed`, its fixed-length file on padded inputs; `adaptive`, its adaptive-length file
    resized to each text's real length; `bucketed`, the adaptive file in one interpreter per
    bucket length (resized once), each text padded to the shortest bucket that holds it.
    Agreement and differences are with the fixed file's predictions."""
    precision: str
    median_ms: dict[str, float]
    mean_ms: dict[str, float]
    top1_agreement: dict[str, float]
    max_abs_difference: dict[str, float]  # of the predicting output, at real tokens
    partitions: dict[str, int]
    bytes: dict[str, int]

    def speedup(self, mode: str) -> float:
        """Fixed over `mode`'s median latency."""
        return self.median_ms["fixed"] / self.median_ms[mode]


# The output a prediction is read from: a classifier's class, a span labeler's start, an
# encoder's largest pooled feature (no prediction of its own; still compared).
PREDICTING_OUTPUTS = ("logits", "probability", "start_logits", "pooled_output")


def _prediction(outputs: dict, length: int) -> np.ndarray:
    name = next(n for n in PREDICTING_OUTPUTS if n in outputs)
    value = outputs[name]
    return value[:, :length] if name == "start_logits" else value


def export_pairs(model, precisions, seq_length: int, calibration: list[dict],
                 fidelity_examples: list[dict], output_dir: str, log=print,
                 ) -> dict[str, tuple[bytes, bytes]]:
    """Export `model` twice with `exporter.export` (fidelity-checked): fixed `[1, seq_length]`
    to `output_dir/fixed`, adaptive `[1, -1]` to `output_dir/adaptive`; returns
    `{precision: (fixed bytes, adaptive bytes)}` for `time_real_text`. Without runtime
    metadata: it does not change the graph but for a classifier's softmax on its logits."""
    import tensorflow as tf

    from mobilebert_tf.export import exporter

    results = {shape: exporter.export(
        model, tf.io.gfile.join(output_dir, shape), precisions, seq_length, 1, calibration,
        fidelity_examples, log=log, runtime_metadata=False,
        dynamic_length=shape == "adaptive")
        for shape in ("fixed", "adaptive")}
    return {p: tuple(fileio.read_bytes(results[shape][p]["path"])
                     for shape in ("fixed", "adaptive")) for p in precisions}


def _fit(example: dict, length: int) -> dict:
    """`example` cut or zero-padded to `length` tokens."""
    return {k: np.pad(v[:, :length], [[0, 0], [0, max(0, length - v.shape[1])]])
            for k, v in example.items()}


def _runners(files, buckets, num_threads):
    """`{(precision, mode): [(bucket length or None, interpreter, runner)]}`; adaptive files
    first: early interpreters run a few % slower (`time_models`), so any bias is against them."""
    from ai_edge_litert.interpreter import Interpreter

    runners = {}
    for mode in ("adaptive", "bucketed", "fixed"):
        for precision, (fixed, adaptive) in files.items():
            for length in (buckets if mode == "bucketed" else [None]):
                interpreter = Interpreter(model_content=fixed if mode == "fixed" else adaptive,
                                          num_threads=num_threads)
                if length is not None:
                    for detail in interpreter.get_input_details():
                        interpreter.resize_tensor_input(detail["index"], [1, length])
                interpreter.allocate_tensors()
                runners.setdefault((precision, mode), []).append(
                    (length, interpreter, interpreter.get_signature_runner()))
    return runners


def time_real_text(files: dict[str, tuple[bytes, bytes]], examples: list[dict],
                   buckets=(16, 32, 64, 128), num_threads: int = 2,
                   warmup: int = 3) -> list[RealTextLatency]:
    """Per-example latency of each precision in each of `MODES`, interleaved: every example
    runs in every file and mode (order rotated per example) before the next one starts.

    Args:
        files: `{precision: (fixed-length .tflite, adaptive-length .tflite)}`.
        examples: Batch-1 input dicts padded to the fixed files' length; the adaptive files
            get them cut to their real length (`tflite.trim_padding`), resizing their inputs
            on every call as an app would (the resize is part of the time).
        buckets: Lengths of the bucketed interpreters; texts longer than the last are cut.
        warmup: Untimed examples first (from the start of `examples`).
    """
    runners = _runners(files, sorted(buckets), num_threads)
    keys = list(runners)
    trimmed = [tflite.trim_padding(e) for e in examples]

    def call(key, i):
        """`(time ms, prediction)` of example i in `key`'s files."""
        length = trimmed[i]["input_mask"].shape[1]
        bucket, _, runner = next((r for r in runners[key] if r[0] is None or r[0] >= length),
                                 runners[key][-1])
        feed = (examples[i] if key[1] == "fixed" else trimmed[i] if bucket is None
                else _fit(trimmed[i], bucket))
        start = time.perf_counter()
        outputs = runner(**feed)
        return (time.perf_counter() - start) * 1e3, _prediction(outputs, length)

    for i in range(min(warmup, len(examples))):
        for key in keys:
            call(key, i)
    times = {key: [] for key in keys}
    agree, differences = {key: [] for key in keys}, {key: [0.0] for key in keys}
    for i in range(len(examples)):
        predictions = {}
        for key in keys[i % len(keys):] + keys[:i % len(keys)]:
            elapsed, predictions[key] = call(key, i)
            times[key].append(elapsed)
        for precision, mode in keys:
            fixed, other = predictions[precision, "fixed"], predictions[precision, mode]
            agree[precision, mode].append(int(fixed.argmax()) == int(other.argmax()))
            differences[precision, mode].append(float(np.abs(fixed - other).max()))

    def per_mode(precision, value, modes=MODES):
        return {mode: value((precision, mode)) for mode in modes}

    return [RealTextLatency(
        p, per_mode(p, lambda k: float(np.median(times[k]))),
        per_mode(p, lambda k: float(np.mean(times[k]))),
        per_mode(p, lambda k: float(np.mean(agree[k])), MODES[1:]),
        per_mode(p, lambda k: max(differences[k]), MODES[1:]),
        # After the last call: the adaptive interpreter has been resized many times.
        per_mode(p, lambda k: max(delegate_partitions(r[1]) for r in runners[k])),
        {"fixed": len(files[p][0]), "adaptive": len(files[p][1])}) for p in files]


def format_real_text(latencies: list[RealTextLatency]) -> str:
    """A Markdown table, one row per precision; then full int8 over dynamic int8, if both."""
    header = (["precision"] + [f"{m} median ms" for m in MODES]
              + [f"fixed / {m}" for m in MODES[1:]] + [f"{m} mean ms" for m in MODES]
              + [f"top-1 agreement {m}" for m in MODES[1:]]
              + ["max abs diff adaptive", "partitions"])
    rows = [[l.precision] + [f"{l.median_ms[m]:.3f}" for m in MODES]
            + [f"{l.speedup(m):.2f}" for m in MODES[1:]]
            + [f"{l.mean_ms[m]:.3f}" for m in MODES]
            + [f"{l.top1_agreement[m]:.2%}" for m in MODES[1:]]
            + [f"{l.max_abs_difference['adaptive']:.2g}",
               "/".join(str(l.partitions[m]) for m in MODES)] for l in latencies]
    lines = ["| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header)] + rows]
    by_name = {l.precision: l for l in latencies}
    if "int8" in by_name and "dynamic_int8" in by_name:
        full, dynamic = by_name["int8"], by_name["dynamic_int8"]
        lines.append("\nfull int8 / dynamic int8 (medians): " + ", ".join(
            f"{m} {full.median_ms[m] / dynamic.median_ms[m]:.3f}" for m in MODES))
    return "\n".join(lines)


def format_table(latencies: list[Latency], baseline: str | None = None) -> str:
    """A fixed-width table; `ratio` is each median over `baseline`'s."""
    base = next((l.median_ms for l in latencies if l.name == baseline), None)
    header = ["model", "median ms", "min ms", "max ms", "MB", "partitions"]
    if base:
        header.append(f"/ {baseline}")
    rows = []
    for l in latencies:
        row = [l.name, f"{l.median_ms:.2f}", f"{l.min_ms:.2f}", f"{l.max_ms:.2f}",
               f"{l.bytes / 2**20:.1f}", str(l.delegate_partitions)]
        if base:
            row.append(f"{l.median_ms / base:.3f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(r, widths))) for r in [header] + rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def plot_real_text(latencies: list[RealTextLatency], path: str) -> str:
    """Median per-text latency of each precision in each of `MODES`, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.arange(len(latencies))
    fig, ax = plt.subplots(figsize=(8, 0.8 * len(latencies) + 1.2))
    for i, mode in enumerate(MODES):
        ax.barh(y + (i - 1) * 0.27, [l.median_ms[mode] for l in latencies], 0.27, label=mode)
    ax.set_yticks(y, [l.precision for l in latencies])
    ax.invert_yaxis()
    ax.set_xlabel("latency per text (ms, median over the texts)")
    ax.legend()
    fig.tight_layout()
    fileio.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def plot(latencies: list[Latency], path: str) -> str:
    """A horizontal bar chart of median latencies (min-max as error bars) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [l.name for l in latencies]
    medians = np.array([l.median_ms for l in latencies])
    errors = np.array([[l.median_ms - l.min_ms for l in latencies],
                       [l.max_ms - l.median_ms for l in latencies]])
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    ax.barh(names, medians, xerr=errors, color="#4c72b0")
    ax.invert_yaxis()
    ax.set_xlabel("latency per inference (ms, median; bars: min-max)")
    fig.tight_layout()
    fileio.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
