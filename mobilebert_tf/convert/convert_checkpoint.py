r"""Import a published MobileBERT checkpoint into this project's formats.

    python -m mobilebert_tf.convert.convert_checkpoint --source_format=tf1 \
        --source=uncased_L-24_H-128_B-512_A-4_F-4_OPT/mobilebert_variables.ckpt \
        --preset=mobilebert --output_dir=/tmp/mobilebert --with_heads

Writes to `--output_dir`: `ckpt-1.*` (TF2 checkpoint of the model under `model`, and its
encoder under `encoder`), `saved_model/` (the encoder, TF-Hub BERT signature),
`config.json` and `import_report.json`; prints the report (every unused source variable and
every missing target weight). The SavedModel is checked against the Keras model on random ids.
"""

from __future__ import annotations


import numpy as np
import tensorflow as tf
from absl import app, flags

from mobilebert_tf import fileio
from mobilebert_tf.config import get_preset, parse_overrides
from mobilebert_tf.convert import exporter, importer, name_maps
from mobilebert_tf.testing import encoder_inputs

def define_flags() -> None:
    """The CLI's flags, defined when run (not on import: `tpu/train.py` has a --preset too)."""
    flags.DEFINE_enum("source_format", None, list(name_maps.FORMATS),
                      "tf1: the authors' TF1 checkpoint; tfmg: tf-models-official TF2 "
                      "checkpoint; hf: Hugging Face .safetensors/.bin (or its directory).")
    flags.DEFINE_string("source", None, "Checkpoint prefix, directory or weights file.")
    flags.DEFINE_string("preset", "mobilebert", "Config preset the checkpoint was trained "
                        "with.")
    flags.DEFINE_multi_string("config_override", [],
                              "field=value overrides of the preset, e.g. vocab_size=30522.")
    flags.DEFINE_string("output_dir", None, "Where to write the converted model.")
    flags.DEFINE_bool("with_heads", False, "Also import the MLM and NSP heads (pretrainer).")
    flags.mark_flags_as_required(["source_format", "source", "output_dir"])


def convert(source_format: str, source: str, preset: str, output_dir: str,
            with_heads: bool = False, overrides: dict | None = None, log=print) -> dict:
    """Import, write every output, verify the SavedModel; returns the paths and report."""
    config = get_preset(preset, **(overrides or {}))
    model, report = importer.load_checkpoint(source_format, source, config, with_heads)
    log(report.summary())
    tf.io.gfile.makedirs(output_dir)
    encoder = model.encoder if with_heads else model
    checkpoint = exporter.save_tf2_checkpoint(model, output_dir)
    saved_model = exporter.save_encoder_saved_model(encoder, tf.io.gfile.join(output_dir,
                                                                          "saved_model"))
    fileio.write_json(tf.io.gfile.join(output_dir, "config.json"), config.to_dict())
    fileio.write_text(tf.io.gfile.join(output_dir, "import_report.json"), report.to_json())

    inputs = encoder_inputs(2, min(16, config.max_position), config.vocab_size, lengths=None)
    expected = encoder(inputs)["sequence_output"].numpy()
    served = tf.saved_model.load(saved_model).signatures["serving_default"](**inputs)
    error = float(np.max(np.abs(served["sequence_output"].numpy() - expected)))
    if error > 1e-5 * max(1.0, float(np.max(np.abs(expected)))):
        raise RuntimeError(f"The SavedModel differs from the Keras model by {error}.")
    log(f"Wrote {checkpoint} and {saved_model} (SavedModel matches, max |diff| {error:.2e}).")
    return {"checkpoint": checkpoint, "saved_model": saved_model, "report": report}


def main(argv):
    del argv
    try:
        overrides = parse_overrides(flags.FLAGS.config_override)
    except ValueError as e:
        raise app.UsageError(f"--config_override: {e}") from None
    convert(flags.FLAGS.source_format, flags.FLAGS.source, flags.FLAGS.preset,
            flags.FLAGS.output_dir, flags.FLAGS.with_heads, overrides)


if __name__ == "__main__":
    define_flags()
    app.run(main)
