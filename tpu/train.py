"""Train a MobileBERT-family model: teacher pretraining, distillation into a student, or
fine-tuning on GLUE, SQuAD or the sentiment demo task.

One code path for CPU, GPU and Cloud TPU: the models, optimizer and step live in a
`tf.distribute` strategy; `--batch_size` is the global batch, split across replicas, and every
loss is normalized by global counts so any replica count gives the one-device update.

Smoke run on CPU (tiny shapes; the full recipe is in MOBILEBERT.md section 3):

  python -m tpu.train --mode teacher --preset ib_bert_mini --overrides num_layers=2 \
      --train_files 'records/*.tfrecord' --seq_length 128 --max_predictions 20 \
      --batch_size 8 --steps 100 --model_dir /tmp/teacher
  python -m tpu.train --mode distill --teacher_preset ib_bert_mini \
      --preset mobilebert_mini --overrides num_layers=2 --teacher_checkpoint /tmp/teacher \
      --distill_strategy pkt --transfer_steps 50 --pd_steps 100 \
      --train_files 'records/*.tfrecord' --batch_size 8 --model_dir /tmp/student

Fine-tuning (defaults per task in mobilebert_tf/finetune/tasks.py; SQuAD: LR 4e-5, 5 epochs,
batch 32, seq 384; `--steps`, `--learning_rate`, `--batch_size`, `--seq_length` and
`--warmup_steps` override them only when given):

  python -m tpu.train --mode finetune --task mrpc --data_dir glue/MRPC \
      --preset mobilebert --init_checkpoint converted/ --model_dir /tmp/mrpc
  python -m tpu.train --mode finetune --task squad_v1.1 --data_dir squad/ \
      --init_checkpoint converted/ --model_dir /tmp/squad
  python -m tpu.train --mode finetune --task sentiment --preset mobilebert_mini \
      --overrides num_layers=2 --init_checkpoint /tmp/student --model_dir /tmp/sentiment

Cloud TPU: add `--strategy tpu --tpu <name or grpc://address> --mixed_precision
mixed_bfloat16` and gs:// paths.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import app, flags, logging

if not __package__:  # run as a script (python tpu/train.py): make the repo importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODES = ("teacher", "distill", "finetune")
STRATEGY_NAMES = ("default", "mirrored", "tpu")

flags.DEFINE_enum("mode", "distill", MODES, "teacher: MLM+NSP pretraining of --preset; "
                  "distill: train --preset from --teacher_checkpoint; finetune: --task from "
                  "--init_checkpoint.")
flags.DEFINE_string("preset", "mobilebert", "Model preset (the student in distill mode).")
flags.DEFINE_string("teacher_preset", "ib_bert_large", "Teacher preset (distill mode).")
flags.DEFINE_list("overrides", [], "Config overrides for every model, e.g. num_layers=2.")
flags.DEFINE_list("teacher_overrides", [], "Teacher-only overrides, after --overrides.")
flags.DEFINE_string("teacher_checkpoint", None, "Teacher checkpoint dir or prefix.")
flags.DEFINE_list("layer_mapping", None, "Teacher layer per student layer (default: same).")
flags.DEFINE_enum("strategy", "default", STRATEGY_NAMES, "tf.distribute strategy.")
flags.DEFINE_string("tpu", None, "TPU name or grpc:// address (--strategy tpu).")
flags.DEFINE_integer("num_cpu_devices", 1, "Split the CPU into this many logical devices "
                     "(to exercise --strategy mirrored on one CPU).")
flags.DEFINE_string("model_dir", None, "Checkpoints and summaries.", required=True)
flags.DEFINE_string("train_files", None, "Comma-separated globs of pretraining TFRecords "
                    "(teacher and distill modes).")
flags.DEFINE_integer("seq_length", 128, "Sequence length of the records.")
flags.DEFINE_integer("max_predictions", 20, "Masked positions per sequence in the records.")
flags.DEFINE_integer("batch_size", 8, "Global batch size.")
flags.DEFINE_integer("steps", 1000, "Training steps (teacher mode).")
flags.DEFINE_string("distill_strategy", "pkt", "pkt | jkt | akt.")
flags.DEFINE_integer("transfer_steps", 1000, "PKT: steps per layer; JKT: transfer steps.")
flags.DEFINE_integer("pd_steps", 1000, "Pre-training distillation steps (AKT: all steps).")
flags.DEFINE_float("lower_multiplier", 0.0, "PKT: learning-rate multiplier of the layers "
                   "below the current one (0 = frozen; GR uses 0.1).")
flags.DEFINE_bool("feature_map_transfer", True, "Distill mode: feature-map transfer losses "
                  "(turn off for the ablation).")
flags.DEFINE_bool("attention_transfer", True, "Distill mode: attention transfer losses "
                  "(turn off for the ablation).")
flags.DEFINE_float("alpha", 0.5, "PD: weight of the hard MLM loss.")
flags.DEFINE_float("temperature", 1.0, "PD: KD temperature.")
flags.DEFINE_enum("optimizer", "lamb", ["lamb", "adamw"], "Optimizer.")
flags.DEFINE_float("learning_rate", 1.5e-3, "Peak learning rate.")
flags.DEFINE_integer("warmup_steps", 0, "Warm-up steps (per stage for layer transfer).")
flags.DEFINE_integer("pd_warmup_steps", 0, "Warm-up steps of the PD stage.")
flags.DEFINE_float("weight_decay", 0.01, "Decoupled weight decay (not norms or biases).")
flags.DEFINE_float("clip_norm", 1.0, "Global gradient-norm clip.")
flags.DEFINE_bool("dropout", True, "Teacher mode: train with the config's dropout.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile forward and backward.")
flags.DEFINE_enum("mixed_precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras precision policy (mixed_bfloat16 on TPU).")
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.")
flags.DEFINE_integer("log_every", 100, "Steps between log lines.")
flags.DEFINE_bool("progress_bar", False, "Show a progress bar on stderr and write the log "
                  "lines to <model_dir>/train.log instead (local model_dir only).")
flags.DEFINE_integer("seed", 0, "Seed of initialization, data order and dropout masks.")
flags.DEFINE_bool("deterministic", False, "Deterministic ops (reproducible on CPU).")
flags.DEFINE_integer("debug_exit_after_steps", None, "Test aid: SIGKILL after this step.")
# Fine-tuning.
flags.DEFINE_string("task", None, "Fine-tuning task: the nine GLUE names (cola, sst2, mrpc, "
                    "stsb, qqp, mnli, qnli, rte, wnli), squad_v1.1, squad_v2.0, sentiment.")
flags.DEFINE_string("init_checkpoint", None, "Encoder weights to fine-tune from: a checkpoint "
                    "dir or prefix of --mode teacher/distill or convert_checkpoint; 'none' "
                    "for random weights (smoke runs).")
flags.DEFINE_string("data_dir", None, "GLUE task dir (train.tsv, dev.tsv, test.tsv) or SQuAD "
                    "dir (train-v1.1.json, dev-v1.1.json or -v2.0).")
flags.DEFINE_bool("use_tfds", False, "Read GLUE/SQuAD through tensorflow-datasets.")
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data_dir.")
flags.DEFINE_string("tfds_manual_dir", None, "Original archives for offline tfds preparation.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab (default: BERT uncased).")
flags.DEFINE_float("num_train_epochs", None, "Epochs (default per task); --steps wins.")
flags.DEFINE_float("warmup_proportion", 0.1, "Warm-up as a fraction of the steps "
                   "(fine-tuning; --warmup_steps wins when given).")
flags.DEFINE_integer("eval_every", None, "Steps between dev evaluations (default: an epoch).")
flags.DEFINE_integer("eval_batch_size", None, "Dev batch size (default: --batch_size).")
flags.DEFINE_integer("max_train_examples", None, "Seeded random subset of the train set.")
flags.DEFINE_integer("max_eval_examples", None, "Seeded random subset of the dev set.")
flags.DEFINE_bool("balance_classes", False, "Class-balanced subsets (with max_*_examples).")
flags.DEFINE_integer("doc_stride", 128, "SQuAD: tokens between context windows.")
flags.DEFINE_integer("max_query_length", 64, "SQuAD: question tokens kept.")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "SQuAD v2.0: predict no answer when the "
                   "null score beats the best span by more than this.")
FLAGS = flags.FLAGS


def parse_overrides(pairs) -> dict:
    """["num_layers=2", "norm=no_norm"] -> typed dict, types from `MobileBertConfig`."""
    from mobilebert_tf.config import MobileBertConfig
    types = {f.name: type(f.default) for f in dataclasses.fields(MobileBertConfig)}
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in types:
            raise ValueError(f"Bad --overrides entry {pair!r}; expected field=value with a "
                             f"MobileBertConfig field ({sorted(types)}).")
        kind = types[key]
        overrides[key] = (value.lower() in ("1", "true", "yes") if kind is bool
                          else kind(value))
    return overrides


def check_flags() -> None:
    """Everything that can be checked before TensorFlow starts."""
    if FLAGS.mode == "finetune":
        check_finetune_flags()
    elif not FLAGS.train_files:
        raise app.UsageError(f"--mode {FLAGS.mode} needs --train_files.")
    if FLAGS.mode == "distill":
        from mobilebert_tf.distillation.schedule import STRATEGIES
        if FLAGS.distill_strategy not in STRATEGIES:
            raise app.UsageError(f"Unknown --distill_strategy {FLAGS.distill_strategy!r}; "
                                 f"expected one of {list(STRATEGIES)}.")
        if not FLAGS.teacher_checkpoint:
            raise app.UsageError("--mode distill needs --teacher_checkpoint.")
        if not (os.path.exists(FLAGS.teacher_checkpoint + ".index")
                or (os.path.isdir(FLAGS.teacher_checkpoint)
                    and os.path.exists(os.path.join(FLAGS.teacher_checkpoint, "checkpoint")))
                or FLAGS.teacher_checkpoint.startswith("gs://")):
            raise app.UsageError(f"No teacher checkpoint at {FLAGS.teacher_checkpoint!r} "
                                 "(a directory written by --mode teacher, or a prefix).")
    if FLAGS.strategy == "tpu" and not FLAGS.tpu:
        raise app.UsageError("--strategy tpu needs --tpu.")


def check_finetune_flags() -> None:
    from mobilebert_tf.finetune.run import resolve_checkpoint
    from mobilebert_tf.finetune.tasks import InputError, get_task
    if not FLAGS.task:
        raise app.UsageError("--mode finetune needs --task.")
    if not FLAGS.init_checkpoint:
        raise app.UsageError("--mode finetune needs --init_checkpoint (or 'none' to start "
                             "from random weights).")
    try:
        get_task(FLAGS.task)
        if FLAGS.init_checkpoint.lower() != "none":
            resolve_checkpoint(FLAGS.init_checkpoint)
    except InputError as e:
        raise app.UsageError(str(e)) from None


def finetune_config():
    """`FinetuneConfig` from the flags; shared flags count only when given, else the task's
    defaults apply (theirs are the pretraining recipe's)."""
    from mobilebert_tf.finetune.run import FinetuneConfig

    def given(name):
        return FLAGS[name].value if FLAGS[name].present else None

    init = None if FLAGS.init_checkpoint.lower() == "none" else FLAGS.init_checkpoint
    return FinetuneConfig(
        task=FLAGS.task, model_dir=FLAGS.model_dir, preset=FLAGS.preset,
        overrides=parse_overrides(FLAGS.overrides), init_checkpoint=init,
        data_dir=FLAGS.data_dir, use_tfds=FLAGS.use_tfds, tfds_data_dir=FLAGS.tfds_data_dir,
        tfds_manual_dir=FLAGS.tfds_manual_dir, vocab_file=FLAGS.vocab_file,
        seq_length=given("seq_length"), batch_size=given("batch_size"),
        learning_rate=given("learning_rate"), epochs=FLAGS.num_train_epochs,
        steps=given("steps"), warmup_proportion=FLAGS.warmup_proportion,
        warmup_steps=given("warmup_steps"), weight_decay=FLAGS.weight_decay,
        clip_norm=FLAGS.clip_norm, eval_every=FLAGS.eval_every,
        eval_batch_size=FLAGS.eval_batch_size, checkpoint_every=FLAGS.checkpoint_every,
        log_every=FLAGS.log_every, max_train_examples=FLAGS.max_train_examples,
        max_eval_examples=FLAGS.max_eval_examples, balance_classes=FLAGS.balance_classes,
        doc_stride=FLAGS.doc_stride, max_query_length=FLAGS.max_query_length,
        null_score_diff_threshold=FLAGS.null_score_diff_threshold, seed=FLAGS.seed,
        jit_compile=FLAGS.jit_compile, exit_after_steps=FLAGS.debug_exit_after_steps,
        progress=FLAGS.progress_bar)


def make_strategy(tf):
    if FLAGS.strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=FLAGS.tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if FLAGS.strategy == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def log_to_file(model_dir: str) -> None:
    """Send absl log lines to `model_dir/train.log`, leaving stderr to the progress bar."""
    os.makedirs(model_dir, exist_ok=True)
    stream = open(os.path.join(model_dir, "train.log"), "a", buffering=1, encoding="utf-8")
    logging.get_absl_handler().python_handler.stream = stream


def main(argv):
    del argv
    check_flags()
    if FLAGS.progress_bar:
        log_to_file(FLAGS.model_dir)
    overrides = parse_overrides(FLAGS.overrides)
    import tensorflow as tf
    import tf_keras as keras

    if FLAGS.num_cpu_devices > 1:  # must precede any use of the devices
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * FLAGS.num_cpu_devices)
    keras.utils.set_random_seed(FLAGS.seed)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()

    if FLAGS.mode == "finetune":
        from mobilebert_tf.finetune.run import finetune
        from mobilebert_tf.finetune.tasks import InputError
        if FLAGS.mixed_precision == "mixed_float16":
            raise app.UsageError("mixed_float16 overflows NoNorm activations; use "
                                 "--mixed_precision mixed_bfloat16.")
        keras.mixed_precision.set_global_policy(FLAGS.mixed_precision)
        strategy = make_strategy(tf)
        logging.info("Strategy %s with %d replica(s).", type(strategy).__name__,
                     strategy.num_replicas_in_sync)
        try:
            result = finetune(finetune_config(), strategy)
        except InputError as e:
            raise app.UsageError(str(e)) from None
        logging.info("Best dev %s: %.4f at step %d.", result.score, result.best_score,
                     result.best_step)
        return

    from mobilebert_tf.config import get_preset
    from mobilebert_tf.distillation import Distiller, copy_pretraining_weights, make_schedule
    from mobilebert_tf.encoder import build_encoder
    from mobilebert_tf.models import MobileBertPretrainer
    from mobilebert_tf.training import loop
    from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages
    from mobilebert_tf.training.pretraining import PretrainingTrainer, pretraining_stage
    from mobilebert_tf.training.records import check_record_shapes, pretraining_dataset, \
        record_files

    # Data: fail on missing files or wrong shapes before building anything.
    check_record_shapes(record_files(FLAGS.train_files), FLAGS.seq_length,
                        FLAGS.max_predictions)
    config = get_preset(FLAGS.preset, **overrides)
    if FLAGS.mixed_precision == "mixed_float16" and config.norm == "no_norm":
        # NoNorm activations reach 1e8 (float16 max 65504): the known MobileBERT NaN source.
        raise app.UsageError("mixed_float16 overflows NoNorm activations; use "
                             "--mixed_precision mixed_bfloat16 (same range as float32).")
    keras.mixed_precision.set_global_policy(FLAGS.mixed_precision)

    strategy = make_strategy(tf)
    logging.info("Strategy %s with %d replica(s); global batch %d.",
                 type(strategy).__name__, strategy.num_replicas_in_sync, FLAGS.batch_size)
    if FLAGS.batch_size % strategy.num_replicas_in_sync:
        raise app.UsageError(f"--batch_size {FLAGS.batch_size} does not split over "
                             f"{strategy.num_replicas_in_sync} replicas.")

    with strategy.scope():
        model = MobileBertPretrainer(build_encoder(config))
        model(model.example_inputs())
        if FLAGS.mode == "teacher":
            stages = [pretraining_stage(config.num_layers, FLAGS.steps, FLAGS.learning_rate,
                                        FLAGS.warmup_steps)]
            trainer = PretrainingTrainer(model, stages, jit_compile=FLAGS.jit_compile,
                                         training=FLAGS.dropout, seed=FLAGS.seed)
        else:
            teacher = MobileBertPretrainer(
                build_encoder(get_preset(FLAGS.teacher_preset, **{
                    **overrides, **parse_overrides(FLAGS.teacher_overrides)})),
                name="teacher")
            teacher(teacher.example_inputs())
            path = loop.restore_model(teacher, FLAGS.teacher_checkpoint)
            logging.info("Teacher restored from %s.", path)
            stages = make_schedule(FLAGS.distill_strategy, config.num_layers,
                                   FLAGS.transfer_steps, FLAGS.pd_steps,
                                   FLAGS.lower_multiplier, FLAGS.learning_rate,
                                   FLAGS.warmup_steps, FLAGS.pd_warmup_steps)
            trainer = Distiller(teacher, model, stages, alpha=FLAGS.alpha,
                                temperature=FLAGS.temperature,
                                layer_mapping=FLAGS.layer_mapping,
                                jit_compile=FLAGS.jit_compile,
                                feature_map_transfer=FLAGS.feature_map_transfer,
                                attention_transfer=FLAGS.attention_transfer)
            # A resumed run restores the student over this copy.
            copy_pretraining_weights(teacher, model)
        optimizer = create_optimizer(FLAGS.optimizer, schedule_for_stages(stages),
                                     weight_decay=FLAGS.weight_decay,
                                     clip_norm=FLAGS.clip_norm)
        if FLAGS.mixed_precision == "mixed_float16":
            # Dynamic loss scaling: overflowing steps are skipped instead of applied.
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        trainer.compile(optimizer=optimizer)

    def dataset_fn(skip_batches):
        return pretraining_dataset(FLAGS.train_files, FLAGS.seq_length, FLAGS.max_predictions,
                                   FLAGS.batch_size, seed=FLAGS.seed, skip_batches=skip_batches)

    logs = loop.train(trainer, dataset_fn, strategy, FLAGS.model_dir,
                      checkpoint_every=FLAGS.checkpoint_every, log_every=FLAGS.log_every,
                      exit_after_steps=FLAGS.debug_exit_after_steps,
                      progress=FLAGS.progress_bar)
    logging.info("Done: %s", {k: round(v, 5) for k, v in logs.items()})


def run():
    app.run(main)


if __name__ == "__main__":
    run()
