"""Export a MobileBERT model to SavedModel and `.tflite` (float32, float16, dynamic-range int8,
full int8), checking every file against the Keras model.

    python -m export.export_tflite --checkpoint=runs/distill --preset=mobilebert_mini \
        --head=encoder --calibration_records='data/records/*.tfrecord' --output_dir=exported
    python -m export.export_tflite --model=classifier.keras --output_dir=exported
"""

from absl import app, flags

from mobilebert_tf.export import exporter, loading, tflite

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
flags.DEFINE_integer("num_calibration", 100, "Calibration examples for full int8 (GR: 100).")
flags.DEFINE_integer("num_fidelity", 16, "Examples for the fidelity check.")
flags.DEFINE_integer("num_threads", 2, "Interpreter threads for the fidelity check.")
flags.DEFINE_bool("fold", True, "Export the folded graph (NoNorms folded into dense layers, "
                  "dense layers that read one input merged); else the Keras graph as is.")
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    model = loading.load_model(FLAGS.model, FLAGS.checkpoint, FLAGS.preset, FLAGS.head,
                               FLAGS.num_classes)
    calibration = fidelity_examples = None
    if FLAGS.calibration_records:
        examples = exporter.examples_from_records(
            FLAGS.calibration_records, FLAGS.num_calibration + FLAGS.num_fidelity,
            FLAGS.batch_size, FLAGS.seq_length)
        calibration = examples[:FLAGS.num_calibration]
        fidelity_examples = examples[FLAGS.num_calibration:] or examples[:FLAGS.num_fidelity]
    exporter.export(model, FLAGS.output_dir, FLAGS.precisions, FLAGS.seq_length,
                    FLAGS.batch_size, calibration, fidelity_examples, FLAGS.num_threads,
                    FLAGS.fold)


if __name__ == "__main__":
    app.run(main)
