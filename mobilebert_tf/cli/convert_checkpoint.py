r"""Convert checkpoints: published MobileBERT checkpoints into this project's formats, and
ours out to a Hugging Face model directory.

    mobilebert-convert-checkpoint --source_format=tf1 \
        --source=uncased_L-24_H-128_B-512_A-4_F-4_OPT/mobilebert_variables.ckpt \
        --preset=mobilebert --output_dir=/tmp/mobilebert --with_heads
    mobilebert-convert-checkpoint --source_format=hf --source=mobilebert-uncased/ \
        --preset=mobilebert --output_dir=/tmp/mobilebert_hf
    mobilebert-convert-checkpoint --source_format=ours --target_format=hf \
        --source=runs/demo/student --vocab_file=runs/demo/vocab/vocab.txt \
        --output_dir=/tmp/student_hf

Into ours (`--target_format=ours`, the default), writes to `--output_dir`: `ckpt-1.*` (TF2
checkpoint of the model under `model`, and its encoder under `encoder`), `saved_model/` (the
encoder as a TF-Hub reusable SavedModel), `model_config.json` (read by every consumer of the
checkpoint), `run_config.json` and `import_report.json`; prints the report (every unused
source variable and every missing target weight). The SavedModel is checked against the Keras
model on random ids. A Hugging Face `--source` is a `.safetensors` or `.bin` file, a sharded
checkpoint's `model.safetensors.index.json`, or a directory holding one of them.

Out of ours (`--source_format=ours --target_format=hf`): `--source` is a pretraining or
distillation run's `model_dir` (or a conversion's `--output_dir` made `--with_heads`), its
model config read from the `model_config.json` beside it; `--output_dir` becomes a directory
that transformers' `MobileBertForPreTraining.from_pretrained` and `AutoTokenizer.from_pretrained`
load (`mobilebert_tf/convert/hf_directory.py`), with `--vocab_file` as its tokenizer;
`--target_format=tf1` writes the authors' `mobilebert_variables.ckpt`, `bert_config.json` and
`vocab.txt` (`mobilebert_tf/convert/tf1_directory.py`).
"""

from __future__ import annotations

from absl import app, flags

OURS = "ours"
TARGET_FORMATS = (OURS, "hf", "tf1")


def define_flags() -> None:
    """The CLI's flags, defined when run (not on import: `mobilebert-train` has a --preset
    too)."""
    from mobilebert_tf.convert import name_maps
    flags.DEFINE_enum("source_format", None, [*name_maps.FORMATS, OURS],
                      "tf1: the authors' TF1 checkpoint; tfmg: tf-models-official TF2 "
                      "checkpoint; hf: Hugging Face .safetensors (one file or sharded) or "
                      ".bin, or its directory; ours: a checkpoint of this project (with "
                      "--target_format=hf).")
    flags.DEFINE_enum("target_format", OURS, list(TARGET_FORMATS),
                      "ours: this project's checkpoint and SavedModel; hf: a Hugging Face "
                      "model directory; tf1: the authors' checkpoint, bert_config.json and "
                      "vocab (both from --source_format=ours).")
    flags.DEFINE_string("source", None, "Checkpoint prefix, directory or weights file.")
    flags.DEFINE_string("preset", None, "Config preset the checkpoint was trained with "
                        "[mobilebert; for --source_format=ours the model_config.json beside "
                        "it, needed only for checkpoints without one].")
    flags.DEFINE_multi_string("config_override", [],
                              "field=value overrides of the preset, e.g. vocab_size=30522.")
    flags.DEFINE_string("vocab_file", None, "The model's vocab.txt (--target_format=hf/tf1: "
                        "written beside the weights).")
    flags.DEFINE_string("output_dir", None, "Where to write the converted model.")
    flags.DEFINE_bool("with_heads", False, "Also import the MLM and NSP heads (pretrainer).")
    flags.mark_flags_as_required(["source_format", "source", "output_dir"])


def main(argv):
    del argv
    from mobilebert_tf.config import parse_overrides
    FLAGS = flags.FLAGS
    try:
        overrides = parse_overrides(FLAGS.config_override)
    except ValueError as e:
        raise app.UsageError(f"--config_override: {e}") from None
    if FLAGS.target_format == OURS:
        if FLAGS.source_format == OURS:
            raise app.UsageError("--source_format=ours is already ours: pass "
                                 "--target_format=hf or tf1.")
        from mobilebert_tf.convert.convert_checkpoint import convert
        convert(FLAGS.source_format, FLAGS.source, FLAGS.preset or "mobilebert",
                FLAGS.output_dir, FLAGS.with_heads, overrides)
        return
    if FLAGS.source_format != OURS:
        raise app.UsageError(f"--target_format={FLAGS.target_format} writes a checkpoint of "
                             "ours: import the other one first (--target_format=ours), then "
                             "pass --source_format=ours.")
    if not FLAGS.vocab_file:
        raise app.UsageError(f"--target_format={FLAGS.target_format} needs --vocab_file, the "
                             "model's vocab.txt (its tokenizer).")
    _export(FLAGS.target_format, FLAGS.source, FLAGS.preset, overrides, FLAGS.vocab_file,
            FLAGS.output_dir)


def _export(target_format: str, source: str, preset, overrides: dict, vocab_file: str,
            output_dir: str) -> None:
    """Our checkpoint `source` as a directory of `target_format` ("hf" or "tf1")."""
    import tensorflow as tf

    from mobilebert_tf import fileio
    from mobilebert_tf.convert import hf_directory, tf1_directory
    from mobilebert_tf.convert.hf_directory import check_vocab
    from mobilebert_tf.export import loading
    from mobilebert_tf.stored_config import check_owner, resolve_model_config, write_run_config

    # Every input is checked before the model is built.
    owner = {"mode": f"convert_to_{target_format}"}
    check_owner(output_dir, owner, "--output_dir", outputs_only=True)
    fileio.checkpoint_prefix(source, "source")
    config = resolve_model_config(source, preset, overrides, "--source", "--preset",
                                  "--config_override")
    vocab = check_vocab(vocab_file, config)
    if target_format == "hf":
        hf_directory.hf_config(config, vocab)  # one it can express
    else:
        tf1_directory.tf1_config(config)
    try:
        model = loading.restore(source, config, loading.PRETRAINER)
    except ValueError:
        raise app.UsageError(f"--source {source!r} holds no MLM and NSP heads of its model "
                             "config (a fine-tuning run?); export a pretraining or "
                             "distillation run's model_dir.") from None
    write, what = ((hf_directory.write_hf_directory, "a Hugging Face directory")
                   if target_format == "hf" else
                   (tf1_directory.write_tf1_directory, "the authors' TF1 format"))
    # Owned before the first file is written, so a failed conversion can be rerun into it.
    tf.io.gfile.makedirs(output_dir)
    write_run_config(output_dir, {**owner, "source": source, "vocab_file": vocab_file})
    files = write(model, vocab_file, output_dir)
    print(f"Wrote {what} ({', '.join(files)}) to {output_dir}.")


def run_cli():
    """The `mobilebert-convert-checkpoint` command."""
    from mobilebert_tf import cli
    define_flags()
    cli.run(main, __name__)


if __name__ == "__main__":
    run_cli()
