"""Export a MobileBERT model to SavedModel and `.tflite` (float32, float16, dynamic-range int8,
full int8), checking every file against the Keras model.

    python -m export.export_tflite --checkpoint=runs/distill \
        --head=encoder --calibration_records='data/records/*.tfrecord' --output_dir=exported
    python -m export.export_tflite --model=classifier.keras --calibration_task=sentiment \
        --vocab_file=vocab.txt --output_dir=exported

A classifier's or SQuAD model's files are runtime-ready by default: they run unchanged in
MediaPipe Tasks' `TextClassifier` and the TFLite Task Library's `BertNLClassifier` /
`BertQuestionAnswerer` (metadata, `--vocab_file` and the labels packed; a classifier outputs
`probability`). Labels come from `--labels_file`, else `--calibration_task`'s label names.
SQuAD models export at length 384 by default, the only one `BertQuestionAnswerer` runs.

Full int8 calibrates on `--num_calibration` real examples, from pretraining records or from
a fine-tuning task's split (which matches what a task model will see); the fidelity check
runs on the next `--num_fidelity` ones (records) or on the task's dev split.
"""

from absl import app, flags

from mobilebert_tf.config import parse_overrides
from mobilebert_tf.data.tokenizer import NORMALIZATIONS, BertInputTokenizer
from mobilebert_tf.data.vocab import check_vocab_size
from mobilebert_tf.export import exporter, loading, metadata, tflite
from mobilebert_tf.finetune.tasks import get_task
from mobilebert_tf.models import MobileBertSpanLabeler
from mobilebert_tf.stored_config import write_run_config

flags.DEFINE_string("model", None, "A .keras model file (config included).")
flags.DEFINE_string("checkpoint", None, "A training checkpoint (directory or prefix).")
flags.DEFINE_string("preset", None, "The preset the checkpoint was trained with [the "
                    "model_config.json beside it; needed only for checkpoints without one].")
flags.DEFINE_list("overrides", None, "Config overrides of --preset (checkpoints without a "
                  "model_config.json), e.g. num_layers=2,vocab_size=7653.")
flags.DEFINE_enum("head", "encoder", loading.HEADS, "What to export from the checkpoint.")
flags.DEFINE_integer("num_classes", 2, "Classifier labels (head=classifier).", lower_bound=2)
flags.DEFINE_string("output_dir", None, "Where to write saved_model/ and *.tflite.")
flags.DEFINE_list("precisions", list(tflite.PRECISIONS), "Precisions to write.")
flags.DEFINE_integer("seq_length", None, "Fixed sequence length of the exported signature "
                     "[128; 384 for a SQuAD model, the length BertQuestionAnswerer runs].",
                     lower_bound=1)
flags.DEFINE_bool("dynamic_length", False, "Export a [batch_size, -1] signature that the "
                  "runtime resizes to each input's real length (fast on short texts; needs "
                  "--fold); --seq_length is then the length calibration examples are padded to.")
flags.DEFINE_integer("batch_size", 1, "Fixed batch size of the exported signature.",
                     lower_bound=1)
flags.DEFINE_string("calibration_records", None,
                    "BERT-format TFRecords (input_ids, input_mask, segment_ids) for int8 "
                    "calibration and the fidelity check.")
flags.DEFINE_string("calibration_task", None,
                    "Or a fine-tuning task (sentiment, a GLUE task, squad_v1.1/v2.0) whose "
                    "--calibration_split calibrates int8; its dev split feeds the fidelity "
                    "check. Needs --vocab_file; GLUE/SQuAD also --data_dir or --use_tfds.")
flags.DEFINE_string("calibration_split", "train", "Split of --calibration_task.")
flags.DEFINE_string("vocab_file", None, "The model's vocab.txt, for --calibration_task "
                    "(default: BERT uncased), packed in runtime-ready files. When given, the "
                    "SavedModel also gets text-in signatures (an encoder a preprocessing/ "
                    "SavedModel): see text_serving.")
flags.DEFINE_enum("text_normalization", "bert", NORMALIZATIONS,
                  "The text normalization the model was fine-tuned with (train.py's flag), for "
                  "the text-in signatures and --calibration_task.")
flags.DEFINE_bool("runtime_metadata", True, "Make a classifier's or SQuAD model's .tflite "
                  "runnable in MediaPipe / the TFLite Task Library (metadata, vocab, labels).")
flags.DEFINE_string("labels_file", None, "A classifier's label names, one per line in class "
                    "order [--calibration_task's labels, else 0, 1, ...].")
flags.DEFINE_string("data_dir", None, "GLUE/SQuAD files of --calibration_task.")
flags.DEFINE_bool("use_tfds", False, "Read --calibration_task through tensorflow-datasets.")
flags.DEFINE_integer("num_calibration", 100, "Calibration examples for full int8 (the "
                     "authors' code: 100).", lower_bound=1)
flags.DEFINE_integer("num_fidelity", 16, "Examples for the fidelity check.", lower_bound=1)
flags.DEFINE_integer("num_threads", 2, "Interpreter threads for the fidelity check.",
                     lower_bound=1)
flags.DEFINE_bool("fold", True, "Export the folded graph (NoNorms folded into dense layers, "
                  "dense layers that read one input merged); else the Keras graph as is.")
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if FLAGS.calibration_records and FLAGS.calibration_task:
        raise app.UsageError("Give --calibration_records or --calibration_task, not both.")
    if FLAGS.dynamic_length and not FLAGS.fold:
        raise app.UsageError("--dynamic_length needs the folded graph: drop --nofold.")
    try:
        overrides = parse_overrides(FLAGS.overrides or [])
        loading.check_inputs(FLAGS.model, FLAGS.checkpoint, FLAGS.preset, FLAGS.vocab_file,
                             FLAGS.data_dir, FLAGS.calibration_records, FLAGS.output_dir,
                             overrides)
        labels = _labels()
    except (ValueError, OSError) as e:  # before any model is built
        raise app.UsageError(str(e)) from None
    model = loading.load_model(FLAGS.model, FLAGS.checkpoint, FLAGS.preset, FLAGS.head,
                               FLAGS.num_classes, overrides)
    seq_length = FLAGS.seq_length or (metadata.QA_SEQ_LENGTH if isinstance(
        model, MobileBertSpanLabeler) else 128)
    tokenizer = None
    if FLAGS.vocab_file:  # the text-in signatures' tokenizer; its vocab goes in the .tflite
        tokenizer = BertInputTokenizer(FLAGS.vocab_file, seq_length=seq_length,
                                       normalization=FLAGS.text_normalization)
    try:  # the vocab, runtime files' labels and length, before any example is read
        if tokenizer is not None:
            check_vocab_size(tokenizer.vocab, getattr(model, "encoder", model).config.vocab_size)
        if FLAGS.runtime_metadata:
            exporter.runtime_files(model, seq_length, FLAGS.batch_size,
                                   tokenizer.vocab if tokenizer else None, labels)
        calibration, fidelity_examples = _examples(model, seq_length)
    except ValueError as e:  # unknown task, missing data, vocab mismatch, labels
        raise app.UsageError(str(e)) from None
    # Owned before the first file is written, so a failed export can be rerun into it.
    write_run_config(FLAGS.output_dir, {**loading.EXPORT_OWNER, "model": FLAGS.model,
                                        "checkpoint": FLAGS.checkpoint, "head": FLAGS.head})
    exporter.export(model, FLAGS.output_dir, FLAGS.precisions, seq_length,
                    FLAGS.batch_size, calibration, fidelity_examples, FLAGS.num_threads,
                    FLAGS.fold, tokenizer=tokenizer, runtime_metadata=FLAGS.runtime_metadata,
                    labels=labels, dynamic_length=FLAGS.dynamic_length)


def _labels() -> list[str] | str | None:
    """--labels_file (read once here, so a bad file fails first), else the task's labels."""
    if FLAGS.labels_file:
        metadata.read_labels(FLAGS.labels_file)
        return FLAGS.labels_file
    if FLAGS.calibration_task:
        return list(get_task(FLAGS.calibration_task).labels) or None
    return None


def _examples(model, seq_length: int):
    """(calibration, fidelity examples) from --calibration_task or --calibration_records."""
    if FLAGS.calibration_task:
        encoder = getattr(model, "encoder", model)
        dev = get_task(FLAGS.calibration_task).eval_splits[0]
        return tuple(exporter.examples_from_task(
            FLAGS.calibration_task, split, FLAGS.vocab_file, count, FLAGS.batch_size,
            seq_length, encoder.config.vocab_size, FLAGS.data_dir, FLAGS.use_tfds,
            FLAGS.text_normalization)
            for split, count in ((FLAGS.calibration_split, FLAGS.num_calibration),
                                 (dev, FLAGS.num_fidelity)))
    if FLAGS.calibration_records:
        examples = exporter.examples_from_records(
            FLAGS.calibration_records, FLAGS.num_calibration + FLAGS.num_fidelity,
            FLAGS.batch_size, seq_length)
        return (examples[:FLAGS.num_calibration],
                examples[FLAGS.num_calibration:] or examples[:FLAGS.num_fidelity])
    return None, None


def run_cli():
    """The `mobilebert-export-tflite` command (`python -m export.export_tflite` in a
    checkout)."""
    from mobilebert_tf import cli
    cli.run(main, __name__)


if __name__ == "__main__":
    run_cli()
