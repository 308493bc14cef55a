"""Export of tiny models: every precision, the signature, the always-on fidelity check, and
bad input."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter

from mobilebert_tf import (INPUT_KEYS, MobileBertClassifier, MobileBertPretrainer,
                           MobileBertSpanLabeler, build_encoder, get_preset)
from mobilebert_tf.data.synthetic_records import synthetic_examples, write_pretraining_records
from mobilebert_tf.data.vocab import default_vocab_file
from mobilebert_tf.export import benchmark, exporter, fidelity, loading, text_serving, tflite
from mobilebert_tf.layers.attention import MASK_BIAS
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.stored_config import write_model_config
from mobilebert_tf.testing import relative_error, run_module
from mobilebert_tf.weights import randomize_norms

SEQ = 16
PRESET = "mobilebert_mini"


def _encoder():
    return build_encoder(PRESET, num_layers=2, vocab_size=500)


def _examples(count, seed=0):
    return exporter.random_examples(count, 1, SEQ, 500, seed=seed)


@pytest.mark.slow
def test_encoder_in_all_four_precisions(tmp_path):
    encoder = _encoder()
    randomize_norms(encoder)
    results = exporter.export(encoder, str(tmp_path), seq_length=SEQ,
                              calibration=_examples(20), fidelity_examples=_examples(4, 1),
                              log=lambda _: None)
    assert set(results) == set(tflite.PRECISIONS)
    sizes = {p: r["bytes"] for p, r in results.items()}
    assert sizes["float16"] < 0.6 * sizes["float32"]
    assert sizes["dynamic_int8"] < 0.35 * sizes["float32"]
    assert sizes["int8"] < 0.35 * sizes["float32"]
    for precision, result in results.items():
        assert os.path.exists(result["path"]) and result["path"].endswith(".tflite")
        cosine = min(o["cosine"] for o in result["outputs"])
        assert cosine >= fidelity.TOLERANCES[precision]["min_cosine"]
    report = json.load(open(tmp_path / "fidelity.json"))
    assert set(report["results"]) == set(tflite.PRECISIONS)


@pytest.fixture(scope="module")
def int8_files(tmp_path_factory):
    """{"encoder" | "classifier" | "teacher": (Keras model, full-int8 .tflite bytes)}, tiny,
    norms random; the teacher (IB-BERT) has LayerNorm and GELU where MobileBERT has NoNorm and
    ReLU."""
    files = {}
    for name in ("encoder", "classifier", "teacher"):
        keras.utils.set_random_seed(1234)
        encoder = (build_encoder("ib_bert_mini", num_layers=2, vocab_size=500)
                   if name == "teacher" else _encoder())
        model = encoder
        if name == "classifier":
            model = MobileBertClassifier(encoder, num_classes=2)
            model(model.example_inputs())
        randomize_norms(encoder)
        saved = tflite.save_saved_model(model, str(tmp_path_factory.mktemp(name)), 1, SEQ)
        files[name] = model, tflite.convert(saved, "int8", lambda: _examples(20))
    return files


def _ops(content, op_name):
    """[(input tensor details, output tensor details)] of every `op_name` op (no absent
    optional inputs)."""
    interpreter = Interpreter(model_content=content)
    details = lambda indices: [interpreter._get_tensor_details(i, 0) for i in indices if i >= 0]
    return [(details(op["inputs"]), details(op["outputs"]))
            for op in interpreter._get_ops_details() if op["op_name"] == op_name]


@pytest.mark.parametrize("name", ["encoder", "classifier", "teacher"])
def test_int8_attention_matmuls_are_int8_in_one_partition(int8_files, name):
    """XNNPACK takes an int8 BATCH_MATMUL only if its right-hand operand's zero point is 0;
    softmax, and a LayerNorm's ops and GELU (none delegated in int8), stay float."""
    content = int8_files[name][1]
    assert {o[0]["dtype"] for _, o in _ops(content, "FULLY_CONNECTED")} == {np.int8}
    matmuls = _ops(content, tflite.ATTENTION_MATMUL_OP)
    assert len(matmuls) == 2 * 2  # two per layer
    for inputs, outputs in matmuls:
        assert [t["dtype"] for t in inputs + outputs] == [np.int8] * 3
        assert inputs[1]["quantization"][1] == 0  # (scale, zero point)
    assert {o[0]["dtype"] for _, o in _ops(content, tflite.SOFTMAX_OP)} == {np.float32}
    layer_norm_ops = [o for o in ("MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU")
                      if _ops(content, o)]
    assert layer_norm_ops == ([] if name != "teacher" else
                              ["MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU"])
    for op in layer_norm_ops:
        assert {o[0]["dtype"] for _, o in _ops(content, op)} == {np.float32}
    interpreter = Interpreter(model_content=content, num_threads=2)
    interpreter.allocate_tensors()
    assert benchmark.delegate_partitions(interpreter) == 1  # all of it in one XNNPACK graph


@pytest.mark.parametrize("name", ["encoder", "classifier", "teacher"])
def test_int8_fidelity(int8_files, name):
    model, content = int8_files[name]
    examples = _examples(6, seed=3)
    reports = fidelity.compare(exporter.keras_outputs(model, examples),
                               tflite.run_tflite(content, examples))
    fidelity.check(reports, "int8")


def test_int8_attention_ignores_padding(int8_files):
    """Full int8 keeps the additive mask float: quantized, `1 - mask` rounds to 0 and every
    padded key is attended to. Padding that differs only in its type ids must then leave the
    real tokens' outputs untouched."""
    content = int8_files["encoder"][1]
    interpreter = Interpreter(model_content=content)
    mask_ops = [op for op in interpreter._get_ops_details()
                if MASK_BIAS in interpreter._get_tensor_details(op["outputs"][0], 0)["name"]]
    assert mask_ops and all(interpreter._get_tensor_details(op["outputs"][0], 0)["dtype"]
                            == np.float32 for op in mask_ops)
    short = {k: v.numpy() for k, v in encoder_inputs(1, 6, 500, seed=5).items()}
    padded = {k: np.pad(v, [[0, 0], [0, SEQ - 6]]) for k, v in short.items()}
    other = dict(padded, input_type_ids=padded["input_type_ids"] + (1 - padded["input_mask"]))
    a, b = (out["sequence_output"][:, :6] for out in tflite.run_tflite(content, [padded, other]))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, outputs", [
    (lambda e: MobileBertClassifier(e, num_classes=3), {"logits": (1, 3)}),
    (lambda e: MobileBertSpanLabeler(e), {"start_logits": (1, SEQ), "end_logits": (1, SEQ)}),
])
def test_head_signatures(make, outputs, tmp_path):
    model = make(_encoder())
    model(model.example_inputs())
    saved = tflite.save_saved_model(model, str(tmp_path / "sm"), 1, SEQ)
    loaded = tf.saved_model.load(saved).signatures["serving_default"]
    assert set(loaded.structured_input_signature[1]) == set(INPUT_KEYS)
    content = tflite.convert(saved, "float32")
    interpreter = Interpreter(model_content=content)
    signature = interpreter.get_signature_list()["serving_default"]
    assert sorted(signature["inputs"]) == sorted(INPUT_KEYS)
    assert sorted(signature["outputs"]) == sorted(outputs)
    runner = interpreter.get_signature_runner()
    for detail in runner.get_input_details().values():
        assert tuple(detail["shape"]) == (1, SEQ) and detail["dtype"] == np.int32
    got = tflite.run_tflite(content, _examples(3))
    want = exporter.keras_outputs(model, _examples(3))
    reports = fidelity.compare(want, got)
    assert {r.name: tuple(got[0][r.name].shape) for r in reports} == outputs
    assert all(r.argmax_agreement == 1.0 for r in reports)
    fidelity.check(reports, "float32")


def test_fidelity_check_catches_a_broken_model(tmp_path):
    encoder = _encoder()
    saved = tflite.save_saved_model(encoder, str(tmp_path / "sm"), 1, SEQ)
    content = tflite.convert(saved, "float32")
    # Break the Keras side after export, as a folding bug would: one NoNorm's beta dropped.
    beta = encoder.get_layer("layer_1").bottleneck_output_norm.beta
    beta.assign(beta + 0.05)
    reports = fidelity.compare(exporter.keras_outputs(encoder, _examples(2)),
                               tflite.run_tflite(content, _examples(2)))
    with pytest.raises(fidelity.FidelityError, match="float32 .tflite is not faithful"):
        fidelity.check(reports, "float32")


def test_tflite_outputs_do_not_depend_on_padding(tmp_path):
    encoder = _encoder()
    randomize_norms(encoder)
    short = {k: v.numpy() for k, v in encoder_inputs(1, 10, 500, seed=5).items()}
    outputs = []
    for seq in (SEQ, 2 * SEQ):
        saved = tflite.save_saved_model(encoder, str(tmp_path / f"sm{seq}"), 1, seq)
        padded = {k: np.pad(v, [[0, 0], [0, seq - 10]]) for k, v in short.items()}
        outputs.append(tflite.run_tflite(tflite.convert(saved, "float32"), [padded])[0])
    a, b = (o["sequence_output"][:, :10] for o in outputs)
    assert relative_error(a, b) <= 1e-5


def test_examples_from_records(tmp_path):
    path = str(tmp_path / "r.tfrecord")
    write_pretraining_records(path, synthetic_examples(5, 12, 3, 100, seed=0))
    rows = list(synthetic_examples(5, 12, 3, 100, seed=0))
    examples = exporter.examples_from_records(path, count=2, batch_size=2, seq_length=SEQ)
    assert len(examples) == 2
    assert examples[0]["input_word_ids"].shape == (2, SEQ)
    np.testing.assert_array_equal(examples[0]["input_word_ids"][1, :12], rows[1]["input_ids"])
    np.testing.assert_array_equal(examples[0]["input_word_ids"][1, 12:], 0)
    short = exporter.examples_from_records(path, count=1, batch_size=2, seq_length=8)
    np.testing.assert_array_equal(short[0]["input_mask"], [r["input_mask"][:8] for r in rows[:2]])


def test_examples_from_task_are_real_tokenized_text():
    examples = exporter.examples_from_task("sentiment", "train", None, count=3, batch_size=2,
                                           seq_length=SEQ, vocab_size=30522)
    assert len(examples) == 3
    for example in examples:
        assert {k: v.shape for k, v in example.items()} == {k: (2, SEQ) for k in INPUT_KEYS}
        np.testing.assert_array_equal(example["input_word_ids"][:, 0], [101, 101])  # [CLS]
        assert (example["input_mask"].sum(axis=1) > 3).all()
    first = [tuple(e["input_word_ids"][0]) for e in examples]
    assert len(set(first)) == 3  # spread over the split, not one row repeated
    with pytest.raises(ValueError, match="has 30522 tokens but the model has vocab_size=500"):
        exporter.examples_from_task("sentiment", "train", None, 3, 1, SEQ, vocab_size=500)


@pytest.mark.slow
def test_cli_calibrates_int8_on_task_data(tmp_path):
    model = MobileBertClassifier(build_encoder(PRESET, num_layers=1), num_classes=2)
    model(model.example_inputs())
    model.save(str(tmp_path / "classifier.keras"))
    common = ["--model", str(tmp_path / "classifier.keras"), "--output_dir",
              str(tmp_path / "out"), "--seq_length", str(SEQ), "--precisions", "int8"]
    run_module("export.export_tflite", common + [
        "--calibration_task", "sentiment", "--num_calibration", "4", "--num_fidelity", "3",
        "--vocab_file", default_vocab_file()])
    with open(tmp_path / "out" / "fidelity.json") as f:
        report = json.load(f)["results"]["int8"]
    assert report["path"].endswith("model_int8.tflite") and os.path.exists(report["path"])
    assert report["outputs"][0]["name"] == "probability"  # runtime-ready: softmax in the graph
    saved = tf.saved_model.load(str(tmp_path / "out" / "saved_model"))  # --vocab_file: text in
    assert {"serving_default", text_serving.TEXT_SIGNATURE} <= set(saved.signatures)
    both = run_module("export.export_tflite", common + [
        "--calibration_task", "sentiment", "--calibration_records", "x"], check=False)
    assert both.returncode != 0 and "not both" in both.stderr


def test_empty_calibration_set(tmp_path):
    with pytest.raises(ValueError, match="calibration set"):
        exporter.export(_encoder(), str(tmp_path), precisions=["int8"], seq_length=SEQ,
                        calibration=[])


def test_seq_length_above_position_table(tmp_path):
    encoder = build_encoder(PRESET, num_layers=1, vocab_size=500, max_position=32)
    with pytest.raises(ValueError, match="seq_length 64 is outside 1..32"):
        tflite.save_saved_model(encoder, str(tmp_path / "sm"), 1, 64)


def test_unknown_precision(tmp_path):
    with pytest.raises(ValueError, match="Unknown precision"):
        exporter.export(_encoder(), str(tmp_path), precisions=["int4"], seq_length=SEQ)


def _pretraining_checkpoint(tmp_path):
    pretrainer = MobileBertPretrainer(build_encoder(PRESET, num_layers=2))
    pretrainer(pretrainer.example_inputs())
    prefix = tf.train.Checkpoint(model=pretrainer).save(str(tmp_path / "ckpt" / "ckpt"))
    return pretrainer, prefix


def test_load_encoder_from_a_pretraining_checkpoint(tmp_path):
    pretrainer, _ = _pretraining_checkpoint(tmp_path)
    # A checkpoint from before model_config.json: --preset and --overrides give its config.
    encoder = loading.load_model(checkpoint=str(tmp_path / "ckpt"), preset=PRESET,
                                 overrides={"num_layers": 2})
    inputs = encoder_inputs(1, 8, 100)
    np.testing.assert_array_equal(encoder(inputs)["sequence_output"],
                                  pretrainer.encoder(inputs)["sequence_output"])
    # With the config stored beside it, nothing else is needed; a contradiction is refused.
    write_model_config(str(tmp_path / "ckpt"), pretrainer.encoder.config)
    encoder = loading.load_model(checkpoint=str(tmp_path / "ckpt"))
    np.testing.assert_array_equal(encoder(inputs)["sequence_output"],
                                  pretrainer.encoder(inputs)["sequence_output"])
    with pytest.raises(ValueError, match="--preset 'mobilebert_mini' contradicts .*"
                                         "num_layers: stored 2, given 4"):
        loading.load_model(checkpoint=str(tmp_path / "ckpt"), preset=PRESET)


def test_head_checkpoint_mismatch(tmp_path):
    _pretraining_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="does not hold a classifier model"):
        loading.load_model(checkpoint=str(tmp_path / "ckpt"), preset=PRESET,
                           overrides={"num_layers": 2}, head="classifier")


def test_missing_checkpoint_and_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        loading.load_model(checkpoint=str(tmp_path / "nothing"), preset=PRESET)
    with pytest.raises(FileNotFoundError, match="No model file"):
        loading.load_model(model_path=str(tmp_path / "nothing.keras"))
    with pytest.raises(ValueError, match="exactly one"):
        loading.load_model()


def test_unknown_head():
    with pytest.raises(ValueError, match="Unknown head"):
        loading.build_model(PRESET, "ner")


def test_preset_check():
    assert get_preset(PRESET).max_position >= 2 * SEQ
