"""Typed, validated configs of the record-based training modes: `PretrainConfig` (the
teacher, or any model on MLM + NSP) and `DistillConfig` (a student from a teacher). The
fine-tuning config is `mobilebert_tf.finetune.run.FinetuneConfig`.

A config is checked when it is made: a bad value raises `InputError` naming the field and the
value, before anything is read or built. Field names are the `tpu/train.py` flag names.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Mapping, Sequence

from mobilebert_tf.config import MobileBertConfig
from mobilebert_tf.distillation.distiller import pair_layers
from mobilebert_tf.distillation.schedule import STRATEGIES
from mobilebert_tf.errors import InputError, check
from mobilebert_tf.stored_config import check_owner, resolve_model_config
from mobilebert_tf.training.loop import EXIT_SIGNALS

OPTIMIZERS = ("lamb", "adamw")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass(frozen=True)
class RecordTrainingConfig:
    """What every training run on pretraining records shares.

    Args:
        model_dir: checkpoints, summaries and `train.log`; any TF filesystem URL. A run
            restarted on it resumes at its step and data position; a run of another mode
            (`MODE`, stored in its `run_config.json`) is refused there.
        train_files: comma-separated globs of pretraining TFRecords (any TF filesystem).
        preset / overrides: the trained model's config (`mobilebert_tf.config.PRESETS`;
            None: the config stored in `model_dir` by an earlier run of it, else
            "mobilebert"). Contradicting the stored config is an `InputError`.
        seq_length / max_predictions: what the records were written with (checked).
        batch_size: the global batch, split over the replicas.
        optimizer: "lamb" or "adamw".
        learning_rate / warmup_steps: peak rate and linear warm-up (per stage).
        weight_decay / clip_norm: decoupled weight decay (not norms or biases), global clip.
        mixed_precision: Keras policy; "mixed_float16" overflows NoNorm and is refused for it.
        jit_compile: XLA for forward and backward.
        steps_per_loop: steps per host call (None: 100 on TPU, 1 elsewhere); loops still end
            at every stage end and checkpoint.
        checkpoint_every / log_every: loop cadence.
        seed: initialization, data order and dropout masks.
        per_replica_input: one input pipeline per replica instead of per host (a multi-GPU
            host that can feed each GPU; the data order then equals a cluster with one
            replica per worker).
        files_per_window: record files read in parallel by each input pipeline.
        progress: a progress bar on stderr.
        exit_after_steps / exit_signal: test aid: send the process "KILL" or "TERM" after
            that step.
    """

    MODE: ClassVar[str]  # each subclass's mode name

    model_dir: str
    train_files: str
    preset: str | None = None
    overrides: Mapping = dataclasses.field(default_factory=dict)
    seq_length: int = 128
    max_predictions: int = 20
    batch_size: int = 8
    optimizer: str = "lamb"
    learning_rate: float = 1.5e-3
    warmup_steps: int = 0
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    mixed_precision: str = "float32"
    jit_compile: bool = False
    steps_per_loop: int | None = None
    checkpoint_every: int = 1000
    log_every: int = 100
    seed: int = 0
    per_replica_input: bool = False
    files_per_window: int = 8
    progress: bool = False
    exit_after_steps: int | None = None
    exit_signal: str = "KILL"

    def __post_init__(self):
        check(bool(self.model_dir), "model_dir", self.model_dir, "a directory")
        check(bool(self.train_files), "train_files", self.train_files, "record file globs")
        for name in ("seq_length", "max_predictions", "batch_size", "checkpoint_every",
                     "log_every", "files_per_window"):
            value = getattr(self, name)
            check(isinstance(value, int) and value > 0, name, value, "a positive integer")
        for name in ("steps_per_loop", "exit_after_steps"):
            value = getattr(self, name)
            check(value is None or isinstance(value, int) and value > 0, name, value,
                  "a positive integer or None")
        check(self.exit_signal in EXIT_SIGNALS, "exit_signal", self.exit_signal,
              f"one of {EXIT_SIGNALS}")
        check(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, f"one of {OPTIMIZERS}")
        check(self.mixed_precision in PRECISIONS, "mixed_precision", self.mixed_precision,
              f"one of {PRECISIONS}")
        check(self.learning_rate > 0, "learning_rate", self.learning_rate, "positive")
        check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, ">= 0")
        check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        check(self.clip_norm > 0, "clip_norm", self.clip_norm, "positive")
        object.__setattr__(self, "overrides", dict(self.overrides))
        check_owner(self.model_dir, {"mode": self.MODE}, "model_dir")
        # Read once: the config stored in model_dir by an earlier run, else preset/overrides.
        object.__setattr__(self, "_model_config", resolve_model_config(
            self.model_dir, self.preset, self.overrides, "model_dir", "preset", "overrides",
            default_preset="mobilebert"))
        config = self.model_config()
        check(self.seq_length <= config.max_position, "seq_length", self.seq_length,
              f"at most the model's max_position ({config.max_position})")
        self._check_precision(config, "preset")

    def model_config(self) -> MobileBertConfig:
        return self._model_config

    def _check_precision(self, config: MobileBertConfig, field: str) -> None:
        # NoNorm activations reach 1e8 (float16 max 65504): the known MobileBERT NaN source.
        if self.mixed_precision == "mixed_float16" and config.norm == "no_norm":
            raise InputError(f"mixed_precision='mixed_float16' overflows the NoNorm "
                             f"activations of {field} {config.norm!r} models; use "
                             "'mixed_bfloat16' (the range of float32).")


@dataclasses.dataclass(frozen=True)
class PretrainConfig(RecordTrainingConfig):
    """MLM + NSP pretraining of `preset` (the IB-BERT teacher), one stage of `steps` steps
    with warm-up and linear decay.

    Args (beyond `RecordTrainingConfig`'s):
        steps: optimizer steps.
        dropout: train with the config's dropout.
    """

    MODE: ClassVar[str] = "teacher"  # in run_config.json: who owns a model_dir

    steps: int = 1000
    dropout: bool = True

    def __post_init__(self):
        super().__post_init__()
        check(isinstance(self.steps, int) and self.steps > 0, "steps", self.steps,
              "a positive integer")
        check(self.warmup_steps <= self.steps, "warmup_steps", self.warmup_steps,
              f"at most steps ({self.steps})")


@dataclasses.dataclass(frozen=True)
class DistillConfig(RecordTrainingConfig):
    """Distillation of `preset` (the student) from a trained teacher: layer-wise knowledge
    transfer by `distill_strategy`, then pre-training distillation (paper section 2).

    Args (beyond `RecordTrainingConfig`'s):
        teacher_checkpoint: a `pretrain` model_dir (its latest checkpoint) or a prefix.
        teacher_preset / teacher_overrides: the teacher's config, by default the one stored
            with `teacher_checkpoint` (needed for checkpoints without one); with
            `teacher_preset`, `overrides` apply to both models, then `teacher_overrides` to
            the teacher.
        layer_mapping: teacher layer per student layer (default: the same layer).
        distill_strategy: "pkt", "jkt" or "akt".
        transfer_steps: PKT: steps per layer; JKT: transfer steps; AKT: unused.
        pd_steps: pre-training distillation steps (AKT: all steps).
        pd_warmup_steps: warm-up of the PD stage (`warmup_steps` is the transfer stages').
        lower_multiplier: PKT: learning-rate multiplier of the layers below the current one
            (0 = frozen; the authors' code uses 0.1).
        feature_map_transfer / attention_transfer: the layer losses (ablations turn one off).
        alpha / temperature: PD: weight of the hard MLM loss, KD temperature.
    """

    MODE: ClassVar[str] = "distill"

    teacher_checkpoint: str = ""
    teacher_preset: str | None = None
    teacher_overrides: Mapping = dataclasses.field(default_factory=dict)
    layer_mapping: Sequence[int] | None = None
    distill_strategy: str = "pkt"
    transfer_steps: int = 1000
    pd_steps: int = 1000
    pd_warmup_steps: int = 0
    lower_multiplier: float = 0.0
    feature_map_transfer: bool = True
    attention_transfer: bool = True
    alpha: float = 0.5
    temperature: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        check(bool(self.teacher_checkpoint), "teacher_checkpoint", self.teacher_checkpoint,
              "a checkpoint directory or prefix")
        check(self.distill_strategy in STRATEGIES, "distill_strategy",
              self.distill_strategy, f"one of {STRATEGIES}")
        for name in ("transfer_steps", "pd_steps"):
            value = getattr(self, name)
            check(isinstance(value, int) and value >= 0, name, value, "an integer >= 0")
        check(self.pd_warmup_steps >= 0, "pd_warmup_steps", self.pd_warmup_steps, ">= 0")
        check(0 <= self.lower_multiplier <= 1, "lower_multiplier", self.lower_multiplier,
              "in [0, 1]")
        check(0 <= self.alpha <= 1, "alpha", self.alpha, "in [0, 1]")
        check(self.temperature > 0, "temperature", self.temperature, "positive")
        object.__setattr__(self, "teacher_overrides", dict(self.teacher_overrides))
        if self.layer_mapping is not None:
            object.__setattr__(self, "layer_mapping", tuple(int(i) for i in self.layer_mapping))
        object.__setattr__(self, "_teacher_config", resolve_model_config(
            self.teacher_checkpoint, self.teacher_preset,
            {**self.overrides, **self.teacher_overrides} if self.teacher_preset
            else self.teacher_overrides, "teacher_checkpoint", "teacher_preset",
            "teacher_overrides"))
        teacher = self.teacher_config()
        self._check_precision(teacher, "teacher_preset")
        try:
            pair_layers(teacher, self.model_config(), self.layer_mapping)
        except ValueError as e:
            raise InputError(str(e)) from None

    def teacher_config(self) -> MobileBertConfig:
        return self._teacher_config
