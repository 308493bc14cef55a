"""Training throughput on this machine, as same-run ratios of interleaved timings:

- `encoder`: our MobileBERT encoder's forward+backward (loss = mean square of the sequence
  output) against tf-models-official's `MobileBERTEncoder` with the same config, with and
  without XLA;
- `pd`: one pre-training-distillation (PD) step of the `Distiller` and its parts: teacher
  encoder forward, student encoder forward and forward+backward, the MLM/NSP heads with the
  PD loss (forward+backward), and the LAMB update.

  python -m benchmarks.training.distill_throughput --parts encoder,pd --jit false,true \
      --output_json /tmp/throughput.json

Each round runs every candidate once untimed, then `--steps` times; the order reverses every
round. Ratios are taken within a round (this machine's speed drifts up to 2x in minutes), and
the median over rounds is reported. The first call (trace, plus XLA compilation) is timed
separately and excluded.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time

from absl import app, flags

if not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))

flags.DEFINE_enum("size", "full", ["tiny", "full"], "tiny: *_mini presets (4 layers, hidden "
                  "128); full: IB-BERT_LARGE -> MobileBERT (24 layers, hidden 512).")
flags.DEFINE_list("parts", ["encoder", "pd"], "What to time, in this order: encoder, pd.")
flags.DEFINE_integer("batch_size", 4, "Batch size.")
flags.DEFINE_integer("seq_length", 128, "Sequence length.")
flags.DEFINE_integer("rounds", 5, "Interleaved rounds.")
flags.DEFINE_integer("steps", 3, "Timed calls of each candidate per round.")
flags.DEFINE_list("jit", ["false", "true"], "XLA settings of the encoder comparison.")
flags.DEFINE_bool("pd_jit", False, "XLA for the PD step (its forward and backward).")
flags.DEFINE_string("output_json", None, "Write the run (command, machine, results) here.")
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


def _machine(tf) -> dict:
    import tf_keras
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu,
            "cores": os.cpu_count(), "load_average": os.getloadavg(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "tf_keras": tf_keras.__version__,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}


def _interleaved(fns: dict, rounds: int, steps: int) -> dict:
    """`{name: {"first_call_s", "round_s": [s/call per round]}}`."""
    results = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        results[name] = {"first_call_s": time.perf_counter() - start, "round_s": []}
        print(f"# first call {name}: {results[name]['first_call_s']:.1f} s", flush=True)
    for index in range(rounds):
        for name in (list(fns) if index % 2 == 0 else list(fns)[::-1]):
            fns[name]()
            start = time.perf_counter()
            for _ in range(steps):
                fns[name]()
            results[name]["round_s"].append((time.perf_counter() - start) / steps)
    return results


def _median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _encoder_candidates(tf, batch, jits):
    """Ours and TFMG's encoder forward+backward per XLA setting, with the same config."""
    from official.nlp.modeling.networks import MobileBERTEncoder
    from mobilebert_tf import build_encoder
    from mobilebert_tf.encoder import INPUT_KEYS
    preset = "mobilebert_mini" if FLAGS.size == "tiny" else "mobilebert"
    ours = build_encoder(preset)
    c = ours.config
    # hidden_dropout 0 and attention dropout 0.1 on both, as in our preset.
    tfmg = MobileBERTEncoder(
        word_vocab_size=c.vocab_size, word_embed_size=c.embedding_size,
        type_vocab_size=c.type_vocab_size, max_sequence_length=c.max_position,
        num_blocks=c.num_layers, hidden_size=c.hidden_size, num_attention_heads=c.num_heads,
        intermediate_size=c.intermediate_size, intermediate_act_fn=c.activation,
        hidden_dropout_prob=c.hidden_dropout, attention_probs_dropout_prob=c.attention_dropout,
        intra_bottleneck_size=c.intra_size, key_query_shared_bottleneck=True,
        num_feedforward_networks=c.num_ffn, normalization_type=c.norm)
    inputs = {key: batch[key] for key in INPUT_KEYS}

    def fwd_bwd(model, jit):
        def step():
            with tf.GradientTape() as tape:
                output = model(inputs, training=True)["sequence_output"]
                loss = tf.reduce_mean(tf.square(output))
            return tape.gradient(loss, model.trainable_variables)
        return tf.function(step, jit_compile=jit)

    return {f"{name} encoder fwd+bwd, jit={jit}": fwd_bwd(model, jit)
            for jit in jits for name, model in (("tfmg", tfmg), ("ours", ours))}


def _pd_candidates(tf, batch, jit):
    """The PD step of a `Distiller` and its parts, as the step runs them."""
    from mobilebert_tf import MobileBertPretrainer, build_encoder
    from mobilebert_tf.distillation import Distiller, losses, make_schedule
    from mobilebert_tf.encoder import INPUT_KEYS
    from mobilebert_tf.training.losses import nsp_terms
    from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages
    presets = (("ib_bert_mini", "mobilebert_mini") if FLAGS.size == "tiny"
               else ("ib_bert_large", "mobilebert"))
    teacher = MobileBertPretrainer(build_encoder(presets[0]), name="teacher")
    student = MobileBertPretrainer(build_encoder(presets[1]))
    teacher(teacher.example_inputs()), student(student.example_inputs())
    stages = make_schedule("pkt", student.encoder.config.num_layers, 10, 10)[-1:]
    distiller = Distiller(teacher, student, stages, jit_compile=jit)
    distiller.compile(optimizer=create_optimizer("lamb", schedule_for_stages(stages)))
    distiller.set_stage(0)
    inputs = {key: batch[key] for key in INPUT_KEYS}
    # The encoders' outputs and the gradient reaching the student's, fixed for the parts.
    teacher_seq = teacher.encoder(inputs)["sequence_output"]
    student_seq = student.encoder(inputs)["sequence_output"]
    upstream = tf.random.normal(student_seq.shape, stddev=1e-3, seed=0)
    variables = student.trainable_variables
    gradients = [tf.random.normal(v.shape, stddev=1e-3, seed=1) for v in variables]
    head_variables = (student.mlm_head.trainable_variables
                      + student.nsp_head.trainable_variables + [student.encoder.word_embeddings])

    def teacher_forward():
        return teacher.encoder(inputs, training=False)["sequence_output"]

    def student_forward():
        return student.encoder(inputs, training=False)["sequence_output"]

    def student_forward_backward():
        with tf.GradientTape() as tape:
            output = student.encoder(inputs, training=False)["sequence_output"]
        return tape.gradient(output, student.encoder.trainable_variables,
                             output_gradients=upstream)

    def heads():
        positions = batch["masked_lm_positions"]
        with tf.GradientTape() as tape:
            tape.watch(student_seq)
            teacher_logits = tf.stop_gradient(teacher.mlm_head(
                teacher_seq, positions, teacher.encoder.word_embeddings))
            student_logits = student.mlm_head(student_seq, positions,
                                              student.encoder.word_embeddings)
            mlm, _ = losses.distillation_mlm_terms(
                student_logits, teacher_logits, batch["masked_lm_ids"],
                batch["masked_lm_weights"], distiller.alpha, distiller.temperature)
            nsp, _ = nsp_terms(student.nsp_head(student_seq[:, 0]),
                               batch["next_sentence_labels"])
            loss = mlm + nsp
        return tape.gradient(loss, [student_seq] + head_variables)

    def lamb_update():
        distiller.optimizer.apply_gradients(zip(gradients, variables))

    def fn(f):
        return tf.function(f, jit_compile=jit)

    return {"PD step (Distiller.train_step)": tf.function(lambda: distiller.train_step(batch)),
            f"teacher ({presets[0]}) encoder forward": fn(teacher_forward),
            f"student ({presets[1]}) encoder forward": fn(student_forward),
            f"student ({presets[1]}) encoder forward+backward": fn(student_forward_backward),
            "MLM+NSP heads and PD loss, forward+backward": fn(heads),
            # Not compiled, as in the trainer (the update all-reduces).
            "LAMB update (all student variables)": tf.function(lamb_update)}


def main(argv):
    del argv
    import tensorflow as tf
    batch = _batch(tf, FLAGS.batch_size, FLAGS.seq_length, 30522)
    run = {"command": "python -m benchmarks.training.distill_throughput " + " ".join(
               sys.argv[1:]),
           "machine": _machine(tf),
           "settings": {"size": FLAGS.size, "batch_size": FLAGS.batch_size,
                        "seq_length": FLAGS.seq_length, "rounds": FLAGS.rounds,
                        "steps": FLAGS.steps, "dtype": "float32"}}
    print(json.dumps(run, indent=1), flush=True)
    for part in FLAGS.parts:
        if part == "encoder":
            jits = [j.lower() == "true" for j in FLAGS.jit]
            results = _interleaved(_encoder_candidates(tf, batch, jits), FLAGS.rounds,
                                   FLAGS.steps)
            run["encoder_ours_speed_over_tfmg"] = {}
            for jit in jits:
                ratios = [t / o for t, o in zip(
                    results[f"tfmg encoder fwd+bwd, jit={jit}"]["round_s"],
                    results[f"ours encoder fwd+bwd, jit={jit}"]["round_s"])]
                run["encoder_ours_speed_over_tfmg"][f"jit={jit}"] = {
                    "median": _median(ratios), "min": min(ratios), "max": max(ratios),
                    "rounds": ratios}
        elif part == "pd":
            results = _interleaved(_pd_candidates(tf, batch, FLAGS.pd_jit), FLAGS.rounds,
                                   FLAGS.steps)
            step = results["PD step (Distiller.train_step)"]["round_s"]
            for result in results.values():
                result["share_of_step"] = _median(
                    [s / total for s, total in zip(result["round_s"], step)])
        else:
            raise app.UsageError(f"Unknown part {part!r}; expected encoder or pd.")
        for result in results.values():
            result["median_s"] = _median(result["round_s"])
            result["examples_per_s"] = FLAGS.batch_size / result["median_s"]
        run[part] = results
        print(f"{'candidate':58s} {'ms/call':>8s} {'ex/s':>7s} {'first s':>8s}")
        for name, result in results.items():
            print(f"{name:58s} {result['median_s'] * 1e3:8.1f} "
                  f"{result['examples_per_s']:7.2f} {result['first_call_s']:8.1f}"
                  + (f"  {result['share_of_step']:.3f} of step" if part == "pd" else ""))
        for setting, ratio in run.get("encoder_ours_speed_over_tfmg", {}).items():
            if part == "encoder":
                print(f"ours speed / tfmg speed, {setting}: median {ratio['median']:.3f} "
                      f"(rounds {ratio['min']:.3f}-{ratio['max']:.3f})", flush=True)
    run["machine"]["load_average_end"] = os.getloadavg()
    if FLAGS.output_json:
        with open(FLAGS.output_json, "w") as f:
            json.dump(run, f, indent=1)


if __name__ == "__main__":
    app.run(main)
