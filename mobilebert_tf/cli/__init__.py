"""The command-line entry points, installed as console scripts (setup.py):

- `mobilebert-train` (`train`): teacher pretraining, distillation, fine-tuning;
- `mobilebert-export-tflite` (`export_tflite`): SavedModel and `.tflite` files, checked;
- `mobilebert-benchmark-tflite` (`benchmark_tflite`): `.tflite` latency side by side;
- `mobilebert-convert-checkpoint` (`convert_checkpoint`): published checkpoints in;
- `mobilebert-demo` (`demo`): the whole pipeline of `make demo`.

From a checkout, `python -m tpu.train`, `python -m export.export_tflite` and
`python -m export.benchmark_tflite` run the same code. This is the top layer: nothing in the
library imports it. `train`, `export_tflite` and `benchmark_tflite` define their absl flags
when imported (some flag names are shared), so a process imports one of them; the others
define theirs when run.
"""

from __future__ import annotations

import sys
from typing import Callable

from absl import app, flags


def run(main: Callable[[list], None], module_name: str) -> None:
    """`app.run(main)`, with `--help` showing the docstring and flags of the module
    `module_name`.

    Args:
        main: The absl main function.
        module_name: The entry point's module (its `__name__`).
    """
    # absl's --help shows the docstring and flags of `__main__`, which for a console script
    # or `python -m tpu.train` is a wrapper that has neither.
    module = sys.modules[module_name]
    if module_name != "__main__":
        for flag in flags.FLAGS.get_key_flags_for_module(module_name):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
        sys.modules["__main__"].__doc__ = module.__doc__
    app.run(main)
