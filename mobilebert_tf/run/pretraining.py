"""`pretrain(config)` and `distill(config)`: a teacher, or a student from a teacher, trained on
pretraining records under any `tf.distribute` strategy.

Read top to bottom: inputs checked (records, teacher checkpoint, model_dir; nothing built
yet), then models, trainer and optimizer in the strategy's scope, then the checkpointed loop
(`mobilebert_tf.training.loop`) over the one record pipeline
(`mobilebert_tf.data.pretraining_dataset`), each input pipeline reading its own files and
resuming at its checkpointed position.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Sequence

import tensorflow as tf
import tf_keras as keras
from absl import logging

from mobilebert_tf import fileio
from mobilebert_tf.data.pretraining_dataset import (check_record_shapes, list_record_files,
                                                    pretraining_dataset, resume_start,
                                                    unreadable_record_file)
from mobilebert_tf.distillation import Distiller, copy_pretraining_weights, make_schedule
from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.errors import InputError
from mobilebert_tf.models import MobileBertPretrainer
from mobilebert_tf.run.configs import DistillConfig, PretrainConfig, RecordTrainingConfig
from mobilebert_tf.stored_config import write_model_config
from mobilebert_tf.training import loop
from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages
from mobilebert_tf.training.pretraining import PretrainingTrainer, pretraining_stage
from mobilebert_tf.training.trainer import StagedTrainer


# `hooks(trainer)` -> the `loop.Every` / `loop.AtStageEnds` hooks of a run, given its built
# trainer (e.g. to evaluate the model being trained at stage ends).
Hooks = Callable[[StagedTrainer], Sequence[loop.Every | loop.AtStageEnds]]


def pretrain(config: PretrainConfig, strategy: tf.distribute.Strategy | None = None,
             hooks: Hooks | None = None, record_files: list[str] | None = None) -> dict:
    """MLM + NSP pretraining of `config.preset`; resumes from `config.model_dir`. `hooks`:
    see `Hooks`. `record_files`: what `check_inputs(config)` returned, when the caller checked
    them before making `strategy` (else they are checked here).

    Returns:
        The last step's logs (floats) and "step".

    Raises:
        InputError: records, model_dir or batch size unusable, before anything is built.
        FloatingPointError: a non-finite loss (the last good checkpoint is kept).
    """
    model_config = config.model_config()
    stages = _stages(lambda: [pretraining_stage(model_config.num_layers, config.steps,
                                                config.learning_rate, config.warmup_steps)])

    def build():
        model = _pretrainer(model_config)
        return PretrainingTrainer(model, stages, jit_compile=config.jit_compile,
                                  training=config.dropout, seed=config.seed)

    return _train(config, strategy, build, hooks, record_files)


def distill(config: DistillConfig, strategy: tf.distribute.Strategy | None = None,
            hooks: Hooks | None = None, record_files: list[str] | None = None) -> dict:
    """Distill `config.preset` from the teacher at `config.teacher_checkpoint`: embeddings and
    heads copied from the teacher, then `config.distill_strategy`'s stages; resumes from
    `config.model_dir` (the student's checkpoints; the teacher is never saved).

    Returns / Raises: as `pretrain`; also InputError when there is no teacher checkpoint.
    """
    teacher_path = fileio.checkpoint_prefix(config.teacher_checkpoint, "teacher_checkpoint")
    model_config = config.model_config()
    stages = _stages(lambda: make_schedule(
        config.distill_strategy, model_config.num_layers, config.transfer_steps,
        config.pd_steps, config.lower_multiplier, config.learning_rate, config.warmup_steps,
        config.pd_warmup_steps))

    def build():
        student = _pretrainer(model_config)
        teacher = _pretrainer(config.teacher_config(), name="teacher")
        loop.restore_model(teacher, teacher_path)
        logging.info("Teacher restored from %s.", teacher_path)
        trainer = Distiller(teacher, student, stages, alpha=config.alpha,
                            temperature=config.temperature, layer_mapping=config.layer_mapping,
                            jit_compile=config.jit_compile,
                            feature_map_transfer=config.feature_map_transfer,
                            attention_transfer=config.attention_transfer)
        # A resumed run restores the student over this copy.
        copy_pretraining_weights(teacher, student)
        return trainer

    return _train(config, strategy, build, hooks, record_files)


def _run_config(config: RecordTrainingConfig) -> dict:
    """`run_config.json`: the mode, every field, and the teacher's model config (distill)."""
    extra = ({"teacher_model_config": config.teacher_config().to_dict()}
             if isinstance(config, DistillConfig) else {})
    return {"mode": config.MODE, **dataclasses.asdict(config), **extra}


def _stages(make: Callable[[], list]) -> list:
    try:
        return make()
    except ValueError as e:
        raise InputError(f"Bad schedule: {e}") from None


def _pretrainer(model_config, name: str | None = None) -> MobileBertPretrainer:
    kwargs = {"name": name} if name else {}
    model = MobileBertPretrainer(build_encoder(model_config), **kwargs)
    model(model.example_inputs())
    return model


@contextlib.contextmanager
def precision_policy(name: str):
    """The Keras mixed-precision policy `name` while the block runs."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def check_model_dir(model_dir: str) -> None:
    """Create `model_dir` (any TF filesystem), or `InputError` saying why it cannot be."""
    try:
        tf.io.gfile.makedirs(model_dir)
    except tf.errors.OpError as e:
        raise InputError(f"Cannot create model_dir {model_dir!r}: {e.message}") from None


def check_inputs(config: RecordTrainingConfig) -> list[str]:
    """The record files of `config`, the first record of each checked, and its model_dir
    created: what a run reads and writes, checked without a device, so a caller can do it
    before it connects a TPU or a cluster. Raises InputError naming the file or directory."""
    files = list_record_files(config.train_files)
    check_record_shapes(files, config.seq_length, config.max_predictions)
    check_model_dir(config.model_dir)
    return files


def _train(config: RecordTrainingConfig, strategy: tf.distribute.Strategy | None,
           build: Callable[[], StagedTrainer], hooks: Hooks | None = None,
           record_files: list[str] | None = None) -> dict:
    files = record_files or check_inputs(config)
    strategy = strategy or tf.distribute.get_strategy()
    if loop.is_chief(strategy):  # one writer on a shared model_dir
        write_model_config(config.model_dir, config.model_config(), _run_config(config))
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise InputError(f"batch_size {config.batch_size} does not split over {replicas} "
                         "replicas.")
    logging.info("Strategy %s with %d replica(s); global batch %d; %d record files.",
                 type(strategy).__name__, replicas, config.batch_size, len(files))

    keras.utils.set_random_seed(config.seed)
    with precision_policy(config.mixed_precision), strategy.scope():
        trainer = build()
        optimizer = create_optimizer(config.optimizer, schedule_for_stages(trainer.stages),
                                     weight_decay=config.weight_decay,
                                     clip_norm=config.clip_norm)
        if config.mixed_precision == "mixed_float16":
            # Dynamic loss scaling: overflowing steps are skipped instead of applied.
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        trainer.compile(optimizer=optimizer)

    def dataset_fn(context, resume):
        return pretraining_dataset(
            files, config.seq_length, config.max_predictions, config.batch_size,
            input_context=context, seed=config.seed,
            start=resume_start(resume.positions, context), with_position=True,
            files_per_window=config.files_per_window)

    options = (tf.distribute.InputOptions(
        experimental_replication_mode=tf.distribute.InputReplicationMode.PER_REPLICA)
        if config.per_replica_input else None)
    try:
        with precision_policy(config.mixed_precision):
            logs = loop.train(trainer, dataset_fn, strategy, config.model_dir,
                              checkpoint_every=config.checkpoint_every,
                              log_every=config.log_every, steps_per_loop=config.steps_per_loop,
                              exit_after_steps=config.exit_after_steps,
                              exit_signal=config.exit_signal, progress=config.progress,
                              input_options=options, hooks=hooks(trainer) if hooks else ())
    except tf.errors.DataLossError as e:  # TensorFlow's message names no file: find it
        logging.info("A record does not read (%s); looking for its file.", e.message)
        path, message = unreadable_record_file(files) or ("A file of train_files", e.message)
        raise InputError(f"{path}: truncated or corrupt record ({message}). Stopped; the last "
                         f"checkpoint in {config.model_dir} is kept: replace or leave out "
                         "that file and run again.") from None
    logging.info("Done: %s", {k: round(v, 5) for k, v in logs.items()})
    return logs
