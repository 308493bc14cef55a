"""The `convert_checkpoint` CLI: outputs, the report it prints, and restoring what it wrote."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import MobileBertPretrainer, build_encoder, get_preset
from mobilebert_tf.config import parse_overrides
from mobilebert_tf.convert import exporter
from mobilebert_tf.convert.architecture import ArchitectureMismatchError
from mobilebert_tf.convert.convert_checkpoint import convert
from mobilebert_tf.convert.safetensors import read_safetensors, write_safetensors
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.training.loop import restore_model

OVERRIDES = ["num_layers=2", "vocab_size=100", "max_position=64"]


def _source(tmp_path):
    config = get_preset("mobilebert_mini", **parse_overrides(OVERRIDES))
    model = MobileBertPretrainer(build_encoder(config))
    model(model.example_inputs())
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.normal(0.0, 0.1, w.shape).astype(np.float32))
    return config, model, exporter.export_tf1_checkpoint(model, str(tmp_path / "src" / "ckpt"))


def test_cli_writes_checkpoint_saved_model_and_report(tmp_path):
    config, source, prefix = _source(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "mobilebert_tf.cli.convert_checkpoint", "--source_format=tf1",
         f"--source={prefix}", "--preset=mobilebert_mini", f"--output_dir={out}",
         *[f"--config_override={o}" for o in OVERRIDES]],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Unused source variables, heads_not_requested (8)" in result.stdout
    assert "cls/seq_relationship/output_weights" in result.stdout
    assert "SavedModel matches" in result.stdout
    report = json.loads((out / "import_report.json").read_text())
    assert report["missing"] == [] and len(report["loaded"]) == 99
    assert json.loads((out / "model_config.json").read_text())["num_layers"] == 2

    # The training loop's convention restores it, and so does a bare encoder object.
    encoder = build_encoder(config)
    restore_model(encoder, str(out))
    inputs = encoder_inputs(2, 10, config.vocab_size)
    expected = source.encoder(inputs)["sequence_output"]
    np.testing.assert_array_equal(encoder(inputs)["sequence_output"], expected)
    other = build_encoder(config)
    tf.train.Checkpoint(encoder=other).restore(
        tf.train.latest_checkpoint(str(out))).expect_partial().assert_existing_objects_matched()
    np.testing.assert_array_equal(other(inputs)["sequence_output"], expected)


def test_convert_with_heads_from_hf_and_bad_input(tmp_path):
    config, source, _ = _source(tmp_path)
    path = exporter.export_hf_safetensors(source, str(tmp_path / "model.safetensors"))
    result = convert("hf", path, "mobilebert_mini", str(tmp_path / "out"), with_heads=True,
                     overrides=parse_overrides(OVERRIDES), log=lambda _: None)
    assert not result["report"].missing
    model = MobileBertPretrainer(build_encoder(config))
    restore_model(model, str(tmp_path / "out"))
    for ours, theirs in zip(model.weights, source.weights):
        np.testing.assert_array_equal(ours, theirs)

    # Vocabulary size of the checkpoint differs from the requested preset.
    with pytest.raises(ArchitectureMismatchError, match="vocab_size: checkpoint 100"):
        convert("hf", path, "mobilebert_mini", str(tmp_path / "bad"),
                overrides=parse_overrides(["num_layers=2", "max_position=64"]))
    assert parse_overrides(["use_pooler=true", "norm=no_norm"]) == {"use_pooler": True,
                                                                   "norm": "no_norm"}


def test_safetensors_reader_writer(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], np.int64),
              "c": np.array([True, False]), "d": np.ones((0, 4), np.float16)}
    path = write_safetensors(str(tmp_path / "t.safetensors"), arrays, {"format": "pt"})
    # The published format, readable without our code: 8-byte header length, JSON header.
    raw = open(path, "rb").read()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    begin, end = header["a"].pop("data_offsets")
    assert header["a"] == {"dtype": "F32", "shape": [2, 3]} and end - begin == 24
    assert header["__metadata__"] == {"format": "pt"}
    back = read_safetensors(path)
    for key, value in arrays.items():
        assert back[key].dtype == value.dtype
        np.testing.assert_array_equal(back[key], value)
    # bfloat16, as Hugging Face often stores weights: the top 16 bits of a float32.
    bf16 = (np.array([1.5, -2.25], np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    body = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    (tmp_path / "bf16.safetensors").write_bytes(len(body).to_bytes(8, "little") + body + bf16)
    np.testing.assert_array_equal(read_safetensors(str(tmp_path / "bf16.safetensors"))["w"],
                                  [1.5, -2.25])
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ValueError, match="not a safetensors file"):
        read_safetensors(str(tmp_path / "junk.safetensors"))
