"""Export a MobileBERT model to SavedModel and `.tflite` (float32, float16, dynamic-range int8,
full int8), checking every file against the Keras model.

    python -m export.export_tflite --checkpoint=runs/distill --preset=mobilebert_mini \
        --head=encoder --calibration_records='data/records/*.tfrecord' --output_dir=exported
    python -m export.export_tflite --model=classifier.keras --calibration_task=sentiment \
        --vocab_file=vocab.txt --output_dir=exported

Full int8 calibrates on `--num_calibration` real examples, from pretraining records or from
a fine-tuning task's split (which matches what a task model will see); the fidelity check
runs on the next `--num_fidelity` ones (records) or on the task's dev split.
"""

from absl import app, flags

from mobilebert_tf.export import exporter, loading, tflite
from mobilebert_tf.finetune.tasks import get_task

flags.DEFINE_string("model", None, "A .keras model file (config included).")
flags.DEFINE_string("checkpoint", None, "A training checkpoint (directory or prefix).")
flags.DEFINE_string("preset", None, "The preset the checkpoint was trained with.")
flags.DEFINE_enum("head", "encoder", loading.HEADS, "What to export from the checkpoint.")
flags.DEFINE_integer("num_classes", 2, "Classifier labels (head=classifier).")
flags.DEFINE_string("output_dir", None, "Where to write saved_model/ and *.tflite.")
flags.DEFINE_list("precisions", list(tflite.PRECISIONS), "Precisions to write.")
flags.DEFINE_integer("seq_length", 128, "Fixed sequence length of the exported signature.")
flags.DEFINE_integer("batch_size", 1, "Fixed batch size of the exported signature.")
flags.DEFINE_string("calibration_records", None,
                    "BERT-format TFRecords (input_ids, input_mask, segment_ids) for int8 "
                    "calibration and the fidelity check.")
flags.DEFINE_string("calibration_task", None,
                    "Or a fine-tuning task (sentiment, a GLUE task, squad_v1.1/v2.0) whose "
                    "--calibration_split calibrates int8; its dev split feeds the fidelity "
                    "check. Needs --vocab_file; GLUE/SQuAD also --data_dir or --use_tfds.")
flags.DEFINE_string("calibration_split", "train", "Split of --calibration_task.")
flags.DEFINE_string("vocab_file", None, "The model's vocab.txt, for --calibration_task "
                    "(default: BERT uncased).")
flags.DEFINE_string("data_dir", None, "GLUE/SQuAD files of --calibration_task.")
flags.DEFINE_bool("use_tfds", False, "Read --calibration_task through tensorflow-datasets.")
flags.DEFINE_integer("num_calibration", 100, "Calibration examples for full int8 (GR: 100).")
flags.DEFINE_integer("num_fidelity", 16, "Examples for the fidelity check.")
flags.DEFINE_integer("num_threads", 2, "Interpreter threads for the fidelity check.")
flags.DEFINE_bool("fold", True, "Export the folded graph (NoNorms folded into dense layers, "
                  "dense layers that read one input merged); else the Keras graph as is.")
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if FLAGS.calibration_records and FLAGS.calibration_task:
        raise app.UsageError("Give --calibration_records or --calibration_task, not both.")
    try:
        loading.check_inputs(FLAGS.model, FLAGS.checkpoint, FLAGS.preset, FLAGS.vocab_file,
                             FLAGS.data_dir, FLAGS.calibration_records, FLAGS.output_dir)
    except (ValueError, OSError) as e:  # before any model is built
        raise app.UsageError(str(e)) from None
    model = loading.load_model(FLAGS.model, FLAGS.checkpoint, FLAGS.preset, FLAGS.head,
                               FLAGS.num_classes)
    calibration = fidelity_examples = None
    if FLAGS.calibration_task:
        encoder = getattr(model, "encoder", model)
        try:
            dev = get_task(FLAGS.calibration_task).eval_splits[0]
            calibration, fidelity_examples = (exporter.examples_from_task(
                FLAGS.calibration_task, split, FLAGS.vocab_file, count, FLAGS.batch_size,
                FLAGS.seq_length, encoder.config.vocab_size, FLAGS.data_dir, FLAGS.use_tfds)
                for split, count in ((FLAGS.calibration_split, FLAGS.num_calibration),
                                     (dev, FLAGS.num_fidelity)))
        except ValueError as e:  # unknown task, missing data, vocab mismatch
            raise app.UsageError(str(e)) from None
    elif FLAGS.calibration_records:
        examples = exporter.examples_from_records(
            FLAGS.calibration_records, FLAGS.num_calibration + FLAGS.num_fidelity,
            FLAGS.batch_size, FLAGS.seq_length)
        calibration = examples[:FLAGS.num_calibration]
        fidelity_examples = examples[FLAGS.num_calibration:] or examples[:FLAGS.num_fidelity]
    exporter.export(model, FLAGS.output_dir, FLAGS.precisions, FLAGS.seq_length,
                    FLAGS.batch_size, calibration, fidelity_examples, FLAGS.num_threads,
                    FLAGS.fold)


def run_cli():
    """The `mobilebert-export-tflite` command (`python -m export.export_tflite` in a
    checkout)."""
    from mobilebert_tf import cli
    cli.run(main, __name__)


if __name__ == "__main__":
    run_cli()
