"""`command_line(config)`: the `mobilebert-train` command equivalent to a run config, to
print beside an in-process run (the command to use on a TPU; `python -m tpu.train` with the
same arguments in a checkout). Never used to run anything.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Mapping

from mobilebert_tf.finetune.run import FinetuneConfig
from mobilebert_tf.run.configs import DistillConfig, PretrainConfig

# mobilebert-train flag -> config field, where the names differ (the one copy of the mapping).
FIELDS = {"progress_bar": "progress", "debug_exit_after_steps": "exit_after_steps",
          "debug_exit_signal": "exit_signal", "num_train_epochs": "epochs"}
MODES = {PretrainConfig: "teacher", DistillConfig: "distill", FinetuneConfig: "finetune"}


def command_line(config) -> str:
    """`mobilebert-train --mode M --field=value ...`: every field of `config` (a
    `PretrainConfig`, `DistillConfig` or `FinetuneConfig`) that differs from its default."""
    flag_names = {field: flag for flag, field in FIELDS.items()}
    args = ["mobilebert-train", "--mode", MODES[type(config)]]
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.default is not dataclasses.MISSING and value == field.default or (
                field.default_factory is not dataclasses.MISSING
                and value == field.default_factory()):
            continue
        flag = flag_names.get(field.name, field.name)
        if isinstance(value, bool):
            args.append(f"--{flag}" if value else f"--no{flag}")
            continue
        if isinstance(value, Mapping):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        elif value is None:  # init_checkpoint=None: random weights
            value = "none"
        args.append(f"--{flag}={value}")
    return " ".join(shlex.quote(a) for a in args)
