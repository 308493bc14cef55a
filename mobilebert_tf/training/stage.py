"""`Stage`: a run of consecutive optimizer steps with one learning-rate segment and one set
of trained parameter groups. Every trainer (pretraining, distillation, fine-tuning) is a list
of stages; distillation adds its loss terms in a subclass (`distillation.schedule`).

A group missing from `lr_multipliers` (or at 0) gets no gradient and no optimizer update at
all, so it stays bit-identical: weight decay in LAMB/AdamW would otherwise still move it.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

DECAYS = ("linear", "constant")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One phase of training.

    Args:
        name: For logs and summaries, e.g. "pretrain", "pkt_layer_3" or "finetune".
        steps: Number of optimizer steps in the stage.
        lr_multipliers: `{group: multiplier}`; only these groups train.
        learning_rate: Peak learning rate of the stage.
        warmup_steps: Linear warm-up at the start of the stage (the paper warms up per phase).
        decay: "linear" (to 0 at the end of the stage) or "constant" after warm-up.
    """

    name: str
    steps: int
    lr_multipliers: Mapping[str, float] = dataclasses.field(default_factory=dict)
    learning_rate: float = 1.5e-3
    warmup_steps: int = 0
    decay: str = "constant"

    def __post_init__(self):
        if self.steps <= 0:
            raise ValueError(f"Stage {self.name!r}: steps must be positive, got {self.steps}.")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"Stage {self.name!r}: warmup_steps must be in [0, steps="
                             f"{self.steps}], got {self.warmup_steps}.")
        if self.decay not in DECAYS:
            raise ValueError(f"Stage {self.name!r}: decay must be one of {DECAYS}, got "
                             f"{self.decay!r}.")
        if any(m < 0 for m in self.lr_multipliers.values()):
            raise ValueError(f"Stage {self.name!r}: negative lr multiplier.")
        if not any(m > 0 for m in self.lr_multipliers.values()):
            raise ValueError(f"Stage {self.name!r} trains no parameter group.")
        object.__setattr__(self, "lr_multipliers", dict(self.lr_multipliers))

    @property
    def trained_groups(self) -> tuple[str, ...]:
        return tuple(g for g, m in self.lr_multipliers.items() if m > 0)


def stage_at(stages: Sequence[Stage], step: int) -> tuple[int, int]:
    """`(stage index, step within the stage)` of global step `step` (0-based)."""
    start = 0
    for index, stage in enumerate(stages):
        if step < start + stage.steps:
            return index, step - start
        start += stage.steps
    raise ValueError(f"Step {step} is past the schedule's {start} steps.")


def stage_ends(stages: Sequence[Stage]) -> list[int]:
    """The global step at which each stage ends (cumulative step counts)."""
    ends, total = [], 0
    for stage in stages:
        total += stage.steps
        ends.append(total)
    return ends


def total_steps(stages: Sequence[Stage]) -> int:
    return sum(stage.steps for stage in stages)

