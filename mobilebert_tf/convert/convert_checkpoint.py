"""`convert`: import a published MobileBERT checkpoint into this project's formats (the
`mobilebert-convert-checkpoint` command: mobilebert_tf/cli/convert_checkpoint.py).

Writes to `output_dir`: `ckpt-1.*` (TF2 checkpoint of the model under `model`, and its
encoder under `encoder`), `saved_model/` (the encoder, TF-Hub BERT signature),
`model_config.json` (read by every consumer of the checkpoint), `run_config.json` (what owns
the directory: another run's directory is refused) and `import_report.json`; prints the
report (every unused source variable and every missing target weight). The SavedModel is
checked against the Keras model on random ids.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.config import get_preset
from mobilebert_tf.convert import exporter, importer
from mobilebert_tf.signature import encoder_inputs, save_encoder_saved_model
from mobilebert_tf.stored_config import check_owner, write_model_config


def convert(source_format: str, source: str, preset: str, output_dir: str,
            with_heads: bool = False, overrides: dict | None = None, log=print) -> dict:
    """Import, write every output, verify the SavedModel; returns the paths and report.

    Args:
        source_format: "tf1", "tfmg" or "hf" (`name_maps.FORMATS`).
        source: The checkpoint: prefix, directory or weights file (a bucket URL too).
        preset: The config preset the checkpoint was trained with.
        output_dir: Where to write (a bucket URL too).
        with_heads: Also import the MLM and NSP heads (a `MobileBertPretrainer`).
        overrides: Config fields that differ from the preset.
        log: Where the report and the result line go.
    """
    check_owner(output_dir, {"mode": "convert"}, "--output_dir", outputs_only=True)
    config = get_preset(preset, **(overrides or {}))
    model, report = importer.load_checkpoint(source_format, source, config, with_heads)
    log(report.summary())
    tf.io.gfile.makedirs(output_dir)
    # Owned before the checkpoint is written, so a failed conversion can be rerun into it.
    write_model_config(output_dir, config, {"mode": "convert", "source_format": source_format,
                                            "source": source, "preset": preset,
                                            "overrides": overrides or {},
                                            "with_heads": with_heads})
    encoder = model.encoder if with_heads else model
    # Written aside and moved in once checked: a failure leaves them under output.incomplete.
    with fileio.staged_outputs(output_dir) as staging:
        checkpoint = exporter.save_tf2_checkpoint(model, staging)
        saved_model = save_encoder_saved_model(encoder, tf.io.gfile.join(staging, "saved_model"))
        fileio.write_text(tf.io.gfile.join(staging, "import_report.json"), report.to_json())

        inputs = encoder_inputs(2, min(16, config.max_position), config.vocab_size, lengths=None)
        expected = encoder(inputs)["sequence_output"].numpy()
        served = tf.saved_model.load(saved_model).signatures["serving_default"](**inputs)
        error = float(np.max(np.abs(served["sequence_output"].numpy() - expected)))
        if error > 1e-5 * max(1.0, float(np.max(np.abs(expected)))):
            raise RuntimeError(f"The SavedModel differs from the Keras model by {error}; "
                               f"the files are in {staging}.")
    checkpoint, saved_model = (fileio.staged_path(p, staging, output_dir)
                               for p in (checkpoint, saved_model))
    log(f"Wrote {checkpoint} and {saved_model} (SavedModel matches, max |diff| {error:.2e}).")
    return {"checkpoint": checkpoint, "saved_model": saved_model, "report": report}
