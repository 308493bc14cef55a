"""`finetune(config)`: fine-tune a task model from an encoder checkpoint, evaluating on dev
as it trains, keeping the best model and writing submission files.

Read top to bottom: task and inputs checked (nothing built yet), data, model and encoder
weights, optimizer, the checkpointed loop of `mobilebert_tf.training.loop` with an
evaluation hook, then the best model's predictions. `tpu/train.py --mode finetune` maps its
flags onto `FinetuneConfig`.

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
import math
import os
import random

import numpy as np
from absl import logging

from mobilebert_tf import fileio
from mobilebert_tf.finetune.tasks import (FinetuneTask, InputError, get_task, load_split,
                                          squad_gold)
from mobilebert_tf.training import loop


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """Everything one fine-tuning run needs. None means the task's default (see `tasks`).

    Args:
        task: a name from `mobilebert_tf.finetune.tasks.TASKS`.
        model_dir: output directory; a run restarted on it resumes.
        preset / overrides: the encoder config (must match `init_checkpoint`).
        init_checkpoint: encoder weights: a directory or prefix written by `--mode teacher`,
            `--mode distill` or `convert_checkpoint`; None trains from random weights.
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
        exit_after_steps: test aid (SIGKILL after that step).
        progress: show a progress bar over the training steps.
    """

    task: str
    model_dir: str
    preset: str = "mobilebert"
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
    progress: bool = False

    def __post_init__(self):
        from mobilebert_tf.data.tokenizer import NORMALIZATIONS
        if self.text_normalization not in NORMALIZATIONS:
            raise InputError(f"text_normalization must be one of {NORMALIZATIONS}; got "
                             f"text_normalization={self.text_normalization!r}.")


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


def restore_encoder(encoder, path: str) -> str:
    """Load `encoder`'s weights (built) from a pretraining, distillation or converted
    checkpoint: its `model/encoder` object (pretrainer checkpoints; convert writes it too) or
    a top-level `encoder`. Heads in the checkpoint are ignored; every encoder weight must be
    there with its shape.

    Raises:
        InputError: no checkpoint, no encoder in it, or weights of another shape.
    """
    import tensorflow as tf
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
        raise InputError(f"The encoder in {prefix} does not fit --preset/--overrides "
                         f"({encoder.config.to_dict()}): {e}") from e
    return prefix


def subsample(examples: list, n: int | None, seed: int, balanced: bool = False) -> list:
    """A seeded random subset of `n` examples, class-balanced if asked, in file order."""
    if n is None or n >= len(examples) and not balanced:
        return examples
    rng = random.Random(seed)
    if not balanced:
        keep = set(rng.sample(range(len(examples)), n))
    else:
        by_label: dict = {}
        for i, e in enumerate(examples):
            by_label.setdefault(e.label, []).append(i)
        per_class = min(min(len(v) for v in by_label.values()), n // len(by_label))
        keep = {i for v in by_label.values() for i in rng.sample(v, per_class)}
    return [e for i, e in enumerate(examples) if i in keep]


class _Data:
    """Train/dev/test data of a task, prepared before anything is built."""

    def __init__(self, task: FinetuneTask, config: FinetuneConfig, tokenizer, seq_length):
        read = dict(data_dir=config.data_dir, use_tfds=config.use_tfds,
                    tfds_data_dir=config.tfds_data_dir, manual_dir=config.tfds_manual_dir)
        self.task = task
        if task.kind == "span":
            from mobilebert_tf.data import squad
            from mobilebert_tf.finetune.evaluation import SquadEvalSet

            def features(examples):
                return squad.create_squad_features(examples, tokenizer, seq_length,
                                                   config.doc_stride, config.max_query_length)

            train, _ = load_split(task, "train", **read)
            train = subsample(train, config.max_train_examples, config.seed)
            self.train = features(train)
            dev, gold = load_split(task, "validation", **read)
            if config.max_eval_examples:
                dev = subsample(dev, config.max_eval_examples, config.seed)
                gold = squad_gold(dev)
            self.evals = {"validation": SquadEvalSet(dev, features(dev), gold)}
            self.tests = {}
            self.num_train = len(self.train)
        else:
            train = load_split(task, "train", **read)
            self.train = subsample(train, config.max_train_examples, config.seed,
                                   config.balance_classes)
            self.evals = {s: subsample(load_split(task, s, **read), config.max_eval_examples,
                                       config.seed, config.balance_classes)
                          for s in task.eval_splits}
            self.tests = {s: t for s in task.test_splits
                          if (t := load_split(task, s, **read)) is not None}
            self.num_train = len(self.train)
        if not self.num_train:
            raise InputError(f"No {task.name} training examples.")

    def train_dataset(self, tokenizer, seq_length, global_batch_size, seed, context, step):
        """This input pipeline's per-replica batches from `step` on. Every pipeline builds
        the one stream of per-replica batches (the examples are in memory) and takes every
        P-th, so any number of pipelines trains on the same global batches.
        Skipping costs time linear in `step` (in-memory examples, not records)."""
        batch_size = context.get_per_replica_batch_size(global_batch_size)
        dataset = self._per_replica_batches(tokenizer, seq_length, batch_size, seed)
        dataset = dataset.skip(step * context.num_replicas_in_sync)
        return dataset.shard(context.num_input_pipelines, context.input_pipeline_id)

    def _per_replica_batches(self, tokenizer, seq_length, batch_size, seed):
        if self.task.kind == "span":
            from mobilebert_tf.data.squad import squad_dataset
            dataset = squad_dataset(self.train, batch_size, shuffle=True, seed=seed,
                                    repeat=True, drop_remainder=True)
        else:
            from mobilebert_tf.data.classification import classification_dataset
            dataset = classification_dataset(
                self.train, tokenizer, batch_size, seq_length, shuffle=True, seed=seed,
                repeat=True, drop_remainder=True,
                is_regression=self.task.kind == "regression")
        return dataset


def _check_vocab(tokenizer, model_config, vocab_file) -> None:
    size = len(tokenizer.vocab.tokens)
    if size != model_config.vocab_size:
        raise InputError(f"The vocab {vocab_file or '(BERT uncased)'} has {size} tokens but "
                         f"the model config has vocab_size={model_config.vocab_size}; pass the "
                         "vocab the checkpoint was trained with, or fix --overrides.")


def finetune(config: FinetuneConfig, strategy=None) -> FinetuneResult:
    """Fine-tune, evaluate every `eval_every` steps, keep the best, write predictions.

    Args:
        config: a `FinetuneConfig`.
        strategy: a `tf.distribute.Strategy` (default: the default strategy).

    Raises:
        InputError: bad task, files, checkpoint or vocab, before any step.
        FloatingPointError: a non-finite loss (the loop's NaN guard).
    """
    # Inputs first: nothing is built until they are known to be usable.
    task = get_task(config.task)
    if config.init_checkpoint:
        fileio.checkpoint_prefix(config.init_checkpoint, "init_checkpoint")
    import tensorflow as tf
    import tf_keras as keras

    from mobilebert_tf.config import get_preset
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    from mobilebert_tf.encoder import build_encoder
    from mobilebert_tf.finetune import evaluation
    from mobilebert_tf.finetune.trainer import FinetuneTrainer, finetune_stage
    from mobilebert_tf.models import MobileBertClassifier, MobileBertSpanLabeler
    from mobilebert_tf.training.optimizer import create_optimizer, warmup_linear_decay

    seq_length = config.seq_length or task.seq_length
    batch_size = config.batch_size or task.batch_size
    eval_batch_size = config.eval_batch_size or batch_size
    model_config = get_preset(config.preset, **config.overrides)
    if seq_length > model_config.max_position:
        raise InputError(f"seq_length {seq_length} exceeds the model's max_position "
                         f"{model_config.max_position}.")
    try:
        tokenizer = BertInputTokenizer(config.vocab_file, seq_length=seq_length,
                                       normalization=config.text_normalization)
    except (OSError, ValueError) as e:
        raise InputError(f"Cannot load the vocab {config.vocab_file!r}: {e}") from e
    _check_vocab(tokenizer, model_config, config.vocab_file)
    data = _Data(task, config, tokenizer, seq_length)
    try:  # inputs are usable: the output directory next (a missing bucket fails here)
        tf.io.gfile.makedirs(config.model_dir)
    except tf.errors.OpError as e:
        raise InputError(f"Cannot create --model_dir {config.model_dir!r}: {e.message}") from None
    epochs = config.epochs if config.epochs is not None else task.epochs
    steps_per_epoch = max(data.num_train // batch_size, 1)
    steps = config.steps or max(int(math.ceil(epochs * steps_per_epoch)), 1)
    warmup = (config.warmup_steps if config.warmup_steps is not None
              else int(config.warmup_proportion * steps))
    eval_every = config.eval_every or steps_per_epoch
    learning_rate = config.learning_rate or task.learning_rate
    logging.info("Fine-tuning %s: %d train %s, %d steps (batch %d, seq %d, LR %g, warm-up %d), "
                 "dev every %d steps.", task.name, data.num_train,
                 "features" if task.kind == "span" else "examples", steps, batch_size,
                 seq_length, learning_rate, warmup, eval_every)

    # Model, encoder weights, optimizer.
    strategy = strategy or tf.distribute.get_strategy()
    if batch_size % strategy.num_replicas_in_sync:
        raise InputError(f"batch_size {batch_size} does not split over "
                         f"{strategy.num_replicas_in_sync} replicas.")
    keras.utils.set_random_seed(config.seed)  # the head's initialization
    with strategy.scope():
        encoder = build_encoder(model_config)
        if task.kind == "span":
            model = MobileBertSpanLabeler(encoder)
        else:
            model = MobileBertClassifier(encoder, task.num_classes, dropout=config.dropout)
        model(model.example_inputs())
        if config.init_checkpoint:
            logging.info("Encoder restored from %s.", restore_encoder(encoder,
                                                                        config.init_checkpoint))
        else:
            logging.warning("No init checkpoint: fine-tuning from random weights.")
        stage = finetune_stage(steps, learning_rate, warmup)
        trainer = FinetuneTrainer(model, task.kind, stage, jit_compile=config.jit_compile,
                                  seed=config.seed)
        optimizer = create_optimizer("adamw", warmup_linear_decay(learning_rate, steps, warmup),
                                     weight_decay=config.weight_decay,
                                     clip_norm=config.clip_norm)
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        trainer.compile(optimizer=optimizer)

    # Evaluation hook: dev metrics, history, best model.
    tracker = _BestTracker(config.model_dir, task, model)
    dev_inputs = {s: (evaluation.squad_inputs(d.features) if task.kind == "span"
                      else evaluation.tokenize_examples(d, tokenizer, seq_length))
                  for s, d in data.evals.items()}
    cache = {}

    def evaluate():
        results, outputs_by_split = {}, {}
        for i, (split, inputs) in enumerate(dev_inputs.items()):
            outputs, cache["fn"] = evaluation.predict(model, inputs, eval_batch_size, strategy,
                                                      cache.get("fn"))
            outputs_by_split[split] = outputs
            if task.kind == "span":
                values, _, _ = evaluation.squad_evaluate(
                    task, data.evals[split], outputs, config.n_best_size,
                    config.max_answer_length, config.null_score_diff_threshold)
            else:
                values = evaluation.classification_metrics(
                    task, evaluation.classification_predictions(task, outputs),
                    [e.label for e in data.evals[split]])
            prefix = "" if i == 0 else split.replace("validation_", "") + "_"
            results.update({prefix + k: float(v) for k, v in values.items()})
        return results, outputs_by_split

    def evaluate_and_record(step):
        results, _ = evaluate()
        tracker.record(step, results)

    def dataset_fn(context, resume):
        return data.train_dataset(tokenizer, seq_length, batch_size, config.seed, context,
                                  resume.step)

    logs = loop.train(trainer, dataset_fn, strategy, config.model_dir,
                      checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                      steps_per_loop=config.steps_per_loop,
                      exit_after_steps=config.exit_after_steps,
                      hooks=[loop.Every(eval_every, evaluate_and_record)],
                      progress=config.progress)
    logging.info("Training done: %s", {k: round(v, 5) for k, v in logs.items()})
    if not tracker.history:  # resumed a finished run that never evaluated
        tracker.record(steps, evaluate()[0])

    # The best model: .keras, dev and test predictions, results, plot.
    tracker.restore_best()
    files = {"keras": os.path.join(config.model_dir, "best", "model.keras")}
    model.save(files["keras"])
    best_results, dev_outputs = evaluate()
    files.update(_write_predictions(task, data, dev_outputs, config, model, tokenizer,
                                    seq_length, eval_batch_size, strategy, cache))
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


class _BestTracker:
    """Evaluation history and the best model so far, both surviving a restart."""

    def __init__(self, model_dir: str, task: FinetuneTask, model):
        import tensorflow as tf
        self.task, self.model = task, model
        self.best_dir = os.path.join(model_dir, "best")
        self.history_path = os.path.join(model_dir, "eval_history.json")
        self.checkpoint = tf.train.Checkpoint(model=model)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.best_dir, max_to_keep=1)
        self.writer = tf.summary.create_file_writer(os.path.join(model_dir, "summaries", "eval"))
        self.history, self.best_score, self.best_step = [], -math.inf, 0
        state = tf.train.get_checkpoint_state(model_dir)
        resumed_at = int(state.model_checkpoint_path.rsplit("-", 1)[1]) if state else 0
        if tf.io.gfile.exists(self.history_path):  # evaluations after the resumed step are redone
            self.history = [h for h in fileio.read_json(self.history_path)
                            if h["step"] <= resumed_at]
        best_path = os.path.join(self.best_dir, "best.json")
        if tf.io.gfile.exists(best_path) and self.manager.latest_checkpoint:
            best = fileio.read_json(best_path)
            self.best_score, self.best_step = best["score"], best["step"]

    def record(self, step: int, results: dict) -> None:
        import tensorflow as tf
        score = results[self.task.score]
        self.history.append({"step": step, **results})
        fileio.write_json(self.history_path, self.history, indent=1)
        with self.writer.as_default(step=step):
            for name, value in results.items():
                tf.summary.scalar(f"dev/{name}", value)
        self.writer.flush()
        improved = score > self.best_score
        if improved:
            self.best_score, self.best_step = score, step
            self.manager.save(checkpoint_number=step)
            fileio.write_json(os.path.join(self.best_dir, "best.json"),
                              {"step": step, "score": score, "metrics": results}, indent=1)
        logging.info("dev @ step %d: %s%s", step,
                     ", ".join(f"{k} {v:.4f}" for k, v in results.items()),
                     " (best)" if improved else "")

    def restore_best(self) -> None:
        self.checkpoint.restore(self.manager.latest_checkpoint).expect_partial() \
            .assert_existing_objects_matched()


def _write_predictions(task, data, dev_outputs, config, model, tokenizer, seq_length,
                       batch_size, strategy, cache) -> dict:
    """Submission files of the best model: dev (and test when there is one)."""
    from mobilebert_tf.finetune import evaluation, predictions as writers
    out_dir = os.path.join(config.model_dir, "predictions")
    files = {}
    if task.kind == "span":
        _, answers, null_odds = evaluation.squad_evaluate(
            task, data.evals["validation"], dev_outputs["validation"], config.n_best_size,
            config.max_answer_length, config.null_score_diff_threshold)
        files["predictions"] = fileio.write_json(os.path.join(out_dir, "predictions.json"),
                                                 answers)
        if null_odds is not None:
            files["null_odds"] = fileio.write_json(os.path.join(out_dir, "null_odds.json"),
                                                   null_odds)
        return files
    names = dict(task.submission_names)
    splits = {**{s: (examples, dev_outputs[s]) for s, examples in data.evals.items()},
              **{s: (examples, None) for s, examples in data.tests.items()}}
    for split, (examples, outputs) in splits.items():
        if outputs is None:
            inputs = evaluation.tokenize_examples(examples, tokenizer, seq_length)
            outputs, cache["fn"] = evaluation.predict(model, inputs, batch_size, strategy,
                                                      cache.get("fn"))
        kind = "test" if split.startswith("test") else "dev"
        path = os.path.join(out_dir, kind, f"{names.get(split, task.name)}.tsv")
        files[f"{split}_tsv"] = writers.write_glue_tsv(
            path, writers.example_indices(examples),
            evaluation.classification_predictions(task, outputs), task.labels,
            task.kind == "regression")
    return files


def plot_history(history: list, metric: str, path: str, title: str = "",
                 baseline: float | None = None) -> str:
    """A PNG of `metric` over steps (and an optional dashed baseline); returns `path`."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([h["step"] for h in history], [h[metric] for h in history], "o-", label=metric)
    if baseline is not None:
        ax.axhline(baseline, ls="--", color="gray", label=f"baseline {baseline:.3f}")
    ax.set_xlabel("step")
    ax.set_ylabel(f"dev {metric}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fileio.write_figure(fig, path, dpi=100)
    plt.close(fig)
    return path
