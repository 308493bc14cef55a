"""The command-line entry points, installed as console scripts (setup.py):

- `mobilebert-train` (`train`): teacher pretraining, distillation, fine-tuning;
- `mobilebert-export-tflite` (`export_tflite`): SavedModel and `.tflite` files, checked;
- `mobilebert-benchmark-tflite` (`benchmark_tflite`): `.tflite` latency side by side;
- `mobilebert-convert-checkpoint` (`convert_checkpoint`): published checkpoints in, ours out to
  a Hugging Face directory;
- `mobilebert-create-pretraining-data` (`create_pretraining_data`): text to MLM/NSP records;
- `mobilebert-demo` (`demo`): the whole pipeline of `make demo`.

From a checkout, `python -m tpu.train`, `python -m export.export_tflite` and
`python -m export.benchmark_tflite` run the same code. This is the top layer: nothing in the
library imports it. `train`, `export_tflite` and `benchmark_tflite` define their absl flags
when imported (some flag names are shared), so a process imports one of them; the others
define theirs when run.

Every command reports a bad input (`mobilebert_tf.errors.InputError`, absl's `UsageError`, a
bad flag value, an argument left over after the flags) as one line on stderr,
`<command>: error: <message>`, and exits with status 2: no traceback (`docs/errors.md`).
TensorFlow's C++ log lines are off unless `TF_CPP_MIN_LOG_LEVEL` says otherwise (0 shows them):
this package runs before any command module, and TensorFlow reads the variable when loaded.
Level 3, not 2: on every machine without a GPU (a CPU VM, a TPU host) `import tensorflow`
logs a "failed call to cuInit" ERROR as absl starts; TensorFlow's errors that matter reach
Python as exceptions.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable

# Before TensorFlow is loaded (`mobilebert_tf/__init__.py` imports it lazily for this).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from mobilebert_tf.errors import InputError, Stopped  # noqa: E402

USAGE_EXIT_CODE = 2


def _one_line_errors(main: Callable[[list], None],
                     takes_arguments: bool) -> Callable[[list], None]:
    """`main`, with input errors printed as one line and exit status 2, and arguments left over
    after the flags an error unless `takes_arguments`."""

    @functools.wraps(main)
    def wrapped(argv):
        try:
            if len(argv) > 1 and not takes_arguments:
                # Most often an unquoted glob that the shell expanded into many arguments.
                raise app.UsageError(f"unexpected arguments {argv[1:]}; quote glob patterns "
                                     "(--train_files='records/*')")
            return main(argv)
        except (InputError, app.UsageError) as e:
            _exit_with(f"error: {e} (see --help)")
        except Stopped as e:  # SIGTERM, work saved: not an error, with its own status
            _exit_with(str(e), e.exit_code)

    return wrapped


def _exit_with(line: str, status: int = USAGE_EXIT_CODE) -> None:
    sys.stderr.flush()
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {line}\n")
    sys.exit(status)


def _parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing, with a bad flag (unknown, missing, out of its range) reported like
    every other input error instead of absl's "FATAL Flags parsing error" and exit status 1."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        _exit_with(f"error: {e} (see --help)")


def run(main: Callable[[list], None], module_name: str, takes_arguments: bool = False) -> None:
    """`app.run(main)`, with `--help` showing the docstring and flags of the module
    `module_name`, and input errors as one line (exit status 2).

    Args:
        main: The absl main function.
        module_name: The entry point's module (its `__name__`).
        takes_arguments: Whether `main` reads arguments left over after the flags; if not,
            any is a usage error.
    """
    # absl's --help shows the docstring and flags of `__main__`, which for a console script
    # or `python -m tpu.train` is a wrapper that has neither.
    module = sys.modules[module_name]
    if module_name != "__main__":
        for flag in flags.FLAGS.get_key_flags_for_module(module_name):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
        sys.modules["__main__"].__doc__ = module.__doc__
    app.run(_one_line_errors(main, takes_arguments), flags_parser=_parse_flags)
