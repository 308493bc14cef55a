"""`finetune(config)`: fine-tune a task model from an encoder checkpoint, evaluating on dev
as it trains, keeping the best model and writing submission files.

Read top to bottom: config (validated when made, task defaults filled in), inputs checked
(checkpoint, vocab, data; nothing built yet), the task's kind (`kinds`: head, data, metrics,
files) reading its data, model and encoder weights, optimizer, the checkpointed loop of
`mobilebert_tf.training.loop` with the dev evaluation (`tracker`) as a hook, then the best
model's predictions. Nothing here branches on the kind of task. `mobilebert-train --mode
finetune` maps its flags onto `FinetuneConfig`.

What lands in `model_dir`:
    ckpt-N*, summaries/          the loop's checkpoints (resume) and train summaries
    summaries/eval/              dev metrics per evaluation
    best/ckpt-N*, best/model.keras, best/best.json   the best dev score's model
    eval_history.json            every evaluation: step and metrics
    dev_{score}.png              the score over steps
    eval_results.json            best step, best metrics, final metrics
    predictions/                 GLUE `{Task}.tsv` (dev and, when there is a test file, test),
                                 SQuAD `predictions.json` (+ `null_odds.json` for v2.0)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os

import tensorflow as tf
import tf_keras as keras
from absl import logging

from mobilebert_tf import fileio
from mobilebert_tf.config import MobileBertConfig
from mobilebert_tf.data.tokenizer import NORMALIZATIONS, BertInputTokenizer
from mobilebert_tf.data.vocab import check_vocab_size
from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.errors import InputError, check
from mobilebert_tf.finetune.evaluation import Predictor
from mobilebert_tf.finetune.kinds import SampleSettings, SpanSettings, TaskKind, make_kind
from mobilebert_tf.finetune.tasks import DataSource, get_task
from mobilebert_tf.finetune.tracker import BestTracker, plot_history
from mobilebert_tf.finetune.trainer import FinetuneTrainer, finetune_stage
from mobilebert_tf.stored_config import (check_owner, read_model_config, resolve_model_config,
                                         write_model_config)
from mobilebert_tf.training import loop
from mobilebert_tf.training.optimizer import create_optimizer, warmup_linear_decay


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """Everything one fine-tuning run needs. None means the task's default (see `tasks`).
    Checked when made: a bad value raises `InputError` naming the field and the value.

    Args:
        task: a name from `mobilebert_tf.finetune.tasks.TASKS`.
        model_dir: output directory; a run restarted on it resumes; a run of another mode or
            task (its `run_config.json`) is refused there.
        preset / overrides: the encoder config; None: the one stored in `model_dir` by an
            earlier run of it, else with `init_checkpoint` (needed for checkpoints without
            one), else "mobilebert" (random weights). Contradicting a stored config is an
            `InputError`.
        init_checkpoint: encoder weights: a directory or prefix written by `pretrain`,
            `distill` or `convert_checkpoint`; None trains from random weights.
        data_dir: GLUE TSV directory or SQuAD JSON directory (official file names).
        use_tfds / tfds_data_dir / tfds_manual_dir: read through tensorflow-datasets.
        vocab_file: WordPiece vocab (default: BERT uncased); its size must equal the
            config's `vocab_size`.
        text_normalization: "bert" (NFD, accents stripped, case folded) or "device" (ASCII
            lower-casing only, as MediaPipe's and the TFLite Task Library's tokenizers do):
            train and evaluate with "device" a model meant for those runtimes, so they see
            the ids it was trained on (`data.tokenizer.BertInputTokenizer`).
        seq_length, batch_size, learning_rate, epochs: hyper-parameters (task defaults).
        steps: train this many steps instead of `epochs`.
        warmup_proportion / warmup_steps: linear warm-up (steps win when set).
        weight_decay, clip_norm: AdamW's decoupled weight decay, global gradient clip.
        dropout: on the pooled output (classification heads).
        eval_every: steps between dev evaluations (default: once per epoch); always at the
            last step too.
        eval_batch_size: default `batch_size`.
        checkpoint_every, log_every, steps_per_loop: loop cadence (`training.loop.train`).
        max_train_examples / max_eval_examples: seeded random subsets (smoke runs, demo).
        balance_classes: make those subsets class-balanced (majority baseline 1/classes).
        doc_stride, max_query_length, n_best_size, max_answer_length,
            null_score_diff_threshold: SQuAD windowing and answer selection.
        seed: initialization, data order, subsets and dropout masks.
        jit_compile: XLA for forward and backward.
        exit_after_steps / exit_signal: test aid (send the process "KILL" or "TERM" after
            that step).
        progress: show a progress bar over the training steps.
    """

    task: str
    model_dir: str
    preset: str | None = None
    overrides: dict = dataclasses.field(default_factory=dict)
    init_checkpoint: str | None = None
    data_dir: str | None = None
    use_tfds: bool = False
    tfds_data_dir: str | None = None
    tfds_manual_dir: str | None = None
    vocab_file: str | None = None
    text_normalization: str = "bert"
    seq_length: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    epochs: float | None = None
    steps: int | None = None
    warmup_proportion: float = 0.1
    warmup_steps: int | None = None
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    dropout: float = 0.1
    eval_every: int | None = None
    eval_batch_size: int | None = None
    checkpoint_every: int = 1000
    log_every: int = 100
    steps_per_loop: int | None = None
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    balance_classes: bool = False
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0
    seed: int = 0
    jit_compile: bool = False
    exit_after_steps: int | None = None
    exit_signal: str = "KILL"
    progress: bool = False

    def __post_init__(self):
        task = get_task(self.task)  # InputError naming the task and listing the known ones
        check(bool(self.model_dir), "model_dir", self.model_dir, "a directory")
        check(self.exit_signal in loop.EXIT_SIGNALS, "exit_signal", self.exit_signal,
              f"one of {loop.EXIT_SIGNALS}")
        check(self.text_normalization in NORMALIZATIONS, "text_normalization",
              self.text_normalization, f"one of {NORMALIZATIONS}")
        for name in ("checkpoint_every", "log_every", "doc_stride", "max_query_length",
                     "n_best_size", "max_answer_length"):
            value = getattr(self, name)
            check(_is_int(value) and value > 0, name, value, "a positive integer")
        for name in ("seq_length", "batch_size", "steps", "eval_every", "eval_batch_size",
                     "steps_per_loop", "max_train_examples", "max_eval_examples",
                     "exit_after_steps"):
            value = getattr(self, name)
            check(value is None or _is_int(value) and value > 0, name, value,
                  "a positive integer or None")
        check(self.warmup_steps is None or _is_int(self.warmup_steps) and self.warmup_steps >= 0,
              "warmup_steps", self.warmup_steps, "an integer >= 0 or None")
        for name in ("learning_rate", "epochs"):
            value = getattr(self, name)
            check(value is None or value > 0, name, value, "positive or None")
        check(0 <= self.warmup_proportion <= 1, "warmup_proportion", self.warmup_proportion,
              "in [0, 1]")
        check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        check(self.clip_norm > 0, "clip_norm", self.clip_norm, "positive")
        check(0 <= self.dropout < 1, "dropout", self.dropout, "in [0, 1)")
        check(_is_int(self.seed), "seed", self.seed, "an integer")
        object.__setattr__(self, "overrides", dict(self.overrides))
        check_owner(self.model_dir, {"mode": "finetune", "task": self.task}, "model_dir")
        # Read once: stored by an earlier run in model_dir, else with init_checkpoint.
        resumed = read_model_config(self.model_dir) is not None
        source, flag = ((self.model_dir, "model_dir") if resumed or not self.init_checkpoint
                        else (self.init_checkpoint, "init_checkpoint"))
        object.__setattr__(self, "_model_config", resolve_model_config(
            source, self.preset, self.overrides, flag, "preset", "overrides",
            default_preset=None if flag == "init_checkpoint" else "mobilebert"))
        max_position = self.model_config().max_position
        seq_length = self.seq_length or task.seq_length
        check(seq_length <= max_position, "seq_length", seq_length,
              f"at most the model's max_position ({max_position})")

    def model_config(self) -> MobileBertConfig:
        return self._model_config

    def with_task_defaults(self) -> "FinetuneConfig":
        """This config with the task's defaults where a hyper-parameter is None."""
        task = get_task(self.task)
        batch_size = self.batch_size or task.batch_size
        return dataclasses.replace(
            self, seq_length=self.seq_length or task.seq_length, batch_size=batch_size,
            eval_batch_size=self.eval_batch_size or batch_size,
            learning_rate=self.learning_rate or task.learning_rate,
            epochs=self.epochs if self.epochs is not None else task.epochs)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass
class FinetuneResult:
    """What `finetune` returns: `history` is `[{"step": s, **metrics}]` of every evaluation;
    `score` names the metric that chose `best_step`."""

    task: str
    score: str
    best_score: float
    best_step: int
    best_metrics: dict
    history: list
    files: dict


@dataclasses.dataclass(frozen=True)
class _Schedule:
    """Steps, warm-up and evaluation period, once the number of training rows is known."""

    steps: int
    warmup: int
    eval_every: int

    @classmethod
    def of(cls, config: FinetuneConfig, num_train: int) -> "_Schedule":
        steps_per_epoch = max(num_train // config.batch_size, 1)
        steps = config.steps or max(int(math.ceil(config.epochs * steps_per_epoch)), 1)
        warmup = (config.warmup_steps if config.warmup_steps is not None
                  else int(config.warmup_proportion * steps))
        return cls(steps, warmup, config.eval_every or steps_per_epoch)


def finetune(config: FinetuneConfig, strategy=None) -> FinetuneResult:
    """Fine-tune, evaluate every `eval_every` steps, keep the best, write predictions.

    Args:
        config: a `FinetuneConfig`.
        strategy: a `tf.distribute.Strategy` (default: the default strategy).

    Raises:
        InputError: bad checkpoint, vocab, data or model_dir, before any step.
        FloatingPointError: a non-finite loss (the loop's NaN guard).
    """
    # Inputs first: nothing is built until they are known to be usable.
    config = config.with_task_defaults()
    task = get_task(config.task)
    if config.init_checkpoint:
        fileio.checkpoint_prefix(config.init_checkpoint, "init_checkpoint")
    kind = make_kind(task, _tokenizer(config), config.seq_length, SpanSettings(
        config.doc_stride, config.max_query_length, config.n_best_size,
        config.max_answer_length, config.null_score_diff_threshold))
    data = kind.read(DataSource(config.data_dir, config.use_tfds, config.tfds_data_dir,
                                config.tfds_manual_dir),
                     SampleSettings(config.max_train_examples, config.max_eval_examples,
                                    config.seed, config.balance_classes))
    if not data.train:
        raise InputError(f"No {task.name} training examples.")
    _make_model_dir(config.model_dir)
    write_model_config(config.model_dir, config.model_config(),
                       {"mode": "finetune", **dataclasses.asdict(config)})
    schedule = _Schedule.of(config, len(data.train))
    logging.info("Fine-tuning %s: %d train %s, %d steps (batch %d, seq %d, LR %g, warm-up %d), "
                 "dev every %d steps.", task.name, len(data.train), kind.unit, schedule.steps,
                 config.batch_size, config.seq_length, config.learning_rate, schedule.warmup,
                 schedule.eval_every)

    strategy = strategy or tf.distribute.get_strategy()
    if config.batch_size % strategy.num_replicas_in_sync:
        raise InputError(f"batch_size {config.batch_size} does not split over "
                         f"{strategy.num_replicas_in_sync} replicas.")
    model, trainer = _build(config, kind, schedule, strategy)
    predict = Predictor(model, config.eval_batch_size, strategy)
    tracker = BestTracker(config.model_dir, task.score, model,
                          functools.partial(kind.evaluate, data, predict))
    logs = loop.train(trainer, functools.partial(kind.train_dataset, data.train,
                                                 config.batch_size, config.seed),
                      strategy, config.model_dir, checkpoint_every=config.checkpoint_every,
                      log_every=config.log_every, steps_per_loop=config.steps_per_loop,
                      exit_after_steps=config.exit_after_steps,
                      exit_signal=config.exit_signal,
                      hooks=[loop.Every(schedule.eval_every, tracker.evaluate)],
                      progress=config.progress)
    logging.info("Training done: %s", {k: round(v, 5) for k, v in logs.items()})
    if not tracker.history:  # resumed a finished run that never evaluated
        tracker.evaluate(schedule.steps)
    return _finish(config, kind, data, model, tracker, predict)


def _tokenizer(config: FinetuneConfig) -> BertInputTokenizer:
    """The tokenizer of `config.vocab_file`, checked against the model's vocab_size."""
    try:
        tokenizer = BertInputTokenizer(config.vocab_file, seq_length=config.seq_length,
                                       normalization=config.text_normalization)
    except (OSError, ValueError) as e:
        raise InputError(f"Cannot load vocab_file={config.vocab_file!r}: {e}") from e
    check_vocab_size(tokenizer.vocab, config.model_config().vocab_size, "the model config")
    return tokenizer


def _make_model_dir(model_dir: str) -> None:
    try:  # inputs are usable: the output directory next (a missing bucket fails here)
        tf.io.gfile.makedirs(model_dir)
    except tf.errors.OpError as e:
        raise InputError(f"Cannot create model_dir {model_dir!r}: {e.message}") from None


def _build(config: FinetuneConfig, kind: TaskKind, schedule: _Schedule, strategy):
    """The task model (encoder weights restored) and its compiled trainer, in `strategy`."""
    keras.utils.set_random_seed(config.seed)  # the head's initialization
    with strategy.scope():
        encoder = build_encoder(config.model_config())
        model = kind.build_model(encoder, config.dropout)
        if config.init_checkpoint:
            logging.info("Encoder restored from %s.", restore_encoder(encoder,
                                                                        config.init_checkpoint))
        else:
            logging.warning("No init checkpoint: fine-tuning from random weights.")
        trainer = FinetuneTrainer(model, kind.loss, finetune_stage(
            schedule.steps, config.learning_rate, schedule.warmup),
            jit_compile=config.jit_compile, seed=config.seed)
        optimizer = create_optimizer(
            "adamw", warmup_linear_decay(config.learning_rate, schedule.steps, schedule.warmup),
            weight_decay=config.weight_decay, clip_norm=config.clip_norm)
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        trainer.compile(optimizer=optimizer)
    return model, trainer


def restore_encoder(encoder, path: str) -> str:
    """Load `encoder`'s weights (built) from a pretraining, distillation or converted
    checkpoint: its `model/encoder` object (pretrainer checkpoints; convert writes it too) or
    a top-level `encoder`. Heads in the checkpoint are ignored; every encoder weight must be
    there with its shape.

    Raises:
        InputError: no checkpoint, no encoder in it, or weights of another shape.
    """
    prefix = fileio.checkpoint_prefix(path, "init_checkpoint")
    names = sorted(fileio.checkpoint_reader(prefix).get_variable_to_shape_map())
    if any(n.startswith("model/encoder/") for n in names):
        checkpoint = tf.train.Checkpoint(model=tf.train.Checkpoint(encoder=encoder))
    elif any(n.startswith("encoder/") for n in names):
        checkpoint = tf.train.Checkpoint(encoder=encoder)
    else:
        raise InputError(f"{prefix} holds no encoder (no 'model/encoder/' or 'encoder/' "
                         f"variables; found e.g. {names[:5]}).")
    try:
        checkpoint.restore(prefix).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError) as e:
        raise InputError(f"The encoder in {prefix} does not fit preset/overrides "
                         f"({encoder.config.to_dict()}): {e}") from e
    return prefix


def _finish(config: FinetuneConfig, kind: TaskKind, data, model, tracker: BestTracker,
            predict: Predictor) -> FinetuneResult:
    """The best model: .keras, dev and test predictions, results, plot."""
    task = kind.task
    tracker.restore_best()
    files = {"keras": os.path.join(config.model_dir, "best", "model.keras")}
    model.save(files["keras"])
    best_results, dev_outputs = kind.evaluate(data, predict)
    files.update(kind.write_predictions(os.path.join(config.model_dir, "predictions"), data,
                                        dev_outputs, predict))
    files["plot"] = plot_history(tracker.history, task.score,
                                 os.path.join(config.model_dir, f"dev_{task.score}.png"),
                                 title=f"{task.name}: dev {task.score}")
    result = FinetuneResult(task.name, task.score, tracker.best_score, tracker.best_step,
                            best_results, tracker.history, files)
    fileio.write_json(os.path.join(config.model_dir, "eval_results.json"),
                      dataclasses.asdict(result))
    logging.info("Best dev %s %.4f at step %d: %s", task.score, result.best_score,
                 result.best_step, best_results)
    return result
