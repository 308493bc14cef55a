r"""Import a published MobileBERT checkpoint into this project's formats.

    mobilebert-convert-checkpoint --source_format=tf1 \
        --source=uncased_L-24_H-128_B-512_A-4_F-4_OPT/mobilebert_variables.ckpt \
        --preset=mobilebert --output_dir=/tmp/mobilebert --with_heads
    mobilebert-convert-checkpoint --source_format=hf --source=mobilebert-uncased/ \
        --preset=mobilebert --output_dir=/tmp/mobilebert_hf

Writes to `--output_dir`: `ckpt-1.*` (TF2 checkpoint of the model under `model`, and its
encoder under `encoder`), `saved_model/` (the encoder, TF-Hub BERT signature),
`model_config.json` (read by every consumer of the checkpoint), `run_config.json` and
`import_report.json`; prints the report (every unused source variable and
every missing target weight). The SavedModel is checked against the Keras model on random ids.
A Hugging Face `--source` is a `.safetensors` or `.bin` file, a sharded checkpoint's
`model.safetensors.index.json`, or a directory holding one of them.
"""

from __future__ import annotations

from absl import app, flags


def define_flags() -> None:
    """The CLI's flags, defined when run (not on import: `mobilebert-train` has a --preset
    too)."""
    from mobilebert_tf.convert import name_maps
    flags.DEFINE_enum("source_format", None, list(name_maps.FORMATS),
                      "tf1: the authors' TF1 checkpoint; tfmg: tf-models-official TF2 "
                      "checkpoint; hf: Hugging Face .safetensors (one file or sharded) or "
                      ".bin, or its directory.")
    flags.DEFINE_string("source", None, "Checkpoint prefix, directory or weights file.")
    flags.DEFINE_string("preset", "mobilebert", "Config preset the checkpoint was trained "
                        "with.")
    flags.DEFINE_multi_string("config_override", [],
                              "field=value overrides of the preset, e.g. vocab_size=30522.")
    flags.DEFINE_string("output_dir", None, "Where to write the converted model.")
    flags.DEFINE_bool("with_heads", False, "Also import the MLM and NSP heads (pretrainer).")
    flags.mark_flags_as_required(["source_format", "source", "output_dir"])


def main(argv):
    del argv
    from mobilebert_tf.config import parse_overrides
    from mobilebert_tf.convert.convert_checkpoint import convert
    try:
        overrides = parse_overrides(flags.FLAGS.config_override)
    except ValueError as e:
        raise app.UsageError(f"--config_override: {e}") from None
    convert(flags.FLAGS.source_format, flags.FLAGS.source, flags.FLAGS.preset,
            flags.FLAGS.output_dir, flags.FLAGS.with_heads, overrides)


def run_cli():
    """The `mobilebert-convert-checkpoint` command."""
    from mobilebert_tf import cli
    define_flags()
    cli.run(main, __name__)


if __name__ == "__main__":
    run_cli()
