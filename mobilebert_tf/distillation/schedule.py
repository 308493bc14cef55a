"""Distillation strategies as plain lists of stages (paper figure 2).

A `DistillStage` says, for a run of consecutive steps, which student layers' transfer losses
are in the loss, whether the pre-training-distillation (PD) loss is, and (as every training
`Stage`) which parameter groups train at which learning-rate multiplier. Parameter groups of
the student: `mobilebert_tf.training.parameter_groups.all_groups`.
"""

from __future__ import annotations

import dataclasses

from mobilebert_tf.training.parameter_groups import all_groups
from mobilebert_tf.training.stage import Stage

STRATEGIES = ("pkt", "jkt", "akt")


@dataclasses.dataclass(frozen=True)
class DistillStage(Stage):
    """A `Stage` with distillation losses.

    Args (beyond `Stage`'s):
        transfer_layers: Student layers whose feature-map and attention transfer losses are
            in the loss.
        distill_pretraining: Whether the PD loss (alpha*MLM + (1-alpha)*KD + NSP) is in it.
    """

    transfer_layers: tuple[int, ...] = ()
    distill_pretraining: bool = False

    def __post_init__(self):
        super().__post_init__()
        if not self.transfer_layers and not self.distill_pretraining:
            raise ValueError(f"Stage {self.name!r} has no loss term.")
        object.__setattr__(self, "transfer_layers", tuple(self.transfer_layers))


def _pd_stage(num_layers, steps, learning_rate, warmup_steps, with_transfer=False, name="pd"):
    return DistillStage(name=name, steps=steps,
                 transfer_layers=tuple(range(num_layers)) if with_transfer else (),
                 distill_pretraining=True,
                 lr_multipliers={g: 1.0 for g in all_groups(num_layers)},
                 learning_rate=learning_rate, warmup_steps=warmup_steps, decay="linear")


def pkt_schedule(num_layers: int, steps_per_layer: int, pd_steps: int,
                 lower_multiplier: float = 0.0, learning_rate: float = 1.5e-3,
                 warmup_steps: int = 0, pd_warmup_steps: int = 0) -> list[DistillStage]:
    """Progressive knowledge transfer: stage l trains layer l on its own transfer losses, the
    layers below at `lower_multiplier` (0 = frozen; the authors' code, GR, uses 0.1), and
    nothing else; then PD trains everything."""
    stages = []
    for layer in range(num_layers):
        multipliers = {f"layer_{layer}": 1.0}
        if lower_multiplier > 0:
            multipliers.update({f"layer_{i}": lower_multiplier for i in range(layer)})
        stages.append(DistillStage(name=f"pkt_layer_{layer}", steps=steps_per_layer,
                            transfer_layers=(layer,), lr_multipliers=multipliers,
                            learning_rate=learning_rate, warmup_steps=warmup_steps))
    if pd_steps:
        stages.append(_pd_stage(num_layers, pd_steps, learning_rate, pd_warmup_steps))
    return stages


def jkt_schedule(num_layers: int, transfer_steps: int, pd_steps: int,
                 learning_rate: float = 1.5e-3, warmup_steps: int = 0,
                 pd_warmup_steps: int = 0) -> list[DistillStage]:
    """Joint knowledge transfer: every layer trains on the sum of all layer losses, then PD
    trains everything. Embeddings (copied from the teacher) and heads wait for PD."""
    layers = {f"layer_{i}": 1.0 for i in range(num_layers)}
    stages = [DistillStage(name="jkt_transfer", steps=transfer_steps,
                    transfer_layers=tuple(range(num_layers)), lr_multipliers=layers,
                    learning_rate=learning_rate, warmup_steps=warmup_steps, decay="linear")]
    if pd_steps:
        stages.append(_pd_stage(num_layers, pd_steps, learning_rate, pd_warmup_steps))
    return stages


def akt_schedule(num_layers: int, steps: int, learning_rate: float = 1.5e-3,
                 warmup_steps: int = 0) -> list[DistillStage]:
    """Auxiliary knowledge transfer: one stage, all layer losses plus PD in one loss."""
    return [_pd_stage(num_layers, steps, learning_rate, warmup_steps, with_transfer=True,
                      name="akt")]


def make_schedule(strategy: str, num_layers: int, transfer_steps: int, pd_steps: int,
                  lower_multiplier: float = 0.0, learning_rate: float = 1.5e-3,
                  warmup_steps: int = 0, pd_warmup_steps: int = 0) -> list[DistillStage]:
    """The stages of `strategy` ("pkt", "jkt" or "akt").

    `transfer_steps` is per layer for PKT, in total for JKT, and ignored by AKT, whose single
    stage runs `pd_steps`.
    """
    if strategy == "pkt":
        return pkt_schedule(num_layers, transfer_steps, pd_steps, lower_multiplier,
                            learning_rate, warmup_steps, pd_warmup_steps)
    if strategy == "jkt":
        return jkt_schedule(num_layers, transfer_steps, pd_steps, learning_rate, warmup_steps,
                            pd_warmup_steps)
    if strategy == "akt":
        return akt_schedule(num_layers, pd_steps, learning_rate, pd_warmup_steps)
    raise ValueError(f"Unknown distillation strategy {strategy!r}; expected one of "
                     f"{list(STRATEGIES)}.")
