"""The checkpointed training loop: one code path for CPU, GPU, multi-worker and TPU.

Read top to bottom: restore (step, hence stage, and data positions), then for each remaining
stage build one step function and call it host loop after host loop: each call runs up to
`steps_per_loop` steps on the devices and returns once; logs, summaries, the NaN guard,
checkpoints and hooks run between calls. Every path may be any TensorFlow filesystem URL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import threading
import time
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
import tqdm
from absl import logging

from mobilebert_tf import fileio
from mobilebert_tf.data.pretraining_dataset import POSITION_KEY
from mobilebert_tf.errors import InputError, Stopped
from mobilebert_tf.training.stage import stage_at, stage_ends
from mobilebert_tf.training.trainer import StagedTrainer

POSITIONS_VARIABLE = "data_positions/.ATTRIBUTES/VARIABLE_VALUE"


@dataclasses.dataclass(frozen=True)
class Resume:
    """Where a run restarts: the optimizer step, and the data position each replica had
    reached (`[replicas, 3]` of `POSITION_KEY` values; None when the data carries none)."""

    step: int = 0
    positions: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Every:
    """A hook: `fn(step)` after every `steps`-th step and after the last step."""

    steps: int
    fn: Callable[[int], None]

    def due(self, step: int, ends: Sequence[int]) -> bool:
        return step % self.steps == 0 or step == ends[-1]


@dataclasses.dataclass(frozen=True)
class AtStageEnds:
    """A hook: `fn(step)` after the last step of every stage (stage ends end host loops
    anyway, so this adds no host-loop boundary)."""

    fn: Callable[[int], None]

    def due(self, step: int, ends: Sequence[int]) -> bool:
        return step in ends


# `dataset_fn(input_context, resume)` -> this input pipeline's dataset of per-replica batches,
# continuing the run's data order at `resume`.
DatasetFn = Callable[[tf.distribute.InputContext, Resume], tf.data.Dataset]


def create_optimizer_slots(trainer: StagedTrainer) -> None:
    """Create every optimizer slot up front (in the strategy's scope), so a checkpoint
    restores them immediately and no stage's step function creates variables."""
    optimizer = trainer._inner_optimizer()
    optimizer._create_all_weights(trainer.model.trainable_variables)


def make_checkpoint(trainer: StagedTrainer, step: tf.Variable, **extra) -> tf.train.Checkpoint:
    """The student/model, its optimizer and the step. The teacher is not in it."""
    return tf.train.Checkpoint(model=trainer.model, optimizer=trainer.optimizer, step=step,
                               **extra)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints and summaries (multi-worker: worker 0 or the
    chief; everything else: yes)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type or isinstance(
            strategy, tf.distribute.TPUStrategy):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def default_steps_per_loop(strategy: tf.distribute.Strategy) -> int:
    """Steps per host call when none is given: 100 on TPU, where every call is a host-device
    round trip that leaves the chip idle (the authors' TPUEstimator ran 1000); 1 elsewhere,
    where a step's dispatch costs little next to the step and logs stay per step."""
    return 100 if isinstance(strategy, tf.distribute.TPUStrategy) else 1


def _format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def _read_positions(prefix: str) -> np.ndarray | None:
    reader = fileio.checkpoint_reader(prefix)
    return reader.get_tensor(POSITIONS_VARIABLE) if reader.has_tensor(POSITIONS_VARIABLE) \
        else None


def _loop_ends(start: int, steps_per_loop: int, boundaries: Sequence[int],
               periods: Sequence[int]) -> int:
    """Where the host loop from `start` ends: after `steps_per_loop` steps, or earlier at
    the next boundary (stage ends, exit step) or multiple of a period (checkpoints, hooks)."""
    end = min([start + steps_per_loop] + [b for b in boundaries if b > start])
    for period in periods:
        end = min(end, (start // period + 1) * period)
    return end


def step_function(trainer: StagedTrainer, strategy: tf.distribute.Strategy):
    """A `tf.function(iterator, num_steps)` running `num_steps` steps; returns the last
    step's logs (global values) and the index of the first step with a non-finite log (-1:
    none). Traced once per stage (`trainer.set_stage` first): `num_steps` is a tensor."""

    def replica_step(batch):
        position = None
        if isinstance(batch, dict) and POSITION_KEY in batch:
            batch = dict(batch)
            position = batch.pop(POSITION_KEY)
        logs = trainer.train_step(batch)
        if position is not None:  # every replica's position, so the chief can save them all
            logs[POSITION_KEY] = tf.distribute.get_replica_context().all_gather(
                position[None], axis=0)
        return logs

    def one_step(iterator, index, first_bad):
        per_replica = strategy.run(replica_step, args=(next(iterator),))
        # train_step returns global values on every replica; take the first.
        logs = {k: strategy.experimental_local_results(v)[0] for k, v in per_replica.items()}
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(v))
                                for k, v in logs.items() if k != POSITION_KEY])
        first_bad = tf.where((first_bad < 0) & tf.logical_not(finite), index, first_bad)
        return logs, first_bad

    @tf.function
    def run_steps(iterator, num_steps):
        logs, first_bad = one_step(iterator, 0, tf.constant(-1))
        for index in tf.range(1, num_steps):
            logs, first_bad = one_step(iterator, index, first_bad)
        return logs, first_bad

    return run_steps


EXIT_SIGNALS = ("KILL", "TERM")  # of the `exit_after_steps` test aid


def train(trainer: StagedTrainer, dataset_fn: DatasetFn, strategy: tf.distribute.Strategy,
          model_dir: str, checkpoint_every: int = 1000, log_every: int = 100,
          steps_per_loop: int | None = None, max_to_keep: int = 3,
          exit_after_steps: int | None = None, hooks: Sequence[Every | AtStageEnds] = (),
          progress: bool = False, input_options: tf.distribute.InputOptions | None = None,
          exit_signal: str = "KILL") -> dict:
    """Train `trainer` (compiled, built in `strategy.scope()`) through all its stages.

    Args:
        dataset_fn: see `DatasetFn`; called per input pipeline by
            `strategy.distribute_datasets_from_function`. Batches that carry `POSITION_KEY`
            have their positions checkpointed, and a restarted run passes them back.
        model_dir: Checkpoints (`tf.train.CheckpointManager`) and `summaries/`.
        checkpoint_every: Save every this many steps (and at the end).
        log_every: Log a line when a host loop passes a multiple of this.
        steps_per_loop: Steps per host call (default: `default_steps_per_loop`). A loop also
            ends at every stage end, checkpoint, hook step and `exit_after_steps`, so those
            happen exactly where asked, whatever this is.
        exit_after_steps: Test aid: send `exit_signal` ("KILL" or "TERM") to this process
            after that many steps.
        hooks: `Every(steps, fn)` or `AtStageEnds(fn)`: `fn(step)` once that step's logs,
            summaries and checkpoint are written (fine-tuning evaluates here).
        progress: Show a progress bar (tqdm, on stderr) over all stages' steps.
        input_options: passed to `distribute_datasets_from_function`.

    Returns:
        The last step's logs as floats, plus `"step"`.

    Raises:
        FloatingPointError: a loss term is NaN or Inf; nothing of that host loop is saved,
            so the last checkpoint in `model_dir` is the last good one.
        Stopped: SIGTERM arrived (a preempted VM, `kill`, a scheduler): the run stops after
            the host loop under way, saved there (one process; a multi-worker run keeps its
            last periodic checkpoint, as one worker cannot save alone).
    """
    stages = trainer.stages
    ends = stage_ends(stages)
    last_step = ends[-1]
    steps_per_loop = steps_per_loop or default_steps_per_loop(strategy)
    chief = is_chief(strategy)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    with strategy.scope():
        create_optimizer_slots(trainer)
    checkpoint = make_checkpoint(trainer, step)
    # Non-chief workers save too (the save may all-reduce), to a directory of their own.
    save_dir = model_dir if chief else tf.io.gfile.join(
        model_dir, "workers", f"worker_{strategy.cluster_resolver.task_id}")
    resume = Resume()
    latest = tf.train.latest_checkpoint(model_dir)
    if latest:
        # Partial: the data positions are read below, not restored into an object.
        with _checkpoint_of_this_model(latest):
            checkpoint.restore(latest).expect_partial().assert_existing_objects_matched()
        resume = Resume(int(step), _read_positions(latest))
        logging.info("Restored %s at step %d.", latest, resume.step)
    if resume.step >= last_step:
        logging.info("Already at step %d of %d; nothing to do.", resume.step, last_step)
        return {"step": resume.step}
    # Data positions are saved beside (not restored into) the checkpoint's objects: they are
    # read by `_read_positions` above, so a run may resume on another number of replicas.
    # Every save follows a host loop, which sets them.
    positions = tf.Variable(np.full([strategy.num_replicas_in_sync, 3], -1, np.int32),
                            trainable=False, name="data_positions")
    manager = tf.train.CheckpointManager(make_checkpoint(trainer, step, data_positions=positions),
                                         save_dir, max_to_keep=max_to_keep)
    iterator = iter(strategy.distribute_datasets_from_function(
        lambda context: dataset_fn(context, resume), input_options))
    writer = (tf.summary.create_file_writer(tf.io.gfile.join(model_dir, "summaries"))
              if chief else tf.summary.create_noop_writer())
    logs, t0, steps_timed = {}, time.time(), 0
    bar = tqdm.tqdm(total=last_step, initial=resume.step, unit="step",
                    disable=not (progress and chief), dynamic_ncols=True)
    periods = [checkpoint_every] + [hook.steps for hook in hooks if isinstance(hook, Every)]
    boundaries = ends + ([exit_after_steps] if exit_after_steps else [])
    stage_index, _ = stage_at(stages, resume.step)
    with _sigterm_requests() as stop:
        while int(step) < last_step:
            stage = stages[stage_index]
            trainer.set_stage(stage_index)
            run_steps = step_function(trainer, strategy)
            logging.info("Stage %d/%d %r: %d steps from step %d.", stage_index + 1,
                         len(stages), stage.name, ends[stage_index] - int(step), int(step))
            while int(step) < ends[stage_index]:
                start = int(step)
                current = _loop_ends(start, steps_per_loop, boundaries, periods)
                outputs, first_bad = run_steps(iterator, tf.constant(current - start))
                logs = {k: v.numpy() for k, v in outputs.items()}
                if int(first_bad) >= 0:
                    bad = {k: float(v) for k, v in logs.items()
                           if k != POSITION_KEY and not math.isfinite(float(v))}
                    raise FloatingPointError(
                        f"Non-finite loss at step {start + int(first_bad) + 1} (stage "
                        f"{stage.name!r}): {bad or 'in an earlier step of the host loop'}. "
                        f"Stopped without saving; last good checkpoint: "
                        f"{manager.latest_checkpoint}.")
                if POSITION_KEY in logs:
                    positions.assign(logs.pop(POSITION_KEY))
                logs = {k: float(v) for k, v in logs.items()}
                step.assign(current)
                steps_timed += current - start
                bar.update(current - start)
                bar.set_postfix_str(f"{stage.name} loss {logs['loss']:.3f}", refresh=False)
                with writer.as_default(step=current):
                    for name, value in logs.items():
                        tf.summary.scalar(name if name == "learning_rate" else f"loss/{name}",
                                          value)
                if current // log_every > start // log_every or current == last_step:
                    rate = steps_timed / max(time.time() - t0, 1e-9)
                    logging.info("step %d/%d [%s] loss %.4f lr %.3g | %.2f steps/s, ETA %s",
                                 current, last_step, stage.name, logs["loss"],
                                 logs["learning_rate"], rate,
                                 _format_seconds((last_step - current) / max(rate, 1e-9)))
                saved = current % checkpoint_every == 0 or current == last_step
                if saved:
                    manager.save(checkpoint_number=current)
                    if not chief:
                        tf.io.gfile.rmtree(save_dir)
                for hook in hooks:
                    if hook.due(current, ends):
                        hook.fn(current)
                if exit_after_steps is not None and current >= exit_after_steps:
                    writer.flush()
                    os.kill(os.getpid(), getattr(signal, f"SIG{exit_signal}"))
                if stop.is_set():
                    writer.flush()
                    # A worker of a cluster cannot save alone (the save may all-reduce).
                    if not saved and not isinstance(
                            strategy, tf.distribute.MultiWorkerMirroredStrategy):
                        manager.save(checkpoint_number=current)
                    raise Stopped(f"stopped by SIGTERM after step {current}; the latest "
                                  f"checkpoint is {manager.latest_checkpoint}: run the same "
                                  "command again to resume from it.")
            stage_index += 1
    bar.close()
    writer.flush()
    return {**logs, "step": int(step)}


@contextlib.contextmanager
def _sigterm_requests():
    """While the block runs, SIGTERM sets the `threading.Event` it yields instead of killing
    the process (from the main thread only: Python runs signal handlers there)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def restore_model(model, checkpoint_path: str) -> str:
    """Restore a model saved by `train` (the `model` object of its checkpoints) from a
    checkpoint prefix or a directory (its latest checkpoint). Returns the path used."""
    path = fileio.checkpoint_prefix(checkpoint_path)
    with _checkpoint_of_this_model(path):
        status = tf.train.Checkpoint(model=model).restore(path)
        status.expect_partial().assert_existing_objects_matched()
    return path


@contextlib.contextmanager
def _checkpoint_of_this_model(path: str):
    """A checkpoint of another shape or kind as an `InputError` naming it (a checkpoint
    without a stored model config, restored with the wrong preset)."""
    try:
        yield
    except (ValueError, AssertionError) as e:
        reason = str(e).strip().splitlines()[0]
        raise InputError(f"{path} does not hold this model (written with another model config "
                         f"or mode?): {reason}") from None


__all__ = ["EXIT_SIGNALS", "Every", "Resume", "create_optimizer_slots", "default_steps_per_loop",
           "is_chief", "make_checkpoint", "restore_model", "step_function", "train"]
