"""Latency of `.tflite` models with the LiteRT interpreter (XNNPACK), measured side by side.

Every model is timed in the same process, round-robin (each round runs every model, in an
order rotated every round), so a noisy machine slows all of them alike and the ratios between
them stay meaningful.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from mobilebert_tf import fileio


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
