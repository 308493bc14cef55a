"""Distillation strategies as plain lists of stages (paper figure 2).

A `Stage` says, for a run of consecutive steps, which student layers' transfer losses are in
the loss, whether the pre-training-distillation (PD) loss is, and which parameter groups
train at which learning-rate multiplier. A group missing from `lr_multipliers` (or at 0) gets
no gradient and no optimizer update at all, so it stays bit-identical: weight decay in
LAMB/AdamW would otherwise still move it.

Parameter groups of the student: "embeddings", "layer_0" ... "layer_{L-1}", "pooler",
"mlm_head", "nsp_head".
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

STRATEGIES = ("pkt", "jkt", "akt")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One phase of a distillation schedule.

    Args:
        name: For logs and summaries, e.g. "pkt_layer_3" or "pd".
        steps: Number of optimizer steps in the stage.
        transfer_layers: Student layers whose feature-map and attention transfer losses are
            in the loss.
        distill_pretraining: Whether the PD loss (alpha*MLM + (1-alpha)*KD + NSP) is in it.
        lr_multipliers: `{group: multiplier}`; only these groups train.
        learning_rate: Peak learning rate of the stage.
        warmup_steps: Linear warm-up at the start of the stage (the paper warms up per phase).
        decay: "linear" (to 0 at the end of the stage) or "constant" after warm-up.
    """

    name: str
    steps: int
    transfer_layers: tuple[int, ...] = ()
    distill_pretraining: bool = False
    lr_multipliers: Mapping[str, float] = dataclasses.field(default_factory=dict)
    learning_rate: float = 1.5e-3
    warmup_steps: int = 0
    decay: str = "constant"

    def __post_init__(self):
        if self.steps <= 0:
            raise ValueError(f"Stage {self.name!r}: steps must be positive, got {self.steps}.")
        if not self.transfer_layers and not self.distill_pretraining:
            raise ValueError(f"Stage {self.name!r} has no loss term.")
        if self.decay not in ("linear", "constant"):
            raise ValueError(f"Stage {self.name!r}: decay must be 'linear' or 'constant', "
                             f"got {self.decay!r}.")
        if any(m < 0 for m in self.lr_multipliers.values()):
            raise ValueError(f"Stage {self.name!r}: negative lr multiplier.")
        if not any(m > 0 for m in self.lr_multipliers.values()):
            raise ValueError(f"Stage {self.name!r} trains no parameter group.")
        object.__setattr__(self, "transfer_layers", tuple(self.transfer_layers))
        object.__setattr__(self, "lr_multipliers", dict(self.lr_multipliers))

    @property
    def trained_groups(self) -> tuple[str, ...]:
        return tuple(g for g, m in self.lr_multipliers.items() if m > 0)


def all_groups(num_layers: int) -> list[str]:
    return (["embeddings"] + [f"layer_{i}" for i in range(num_layers)]
            + ["pooler", "mlm_head", "nsp_head"])


def _pd_stage(num_layers, steps, learning_rate, warmup_steps, with_transfer=False, name="pd"):
    return Stage(name=name, steps=steps,
                 transfer_layers=tuple(range(num_layers)) if with_transfer else (),
                 distill_pretraining=True,
                 lr_multipliers={g: 1.0 for g in all_groups(num_layers)},
                 learning_rate=learning_rate, warmup_steps=warmup_steps, decay="linear")


def pkt_schedule(num_layers: int, steps_per_layer: int, pd_steps: int,
                 lower_multiplier: float = 0.0, learning_rate: float = 1.5e-3,
                 warmup_steps: int = 0, pd_warmup_steps: int = 0) -> list[Stage]:
    """Progressive knowledge transfer: stage l trains layer l on its own transfer losses, the
    layers below at `lower_multiplier` (0 = frozen; GR uses 0.1), and nothing else; then PD
    trains everything."""
    stages = []
    for layer in range(num_layers):
        multipliers = {f"layer_{layer}": 1.0}
        if lower_multiplier > 0:
            multipliers.update({f"layer_{i}": lower_multiplier for i in range(layer)})
        stages.append(Stage(name=f"pkt_layer_{layer}", steps=steps_per_layer,
                            transfer_layers=(layer,), lr_multipliers=multipliers,
                            learning_rate=learning_rate, warmup_steps=warmup_steps))
    if pd_steps:
        stages.append(_pd_stage(num_layers, pd_steps, learning_rate, pd_warmup_steps))
    return stages


def jkt_schedule(num_layers: int, transfer_steps: int, pd_steps: int,
                 learning_rate: float = 1.5e-3, warmup_steps: int = 0,
                 pd_warmup_steps: int = 0) -> list[Stage]:
    """Joint knowledge transfer: every layer trains on the sum of all layer losses, then PD
    trains everything. Embeddings (copied from the teacher) and heads wait for PD."""
    layers = {f"layer_{i}": 1.0 for i in range(num_layers)}
    stages = [Stage(name="jkt_transfer", steps=transfer_steps,
                    transfer_layers=tuple(range(num_layers)), lr_multipliers=layers,
                    learning_rate=learning_rate, warmup_steps=warmup_steps, decay="linear")]
    if pd_steps:
        stages.append(_pd_stage(num_layers, pd_steps, learning_rate, pd_warmup_steps))
    return stages


def akt_schedule(num_layers: int, steps: int, learning_rate: float = 1.5e-3,
                 warmup_steps: int = 0) -> list[Stage]:
    """Auxiliary knowledge transfer: one stage, all layer losses plus PD in one loss."""
    return [_pd_stage(num_layers, steps, learning_rate, warmup_steps, with_transfer=True,
                      name="akt")]


def make_schedule(strategy: str, num_layers: int, transfer_steps: int, pd_steps: int,
                  lower_multiplier: float = 0.0, learning_rate: float = 1.5e-3,
                  warmup_steps: int = 0, pd_warmup_steps: int = 0) -> list[Stage]:
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


def stage_at(stages: list[Stage], step: int) -> tuple[int, int]:
    """`(stage index, step within the stage)` of global step `step` (0-based)."""
    start = 0
    for index, stage in enumerate(stages):
        if step < start + stage.steps:
            return index, step - start
        start += stage.steps
    raise ValueError(f"Step {step} is past the schedule's {start} steps.")


def total_steps(stages: list[Stage]) -> int:
    return sum(stage.steps for stage in stages)
