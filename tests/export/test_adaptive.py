"""Length-adaptive `.tflite` files (`dynamic_length`): a `[1, -1]` signature resized to each
text's real length gives the fixed-length file's outputs on padded input, in every
precision, in as many XNNPACK partitions; and the benchmark's real-text mode."""

import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from mobilebert_tf import MobileBertClassifier, MobileBertSpanLabeler, build_encoder
from mobilebert_tf.export import benchmark, exporter, fidelity, tflite
from mobilebert_tf.testing import run_module
from mobilebert_tf.weights import randomize_norms

SEQ = 32


@pytest.fixture(scope="module")
def texts():
    """Real dev texts of the sentiment task, BERT-uncased ids, padded to SEQ."""
    return exporter.examples_from_task("sentiment", "validation", None, 6, 1, SEQ)


@pytest.fixture(scope="module")
def classifier_files(texts, tmp_path_factory):
    """`{precision: (fixed bytes, adaptive bytes)}` of one tiny classifier (BERT vocab)."""
    model = MobileBertClassifier(build_encoder("mobilebert_mini", num_layers=2), num_classes=3)
    model(model.example_inputs())
    randomize_norms(model.encoder)
    root = tmp_path_factory.mktemp("classifier")
    saved = {dynamic: tflite.save_saved_model(model, str(root / str(dynamic)), 1, SEQ,
                                              dynamic_length=dynamic)
             for dynamic in (False, True)}
    return {p: tuple(tflite.convert(saved[dynamic], p, lambda: texts)
                     for dynamic in (False, True)) for p in tflite.PRECISIONS}


def _partitions(content, length):
    interpreter = Interpreter(model_content=content, num_threads=2)
    for detail in interpreter.get_input_details():
        interpreter.resize_tensor_input(detail["index"], [1, length])
    interpreter.allocate_tensors()
    return benchmark.delegate_partitions(interpreter)


@pytest.mark.parametrize("precision", tflite.PRECISIONS)
def test_adaptive_file_at_real_length_equals_fixed_file_on_padding(precision, classifier_files,
                                                                   texts):
    fixed, adaptive = classifier_files[precision]
    runner = Interpreter(model_content=adaptive).get_signature_runner()
    for detail in runner.get_input_details().values():
        assert list(detail["shape_signature"]) == [1, -1]
    trimmed = [tflite.trim_padding(t) for t in texts]
    assert len({t["input_mask"].shape[1] for t in trimmed}) >= 4  # several real lengths
    assert sum(t["input_mask"].shape[1] < SEQ for t in trimmed) >= 4  # padding was cut
    want, got = tflite.run_tflite(fixed, texts), tflite.run_tflite(adaptive, trimmed)
    reports = fidelity.compare(want, got)
    assert reports[0].argmax_agreement == 1.0  # identical top-1
    fidelity.check(reports, precision)
    # One XNNPACK partition at any length, as in the fixed file (float16 too: its weights'
    # DEQUANTIZEs are placed where they are read, `tflite._dequantize_where_used`).
    assert {_partitions(adaptive, n) for n in (5, SEQ)} == {_partitions(fixed, SEQ)} == {1}


def test_int8_adaptive_file_has_the_fixed_files_quantization(classifier_files):
    """One graph for both (no constant-folded position slice in the fixed one), so one
    calibration gives every shared tensor the same int8 scale."""
    def scales(content):
        return {d["name"]: tuple(d["quantization_parameters"]["scales"])
                for d in Interpreter(model_content=content).get_tensor_details()}

    fixed, adaptive = (scales(c) for c in classifier_files["int8"])
    shared = set(fixed) & set(adaptive)
    assert len(shared) > 0.9 * len(fixed)
    assert {n: fixed[n] for n in shared} == {n: adaptive[n] for n in shared}


def test_span_labeler_adaptive_logits(texts, tmp_path):
    model = MobileBertSpanLabeler(build_encoder("mobilebert_mini", num_layers=1))
    model(model.example_inputs())
    fixed, adaptive = (tflite.convert(tflite.save_saved_model(
        model, str(tmp_path / str(d)), 1, SEQ, dynamic_length=d), "float32") for d in (0, 1))
    want = tflite.run_tflite(fixed, texts[:3])
    got = tflite.run_tflite(adaptive, [tflite.trim_padding(t) for t in texts[:3]])
    for w, g in zip(want, got):
        length = g["start_logits"].shape[1]
        for name in ("start_logits", "end_logits"):
            np.testing.assert_allclose(g[name], w[name][:, :length], rtol=1e-5, atol=1e-5)


def test_time_real_text(classifier_files, texts):
    files = {p: classifier_files[p] for p in ("dynamic_int8", "int8")}
    latencies = benchmark.time_real_text(files, texts[:4], buckets=(8, 16, SEQ), warmup=1)
    assert [l.precision for l in latencies] == list(files)
    for l in latencies:
        for mapping in (l.median_ms, l.mean_ms, l.partitions):
            assert set(mapping) == set(benchmark.MODES)
        assert all(t > 0 for t in l.median_ms.values())
        assert l.top1_agreement == {"adaptive": 1.0, "bucketed": 1.0}
        assert l.partitions == {m: 1 for m in benchmark.MODES}
        assert l.bytes == {"fixed": len(files[l.precision][0]),
                           "adaptive": len(files[l.precision][1])}
    table = benchmark.format_real_text(latencies).splitlines()
    assert table[0].startswith("| precision | fixed median ms | adaptive median ms")
    assert [r.split("|")[1].strip() for r in table[2:4]] == list(files)
    assert table[-1].startswith("full int8 / dynamic int8 (medians): fixed ")


def test_export_checks_adaptive_files_at_several_lengths(tmp_path):
    encoder = build_encoder("mobilebert_mini", num_layers=1, vocab_size=500)
    examples = exporter.random_examples(4, 1, SEQ, 500, seed=2)
    exporter.export(encoder, str(tmp_path), ["float32"], SEQ, fidelity_examples=examples,
                    dynamic_length=True, log=lambda _: None)
    report = json.loads((tmp_path / "fidelity.json").read_text())
    assert len(set(report["lengths"])) >= 3 and min(report["lengths"]) < SEQ
    assert report["results"]["float32"]["outputs"][0]["cosine"] > 0.99999


def test_bad_adaptive_input(tmp_path):
    encoder = build_encoder("mobilebert_mini", num_layers=1, vocab_size=500)
    with pytest.raises(ValueError, match="dynamic_length needs the folded graph"):
        tflite.save_saved_model(encoder, str(tmp_path / "sm"), 1, SEQ, fold=False,
                                dynamic_length=True)
    mixed = [tflite.trim_padding(e) for e in exporter.random_examples(3, 1, SEQ, 500)]
    with pytest.raises(ValueError, match="padded examples of one shape"):
        exporter.export(encoder, str(tmp_path), ["int8"], SEQ, calibration=mixed,
                        dynamic_length=True)
    with pytest.raises(ValueError, match="shapes"):
        fidelity.compare([{"logits": np.zeros((1, 2))}], [{"logits": np.zeros((1, 3))}])


def test_cli_real_text(tmp_path):
    model = MobileBertClassifier(build_encoder("mobilebert_mini", num_layers=1), num_classes=2)
    model(model.example_inputs())
    model.save(str(tmp_path / "classifier.keras"))
    common = ["--real_text", "--model", str(tmp_path / "classifier.keras"), "--seq_length", "16",
              "--output_dir", str(tmp_path / "out")]
    run_module("export.benchmark_tflite", common + [
        "--precisions", "float32", "--num_texts", "3", "--num_calibration", "1",
        "--warmup", "1", "--buckets", "8,16"])
    report = json.loads((tmp_path / "out" / "real_text.json").read_text())
    assert report["num_texts"] == 3 and len(report["lengths"]) == 3
    (latency,) = report["latencies"]
    assert latency["precision"] == "float32"
    assert latency["top1_agreement"] == {"adaptive": 1.0, "bucketed": 1.0}
    assert (tmp_path / "out" / "real_text.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "adaptive" / "model_float32.tflite").exists()
    bad = run_module("export.benchmark_tflite", common + ["--buckets", "8,12"], check=False)
    assert bad.returncode != 0 and "--buckets wants increasing lengths up to" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_adaptive_file_refuses_texts_beyond_the_position_table(classifier_files, texts):
    """MediaPipe does not cut dynamic-length inputs: a text longer than max_position must fail,
    not read other embeddings."""
    max_position = build_encoder("mobilebert_mini", num_layers=1).config.max_position
    long = {k: np.tile(v[:, :1], [1, max_position + 1]) for k, v in texts[0].items()}
    runner = Interpreter(model_content=classifier_files["float32"][1]).get_signature_runner()
    runner(**{k: v[:, :max_position] for k, v in long.items()})
    with pytest.raises(RuntimeError, match="out of bounds|GATHER"):
        runner(**long)
