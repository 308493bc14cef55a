"""The checkpointed training loop: one code path for CPU, GPU and TPU under `tf.distribute`.

Read top to bottom: restore (step, hence stage and data position), then for each remaining
stage build one step function, run its steps with logs, summaries, NaN guard and periodic
checkpoints.
"""

from __future__ import annotations

import math
import os
import signal
import time
from typing import Callable

import tensorflow as tf
import tqdm
from absl import logging

from mobilebert_tf.distillation.schedule import stage_at, total_steps
from mobilebert_tf.training.trainer import StagedTrainer


def create_optimizer_slots(trainer: StagedTrainer) -> None:
    """Create every optimizer slot up front (in the strategy's scope), so a checkpoint
    restores them immediately and no stage's step function creates variables."""
    optimizer = trainer._inner_optimizer()
    optimizer._create_all_weights(trainer.model.trainable_variables)


def make_checkpoint(trainer: StagedTrainer, step: tf.Variable) -> tf.train.Checkpoint:
    """The student/model, its optimizer and the step. The teacher is not in it."""
    return tf.train.Checkpoint(model=trainer.model, optimizer=trainer.optimizer, step=step)


def _format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def train(trainer: StagedTrainer, dataset_fn: Callable[[int], tf.data.Dataset],
          strategy: tf.distribute.Strategy, model_dir: str, checkpoint_every: int = 1000,
          log_every: int = 100, max_to_keep: int = 3,
          exit_after_steps: int | None = None,
          after_step: Callable[[int], None] | None = None, progress: bool = False) -> dict:
    """Train `trainer` (compiled, built in `strategy.scope()`) through all its stages.

    Args:
        dataset_fn: `skip_batches -> dataset` of *global* batches in a fixed order; the loop
            passes the restored step so a restarted run reads on from where it stopped.
        model_dir: Checkpoints (`tf.train.CheckpointManager`) and `summaries/`.
        checkpoint_every: Save every this many steps (and at the end).
        exit_after_steps: Test aid: SIGKILL this process after that many steps.
        after_step: Called with the step number after every step, once that step's logs,
            summaries and checkpoint are written (fine-tuning evaluates here).
        progress: Show a progress bar (tqdm, on stderr) over all stages' steps.

    Returns:
        The last step's logs as floats, plus `"step"`.

    Raises:
        FloatingPointError: a loss term is NaN or Inf; nothing is saved for that step, so the
            last checkpoint in `model_dir` is the last good one.
    """
    stages = trainer.stages
    last_step = total_steps(stages)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    with strategy.scope():
        create_optimizer_slots(trainer)
    checkpoint = make_checkpoint(trainer, step)
    manager = tf.train.CheckpointManager(checkpoint, model_dir, max_to_keep=max_to_keep)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logging.info("Restored %s at step %d.", manager.latest_checkpoint, int(step))
    start = int(step)
    if start >= last_step:
        logging.info("Already at step %d of %d; nothing to do.", start, last_step)
        return {"step": start}
    iterator = iter(strategy.experimental_distribute_dataset(dataset_fn(start)))
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "summaries"))
    logs, t0, steps_timed = {}, time.time(), 0
    bar = tqdm.tqdm(total=last_step, initial=start, unit="step", disable=not progress,
                    dynamic_ncols=True)
    stage_index, local = stage_at(stages, start)
    while int(step) < last_step:
        stage = stages[stage_index]
        trainer.set_stage(stage_index)

        @tf.function
        def step_fn(iterator):
            per_replica = strategy.run(trainer.train_step, args=(next(iterator),))
            # train_step returns global values on every replica; take the first.
            return {k: strategy.experimental_local_results(v)[0]
                    for k, v in per_replica.items()}

        logging.info("Stage %d/%d %r: %d steps from step %d.", stage_index + 1, len(stages),
                     stage.name, stage.steps - local, int(step))
        for _ in range(stage.steps - local):
            logs = {k: float(v) for k, v in step_fn(iterator).items()}
            current = int(step) + 1
            bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
            if bad:
                raise FloatingPointError(
                    f"Non-finite loss at step {current} (stage {stage.name!r}): {bad}. "
                    f"Stopped without saving; last good checkpoint: "
                    f"{manager.latest_checkpoint}.")
            step.assign(current)
            steps_timed += 1
            bar.update()
            if current % 10 == 0 or current == last_step:
                bar.set_postfix_str(f"{stage.name} loss {logs['loss']:.3f}", refresh=False)
            with writer.as_default(step=current):
                for name, value in logs.items():
                    tf.summary.scalar(name if name == "learning_rate" else f"loss/{name}",
                                      value)
            if current % log_every == 0 or current == last_step:
                rate = steps_timed / max(time.time() - t0, 1e-9)
                logging.info("step %d/%d [%s] loss %.4f lr %.3g | %.2f steps/s, ETA %s",
                             current, last_step, stage.name, logs["loss"],
                             logs["learning_rate"], rate,
                             _format_seconds((last_step - current) / max(rate, 1e-9)))
            if current % checkpoint_every == 0 or current == last_step:
                manager.save(checkpoint_number=current)
            if after_step is not None:
                after_step(current)
            if exit_after_steps is not None and current >= exit_after_steps:
                writer.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        stage_index, local = stage_index + 1, 0
    bar.close()
    writer.flush()
    return {**logs, "step": int(step)}


def restore_model(model, checkpoint_path: str) -> str:
    """Restore a model saved by `train` (the `model` object of its checkpoints) from a
    checkpoint prefix or a directory (its latest checkpoint). Returns the path used."""
    path = checkpoint_path
    if tf.io.gfile.isdir(checkpoint_path):
        path = tf.train.latest_checkpoint(checkpoint_path)
    if not path or not (tf.io.gfile.exists(path + ".index")):
        raise FileNotFoundError(f"No checkpoint at {checkpoint_path!r}.")
    status = tf.train.Checkpoint(model=model).restore(path)
    status.expect_partial().assert_existing_objects_matched()
    return path


__all__ = ["create_optimizer_slots", "make_checkpoint", "restore_model", "train"]
