"""Export inputs checked before any model is built, on `ram://` (like `gs://`, only
`tf.io.gfile` can open it), and the CLI's one-line usage error for a missing model."""

import pytest
import tensorflow as tf

from mobilebert_tf import build_encoder, fileio
from mobilebert_tf.export import loading
from mobilebert_tf.testing import run_module


def test_inputs_on_ram_are_checked_before_any_model(ram_path):
    with pytest.raises(FileNotFoundError, match=f"No checkpoint at --checkpoint '{ram_path}/no'"):
        loading.check_inputs(checkpoint=f"{ram_path}/no", preset="mobilebert_mini")
    prefix = tf.train.Checkpoint(model=build_encoder("mobilebert_mini", num_layers=1)).save(
        f"{ram_path}/run/ckpt")
    with pytest.raises(ValueError, match="has no model_config.json.*pass --preset"):
        loading.check_inputs(checkpoint=f"{ram_path}/run")
    with pytest.raises(ValueError, match="exactly one of --model"):
        loading.check_inputs(f"{ram_path}/model.keras", prefix, "mobilebert_mini")
    with pytest.raises(FileNotFoundError, match=f"--model '{ram_path}/model.keras'"):
        loading.check_inputs(f"{ram_path}/model.keras")
    for flag, value, message in [("vocab_file", "vocab.txt", "No vocab file"),
                                 ("data_dir", "MRPC", "is not a directory"),
                                 ("calibration_records", "records/*", "matches no file")]:
        with pytest.raises(FileNotFoundError, match=f"{message}|--{flag} '{ram_path}/{value}'"):
            loading.check_inputs(checkpoint=prefix, preset="mobilebert_mini",
                                 **{flag: f"{ram_path}/{value}"})
    fileio.write_text(f"{ram_path}/vocab.txt", "[PAD]\n")
    loading.check_inputs(checkpoint=prefix, preset="mobilebert_mini",
                         vocab_file=f"{ram_path}/vocab.txt", output_dir=f"{ram_path}/out")
    assert tf.io.gfile.isdir(f"{ram_path}/out")


def test_cli_missing_model_is_a_one_line_usage_error(tmp_path):
    missing = str(tmp_path / "nothing.keras")
    result = run_module("export.export_tflite", ["--model", missing, "--output_dir",
                                                 str(tmp_path / "out")], check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"No model file at --model '{missing}'" in result.stderr
