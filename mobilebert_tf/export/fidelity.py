"""How close a `.tflite` model's outputs are to the Keras model's, and the bounds each
precision must meet."""

from __future__ import annotations

import dataclasses

import numpy as np

# Bounds over every output tensor of a fidelity run: cosine similarity of the flattened
# outputs, max |tflite - keras| / max |keras|, and (for logits) the fraction of examples whose
# argmax agrees. float32 differs only by kernel summation order; float16 weights carry 11
# significant bits; int8 carries 8 (dynamic: weights only; full: activations too).
TOLERANCES = {
    "float32": dict(min_cosine=0.99999, max_relative=1e-4, min_argmax_agreement=1.0),
    "float16": dict(min_cosine=0.9995, max_relative=2e-2, min_argmax_agreement=0.95),
    "dynamic_int8": dict(min_cosine=0.98, max_relative=0.25, min_argmax_agreement=0.9),
    "int8": dict(min_cosine=0.95, max_relative=0.5, min_argmax_agreement=0.85),
}
# Outputs scored per class or position (argmax and top-5 agreement); `probability` is a
# runtime-ready classifier's softmax (`metadata.probability_outputs`).
LOGIT_OUTPUTS = ("logits", "probability", "start_logits", "end_logits")


class FidelityError(ValueError):
    """A `.tflite` model's outputs are further from the Keras model's than allowed."""


@dataclasses.dataclass
class OutputReport:
    name: str
    max_abs: float
    max_relative: float
    cosine: float
    argmax_agreement: float | None = None
    top5_agreement: float | None = None


def compare(expected: list[dict], actual: list[dict]) -> list[OutputReport]:
    """Compare per-example output dicts of the Keras model (`expected`) and a `.tflite` one.
    Examples may differ in shape (an adaptive-length file run at each one's real length);
    the two sides of one example may not."""
    if len(expected) != len(actual) or not expected:
        raise ValueError(f"Need the same, non-zero number of examples; got {len(expected)} "
                         f"and {len(actual)}.")
    reports = []
    for name in sorted(expected[0]):
        pairs = [(np.asarray(e[name], np.float64), np.asarray(a[name], np.float64))
                 for e, a in zip(expected, actual)]
        for want, got in pairs:
            if want.shape != got.shape:
                raise ValueError(f"Output {name!r}: shapes {want.shape} and {got.shape} "
                                 "differ.")
        want, got = (np.concatenate([p[i].ravel() for p in pairs]) for i in (0, 1))
        diff = np.abs(got - want)
        norms = np.linalg.norm(want) * np.linalg.norm(got)
        report = OutputReport(
            name=name, max_abs=float(diff.max()),
            max_relative=float(diff.max() / max(np.abs(want).max(), 1e-30)),
            cosine=float(np.sum(want * got) / norms) if norms > 0 else float(
                np.array_equal(want, got)))
        if name in LOGIT_OUTPUTS:
            report.argmax_agreement, report.top5_agreement = _top_agreement(pairs)
        reports.append(report)
    return reports


def _top_agreement(pairs) -> tuple[float, float]:
    """Argmax and top-5 agreement over the rows (last axis) of every example's outputs."""
    argmax, top5 = [], []
    for want, got in pairs:
        want, got = want.reshape(-1, want.shape[-1]), got.reshape(-1, got.shape[-1])
        argmax.append(want.argmax(-1) == got.argmax(-1))
        k = min(5, want.shape[-1])
        top5 += [len(set(a) & set(b)) / k for a, b in zip(np.argsort(-want, axis=-1)[:, :k],
                                                           np.argsort(-got, axis=-1)[:, :k])]
    return float(np.mean(np.concatenate(argmax))), float(np.mean(top5))


def check(reports: list[OutputReport], precision: str) -> None:
    """Raise `FidelityError` naming every output that misses `precision`'s bounds."""
    bounds = TOLERANCES[precision]
    failures = []
    for r in reports:
        if r.cosine < bounds["min_cosine"]:
            failures.append(f"{r.name}: cosine {r.cosine:.6f} < {bounds['min_cosine']}")
        if r.max_relative > bounds["max_relative"]:
            failures.append(f"{r.name}: max relative error {r.max_relative:.3g} > "
                            f"{bounds['max_relative']}")
        if r.argmax_agreement is not None and (
                r.argmax_agreement < bounds["min_argmax_agreement"]):
            failures.append(f"{r.name}: argmax agreement {r.argmax_agreement:.3f} < "
                            f"{bounds['min_argmax_agreement']}")
    if failures:
        raise FidelityError(f"{precision} .tflite is not faithful to the Keras model: "
                            + "; ".join(failures))


def format_reports(precision: str, reports: list[OutputReport]) -> str:
    """One line per output, for logs."""
    lines = []
    for r in reports:
        line = (f"{precision:>12} {r.name:>16}: max_abs {r.max_abs:.3g}  max_rel "
                f"{r.max_relative:.3g}  cosine {r.cosine:.6f}")
        if r.argmax_agreement is not None:
            line += f"  argmax {r.argmax_agreement:.3f}  top5 {r.top5_agreement:.3f}"
        lines.append(line)
    return "\n".join(lines)
