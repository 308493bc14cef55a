"""The latency benchmark on tiny real `.tflite` models: every model timed, the table and its
ratios, the CLI's JSON and plot, and bad input."""

import json

import pytest

from mobilebert_tf import build_encoder, fileio
from mobilebert_tf.export import benchmark, tflite
from mobilebert_tf.testing import run_module

SEQ = 16


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    saved = tflite.save_saved_model(build_encoder("mobilebert_mini", num_layers=1,
                                                  vocab_size=500),
                                    str(tmp_path_factory.mktemp("sm")), 1, SEQ)
    return {p: tflite.convert(saved, p) for p in ("float32", "dynamic_int8")}


def test_time_models(tiny_models):
    latencies = benchmark.time_models(tiny_models, num_threads=1, warmup=1, rounds=3)
    assert [l.name for l in latencies] == list(tiny_models)
    for l in latencies:
        assert 0 < l.min_ms <= l.median_ms <= l.max_ms
        assert l.bytes == len(tiny_models[l.name]) and l.delegate_partitions == 1
    table = benchmark.format_table(latencies, baseline="float32").splitlines()
    assert table[0].split("|")[-1].strip() == "/ float32"
    assert table[2].split("|")[-1].strip() == "1.000"


def test_cli_times_files_and_writes_json_and_plot(tiny_models, tmp_path):
    paths = {p: fileio.write_bytes(str(tmp_path / f"{p}.tflite"), c)
             for p, c in tiny_models.items()}
    run_module("export.benchmark_tflite", [
        "--tflite", ",".join(f"{p}={path}" for p, path in paths.items()), "--rounds", "2",
        "--output_dir", str(tmp_path / "out")])
    with open(tmp_path / "out" / "latency.json") as f:
        report = json.load(f)
    assert [l["name"] for l in report["latencies"]] == list(tiny_models)
    assert (tmp_path / "out" / "latency.png").read_bytes()[:4] == b"\x89PNG"
    missing = run_module("export.benchmark_tflite", [
        "--tflite", f"x={tmp_path / 'nothing.tflite'}", "--output_dir", str(tmp_path / "o")],
        check=False)
    assert missing.returncode != 0 and "existing file" in missing.stderr
    assert "Traceback" not in missing.stderr  # a usage error, not a crash
