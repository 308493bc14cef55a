"""Train a MobileBERT-family model: teacher pretraining, distillation into a student, or
fine-tuning on GLUE, SQuAD or the sentiment demo task.

Flags -> the mode's config (`mobilebert_tf.run`) -> `pretrain`, `distill` or `finetune` under
the chosen `tf.distribute` strategy. A flag left out takes the config's default (for
fine-tuning, the task's: mobilebert_tf/finetune/tasks.py); a flag of another mode is a usage
error. `--batch_size` is the global batch, split across replicas; every path may be a bucket
URL (gs://...).

Installed as `mobilebert-train`; from a checkout, `python -m tpu.train` is the same. Smoke
run on CPU (tiny shapes; the paper's recipe is in the README):

  mobilebert-train --mode teacher --preset ib_bert_mini --overrides num_layers=2 \
      --train_files 'records/*.tfrecord' --seq_length 128 --max_predictions 20 \
      --batch_size 8 --steps 100 --model_dir /tmp/teacher
  mobilebert-train --mode distill \
      --preset mobilebert_mini --overrides num_layers=2 --teacher_checkpoint /tmp/teacher \
      --distill_strategy pkt --transfer_steps 50 --pd_steps 100 \
      --train_files 'records/*.tfrecord' --batch_size 8 --model_dir /tmp/student
  mobilebert-train --mode finetune --task sentiment --init_checkpoint /tmp/student \
      --model_dir /tmp/sentiment

Every run writes model_config.json and run_config.json into --model_dir; the teacher's and
the initial checkpoint's configs are read from there, and a restarted run is checked
against its own (a --preset or --overrides that contradicts a stored config is an error).

Cloud TPU: add `--strategy tpu --tpu <name or grpc://address> --mixed_precision
mixed_bfloat16` and gs:// paths. GPU clusters: `--strategy multi_worker` on every worker,
each with its TF_CONFIG.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

from absl import app, flags

from mobilebert_tf import cli

MODES = ("teacher", "distill", "finetune")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")

# Run settings: read here, not config fields.
flags.DEFINE_enum("mode", "distill", MODES, "teacher: MLM+NSP pretraining of --preset; "
                  "distill: train --preset from --teacher_checkpoint; finetune: --task from "
                  "--init_checkpoint.")
flags.DEFINE_enum("strategy", "default", STRATEGIES, "tf.distribute strategy; multi_worker "
                  "reads the cluster from TF_CONFIG.")
flags.DEFINE_string("tpu", None, "TPU name or grpc:// address (--strategy tpu).")
flags.DEFINE_integer("num_cpu_devices", 1, "Split the CPU into this many logical devices "
                     "(to exercise --strategy mirrored on one CPU).", lower_bound=1)
flags.DEFINE_integer("cluster_timeout", 300, "Seconds to wait for the TPU or for every worker "
                     "of TF_CONFIG to come up before failing.", lower_bound=1)
flags.DEFINE_bool("deterministic", False, "Deterministic ops (reproducible on CPU).")
# Every mode. None: the config's default (given in brackets; fine-tuning: the task's).
flags.DEFINE_string("model_dir", None, "Checkpoints, summaries, outputs.", required=True)
flags.DEFINE_string("preset", None, "Model preset, the student in distill mode [the "
                    "model_config.json of --model_dir, else of --init_checkpoint, else "
                    "mobilebert].")
flags.DEFINE_list("overrides", None, "Config overrides for every model, e.g. num_layers=2.")
flags.DEFINE_integer("seq_length", None, "Sequence length [128; the task's].")
flags.DEFINE_integer("batch_size", None, "Global batch size [8; the task's].")
flags.DEFINE_float("learning_rate", None, "Peak learning rate [1.5e-3; the task's].")
flags.DEFINE_integer("warmup_steps", None, "Warm-up steps (per layer-transfer stage) [0; "
                     "fine-tuning: --warmup_proportion of the steps].")
flags.DEFINE_float("weight_decay", None, "Decoupled weight decay, not norms or biases [0.01].")
flags.DEFINE_float("clip_norm", None, "Global gradient-norm clip [1.0].")
flags.DEFINE_bool("jit_compile", None, "XLA-compile forward and backward [false].")
flags.DEFINE_enum("mixed_precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras precision policy (mixed_bfloat16 on TPU; NoNorm overflows float16).")
flags.DEFINE_integer("steps_per_loop", None, "Steps per host call [100 on TPU, else 1]; "
                     "loops still end at stage ends, checkpoints and evaluations.")
flags.DEFINE_integer("checkpoint_every", None, "Steps between checkpoints [1000].")
flags.DEFINE_integer("log_every", None, "Steps between log lines [100].")
flags.DEFINE_bool("progress_bar", None, "Show a progress bar on stderr and write the log "
                  "lines to <model_dir>/train.log instead [false].")
flags.DEFINE_integer("seed", None, "Seed of initialization, data order and dropout [0].")
flags.DEFINE_integer("debug_exit_after_steps", None, "Test aid: send --debug_exit_signal to "
                     "this process after this step.")
flags.DEFINE_enum("debug_exit_signal", None, ["KILL", "TERM"], "Test aid: the signal of "
                  "--debug_exit_after_steps [KILL].")
flags.DEFINE_integer("steps", None, "Training steps (teacher [1000]; fine-tuning: instead "
                     "of --num_train_epochs).")
# Teacher and distill modes.
flags.DEFINE_string("train_files", None, "Comma-separated globs of pretraining TFRecords.")
flags.DEFINE_integer("max_predictions", None, "Masked positions per record [20].")
flags.DEFINE_enum("optimizer", None, ["lamb", "adamw"], "Optimizer [lamb].")
flags.DEFINE_bool("per_replica_input", None, "One input pipeline per replica, not per host "
                  "[false].")
flags.DEFINE_integer("files_per_window", None, "Record files read in parallel per input "
                     "pipeline [8].")
flags.DEFINE_bool("dropout", None, "Teacher mode: train with the config's dropout [true].")
# Distill mode.
flags.DEFINE_string("teacher_preset", None, "Teacher preset [the model_config.json of "
                    "--teacher_checkpoint; needed only for checkpoints without one].")
flags.DEFINE_list("teacher_overrides", None, "Teacher-only overrides, after --overrides.")
flags.DEFINE_string("teacher_checkpoint", None, "Teacher checkpoint dir or prefix.")
flags.DEFINE_list("layer_mapping", None, "Teacher layer per student layer [the same].")
flags.DEFINE_string("distill_strategy", None, "pkt | jkt | akt [pkt].")
flags.DEFINE_integer("transfer_steps", None, "PKT: steps per layer; JKT: transfer steps "
                     "[1000].")
flags.DEFINE_integer("pd_steps", None, "Pre-training distillation steps (AKT: all) [1000].")
flags.DEFINE_integer("pd_warmup_steps", None, "Warm-up steps of the PD stage [0].")
flags.DEFINE_float("lower_multiplier", None, "PKT: learning-rate multiplier of the layers "
                   "below the current one (0 = frozen; the authors' code uses 0.1) [0].")
flags.DEFINE_bool("feature_map_transfer", None, "Feature-map transfer losses [true].")
flags.DEFINE_bool("attention_transfer", None, "Attention transfer losses [true].")
flags.DEFINE_float("alpha", None, "PD: weight of the hard MLM loss [0.5].")
flags.DEFINE_float("temperature", None, "PD: KD temperature [1.0].")
# Fine-tuning.
flags.DEFINE_string("task", None, "Fine-tuning task: the nine GLUE names (cola, sst2, mrpc, "
                    "stsb, qqp, mnli, qnli, rte, wnli), squad_v1.1, squad_v2.0, sentiment.")
flags.DEFINE_string("init_checkpoint", None, "Encoder weights to fine-tune from: a checkpoint "
                    "dir or prefix of --mode teacher/distill or convert_checkpoint; 'none' "
                    "for random weights (smoke runs).")
flags.DEFINE_string("data_dir", None, "GLUE task dir (train.tsv, dev.tsv, test.tsv) or SQuAD "
                    "dir (train-v1.1.json, dev-v1.1.json or -v2.0).")
flags.DEFINE_bool("use_tfds", None, "Read GLUE/SQuAD through tensorflow-datasets.")
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data_dir.")
flags.DEFINE_string("tfds_manual_dir", None, "Original archives for offline tfds preparation.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab [BERT uncased].")
flags.DEFINE_string("text_normalization", None, "bert: NFD, accents stripped, case folded; "
                    "device: ASCII lower-casing only, as MediaPipe / the TFLite Task Library "
                    "tokenize on device (for models meant for them) [bert].")
flags.DEFINE_float("num_train_epochs", None, "Epochs [the task's]; --steps wins.")
flags.DEFINE_float("warmup_proportion", None, "Warm-up as a fraction of the steps [0.1]; "
                   "--warmup_steps wins.")
flags.DEFINE_integer("eval_every", None, "Steps between dev evaluations [an epoch].")
flags.DEFINE_integer("eval_batch_size", None, "Dev batch size [--batch_size].")
flags.DEFINE_integer("max_train_examples", None, "Seeded random subset of the train set.")
flags.DEFINE_integer("max_eval_examples", None, "Seeded random subset of the dev set.")
flags.DEFINE_bool("balance_classes", None, "Class-balanced subsets (with max_*_examples).")
flags.DEFINE_integer("doc_stride", None, "SQuAD: tokens between context windows [128].")
flags.DEFINE_integer("max_query_length", None, "SQuAD: question tokens kept [64].")
flags.DEFINE_float("null_score_diff_threshold", None, "SQuAD v2.0: predict no answer when "
                   "the null score beats the best span by more than this [0].")
FLAGS = flags.FLAGS

RUN_FLAGS = ("mode", "strategy", "tpu", "num_cpu_devices", "cluster_timeout", "deterministic")
EVERY_MODE = RUN_FLAGS + ("mixed_precision",
    "model_dir", "preset", "overrides", "seq_length", "batch_size", "learning_rate",
    "warmup_steps", "weight_decay", "clip_norm", "jit_compile", "steps_per_loop",
    "checkpoint_every", "log_every", "progress_bar", "seed", "debug_exit_after_steps",
    "debug_exit_signal")
RECORDS = ("train_files", "max_predictions", "optimizer", "per_replica_input",
           "files_per_window")
MODE_FLAGS = {
    "teacher": EVERY_MODE + RECORDS + ("steps", "dropout"),
    "distill": EVERY_MODE + RECORDS + (
        "teacher_preset", "teacher_overrides", "teacher_checkpoint", "layer_mapping",
        "distill_strategy", "transfer_steps", "pd_steps", "pd_warmup_steps",
        "lower_multiplier", "feature_map_transfer", "attention_transfer", "alpha",
        "temperature"),
    "finetune": EVERY_MODE + (
        "steps", "task", "init_checkpoint", "data_dir", "use_tfds", "tfds_data_dir",
        "tfds_manual_dir", "vocab_file", "text_normalization", "num_train_epochs",
        "warmup_proportion", "eval_every", "eval_batch_size", "max_train_examples",
        "max_eval_examples", "balance_classes", "doc_stride", "max_query_length",
        "null_score_diff_threshold"),
}
REQUIRED = {"teacher": ("train_files",), "distill": ("train_files", "teacher_checkpoint"),
            "finetune": ("task", "init_checkpoint")}


def check_flags() -> None:
    """Usage errors that need no model or data: flags of another mode, missing flags."""
    ours = {name for names in MODE_FLAGS.values() for name in names}
    foreign = sorted(name for name in ours - set(MODE_FLAGS[FLAGS.mode]) if FLAGS[name].present)
    if foreign:
        raise app.UsageError(f"--mode {FLAGS.mode} takes no {', '.join('--' + f for f in foreign)}"
                             f" (a flag of another mode).")
    missing = [name for name in REQUIRED[FLAGS.mode] if not FLAGS[name].value]
    if missing:
        raise app.UsageError(f"--mode {FLAGS.mode} needs --{missing[0]}.")
    if FLAGS.strategy == "tpu" and not FLAGS.tpu:
        raise app.UsageError("--strategy tpu needs --tpu.")
    if FLAGS.strategy == "multi_worker" and not os.environ.get("TF_CONFIG"):
        raise app.UsageError("--strategy multi_worker needs the TF_CONFIG environment "
                             "variable (the cluster and this worker's task); it is unset.")


def config_values() -> dict:
    """The mode's config fields from the flags that are set."""
    from mobilebert_tf.config import parse_overrides
    from mobilebert_tf.run.command_line import FIELDS  # flag -> field, where they differ
    values = {}
    for name in MODE_FLAGS[FLAGS.mode]:
        value = FLAGS[name].value
        if name in RUN_FLAGS or value is None or (name, FLAGS.mode) == ("mixed_precision",
                                                                         "finetune"):
            continue
        if name in ("overrides", "teacher_overrides"):
            value = parse_overrides(value)
        elif name == "layer_mapping":
            value = [int(i) for i in value]
        elif name == "init_checkpoint" and value.lower() == "none":
            value = None
        values[FIELDS.get(name, name)] = value
    return values


def main(argv):
    del argv
    check_flags()
    if FLAGS.mode == "finetune" and FLAGS.mixed_precision == "mixed_float16":
        raise app.UsageError("mixed_float16 overflows NoNorm activations; use "
                             "--mixed_precision mixed_bfloat16.")
    from mobilebert_tf import run
    from mobilebert_tf.errors import InputError

    from mobilebert_tf.run.command_line import MODES

    try:
        try:
            values = config_values()
        except ValueError as e:  # --overrides that do not parse
            raise InputError(str(e)) from None
        # The config first: it uses no device, so a bad value is refused before a TPU or a
        # cluster is connected.
        config = {mode: cls for cls, mode in MODES.items()}[FLAGS.mode](**values)
        # On a TPU the record files too, so a bad one is named before the TPU is waited for.
        # Elsewhere they are checked once the strategy is made: MultiWorkerMirroredStrategy
        # and --num_cpu_devices must come before any TensorFlow op runs.
        early = isinstance(config, run.RecordTrainingConfig) and FLAGS.strategy == "tpu"
        checked = {"record_files": run.check_inputs(config)} if early else {}
        strategy = run.make_strategy(FLAGS.strategy, FLAGS.tpu, FLAGS.num_cpu_devices,
                                     FLAGS.cluster_timeout)
        if FLAGS.deterministic:
            import tensorflow as tf
            tf.config.experimental.enable_op_determinism()
        train = {"teacher": run.pretrain, "distill": run.distill,
                 "finetune": run.finetune}[FLAGS.mode]
        logs = run.log_to_file(FLAGS.model_dir) if FLAGS.progress_bar else nullcontext()
        # Fine-tuning reads the policy; the other modes set their config's.
        with logs, run.precision_policy(FLAGS.mixed_precision):
            train(config, strategy, **checked)
    except InputError as e:
        raise app.UsageError(str(e)) from None


def run_cli():
    """The `mobilebert-train` command."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run_cli()
