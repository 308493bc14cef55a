"""Converting published checkpoints with source and output on `ram://`, which (like `gs://`)
only `tf.io.gfile` can open."""

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import MobileBertPretrainer, build_encoder, fileio, get_preset
from mobilebert_tf.convert import exporter, importer, sources
from mobilebert_tf.convert.convert_checkpoint import convert
from mobilebert_tf.errors import InputError
from mobilebert_tf.signature import encoder_inputs

OVERRIDES = {"num_layers": 2, "vocab_size": 100, "max_position": 64}


def test_convert_from_and_to_ram(ram_path):
    config = get_preset("mobilebert_mini", **OVERRIDES)
    source = MobileBertPretrainer(build_encoder(config))
    source(source.example_inputs())
    hf = exporter.export_hf_safetensors(source, f"{ram_path}/hf/model.safetensors")
    tf1 = exporter.export_tf1_checkpoint(source, f"{ram_path}/tf1/mobilebert_variables.ckpt")

    result = convert("hf", f"{ram_path}/hf", "mobilebert_mini", f"{ram_path}/out",
                     with_heads=True, overrides=OVERRIDES, log=lambda _: None)
    assert not result["report"].missing
    assert fileio.read_json(f"{ram_path}/out/model_config.json")["num_layers"] == 2
    assert fileio.read_json(f"{ram_path}/out/import_report.json")["missing"] == []
    assert result["checkpoint"].startswith(f"{ram_path}/out/")
    served = tf.saved_model.load(result["saved_model"]).signatures["serving_default"]
    inputs = encoder_inputs(1, 8, config.vocab_size)
    np.testing.assert_allclose(served(**inputs)["sequence_output"],
                               source.encoder(inputs)["sequence_output"], rtol=1e-5, atol=1e-5)

    encoder, report = importer.load_checkpoint("tf1", tf1, config)
    assert not report.missing and hf.endswith(".safetensors")
    for ours, theirs in zip(encoder.weights, source.encoder.weights):
        np.testing.assert_array_equal(ours, theirs)


def test_a_missing_tf_checkpoint_is_named_and_is_a_missing_file(ram_path):
    """`fileio.checkpoint_prefix`, the one resolver, names what it looked for; its error is
    both the `InputError` the run layer catches and the `FileNotFoundError` readers expect."""
    with pytest.raises(FileNotFoundError,
                       match=f"No TensorFlow checkpoint at '{ram_path}/none'") as error:
        sources.read_source("tf1", f"{ram_path}/none")
    assert isinstance(error.value, InputError)
