"""Distillation train-step throughput (examples/s) on this machine, with and without XLA,
and tf-models-official's MobileBERT encoder forward+backward as the reference in the same run.

  python -m benchmarks.training.distill_throughput --size tiny --batch_size 8 --steps 10
  python -m benchmarks.training.distill_throughput --size full --batch_size 2 --steps 3

One line per configuration: `name  jit  examples/s  s/step  first-call s`. The first call
(trace, and XLA compilation with --jit) is timed separately and excluded from the rate.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags

if not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))

flags.DEFINE_enum("size", "tiny", ["tiny", "full"], "tiny: *_mini presets (4 layers, hidden "
                  "128); full: IB-BERT_LARGE -> MobileBERT (24 layers, hidden 512).")
flags.DEFINE_integer("batch_size", 8, "Batch size.")
flags.DEFINE_integer("seq_length", 128, "Sequence length.")
flags.DEFINE_integer("steps", 10, "Timed steps after the first call.")
flags.DEFINE_list("jit", ["false", "true"], "XLA settings to run.")
flags.DEFINE_bool("reference", True, "Also time TFMG's MobileBERT encoder forward+backward.")
FLAGS = flags.FLAGS


def _batch(tf, batch, seq, vocab, predictions=20):
    import numpy as np
    rng = np.random.default_rng(0)
    ids = rng.integers(5, vocab, size=(batch, seq)).astype(np.int32)
    return {"input_word_ids": tf.constant(ids), "input_mask": tf.ones([batch, seq], tf.int32),
            "input_type_ids": tf.zeros([batch, seq], tf.int32),
            "masked_lm_positions": tf.constant(rng.integers(0, seq, (batch, predictions)),
                                               tf.int32),
            "masked_lm_ids": tf.constant(rng.integers(5, vocab, (batch, predictions)), tf.int32),
            "masked_lm_weights": tf.ones([batch, predictions]),
            "next_sentence_labels": tf.zeros([batch], tf.int32)}


def _time(fn, steps):
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return first, (time.perf_counter() - start) / steps


def main(argv):
    del argv
    import tensorflow as tf
    from mobilebert_tf import MobileBertPretrainer, build_encoder
    from mobilebert_tf.distillation import Distiller, copy_pretraining_weights, make_schedule
    from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages

    teacher_preset, student_preset = (("ib_bert_mini", "mobilebert_mini") if FLAGS.size == "tiny"
                                      else ("ib_bert_large", "mobilebert"))
    batch = _batch(tf, FLAGS.batch_size, FLAGS.seq_length, 30522)
    print(f"# size={FLAGS.size} batch={FLAGS.batch_size} seq={FLAGS.seq_length} "
          f"threads={tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
    print("config                          jit    examples/s   s/step   first-call s")
    for jit in [j.lower() == "true" for j in FLAGS.jit]:
        teacher = MobileBertPretrainer(build_encoder(teacher_preset), name="teacher")
        student = MobileBertPretrainer(build_encoder(student_preset))
        teacher(teacher.example_inputs()), student(student.example_inputs())
        copy_pretraining_weights(teacher, student)
        layers = student.encoder.config.num_layers
        for name, stages in (("pkt layer stage", make_schedule("pkt", layers, 10, 10)),
                             ("pd stage", make_schedule("pkt", layers, 10, 10)[-1:])):
            distiller = Distiller(teacher, student, stages, jit_compile=jit)
            distiller.compile(optimizer=create_optimizer("lamb", schedule_for_stages(stages)))
            distiller.set_stage(len(stages) - 1 if name == "pd stage" else 0)
            step = tf.function(distiller.train_step)
            first, per_step = _time(lambda: step(batch), FLAGS.steps)
            print(f"distill {FLAGS.size:5s} {name:17s} {str(jit):6s} "
                  f"{FLAGS.batch_size / per_step:10.2f} {per_step:8.3f} {first:10.1f}",
                  flush=True)
        if FLAGS.reference:
            from official.nlp.modeling.networks import MobileBERTEncoder
            if FLAGS.size == "tiny":
                ref = MobileBERTEncoder(word_embed_size=32, num_blocks=4, hidden_size=128,
                                        intermediate_size=128, intra_bottleneck_size=32,
                                        hidden_dropout_prob=0.0)
            else:
                ref = MobileBERTEncoder(hidden_dropout_prob=0.0)
            inputs = {"input_word_ids": batch["input_word_ids"],
                      "input_mask": batch["input_mask"],
                      "input_type_ids": batch["input_type_ids"]}

            def ref_step():
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(ref(inputs, training=True)
                                                    ["sequence_output"]))
                return tape.gradient(loss, ref.trainable_variables)

            ref_fn = tf.function(ref_step, jit_compile=jit)
            ours = build_encoder(student_preset)
            ours_inputs = inputs

            def ours_step():
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(ours(ours_inputs, training=True)
                                                    ["sequence_output"]))
                return tape.gradient(loss, ours.trainable_variables)

            for label, fn in (("TFMG MobileBERT fwd+bwd", ref_fn),
                              ("ours student fwd+bwd", tf.function(ours_step, jit_compile=jit))):
                first, per_step = _time(fn, FLAGS.steps)
                print(f"{label:31s} {str(jit):6s} {FLAGS.batch_size / per_step:10.2f} "
                      f"{per_step:8.3f} {first:10.1f}", flush=True)


if __name__ == "__main__":
    app.run(main)
