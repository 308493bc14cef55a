"""`python -m export.benchmark_tflite` in a checkout: the `mobilebert-benchmark-tflite` command
that `pip install` puts on the PATH. Its code and flags: mobilebert_tf/cli/benchmark_tflite.py."""

# Everything, so `from export import benchmark_tflite` gives what it always gave.
from mobilebert_tf.cli.benchmark_tflite import *  # noqa: F401,F403
from mobilebert_tf.cli.benchmark_tflite import run_cli

if __name__ == "__main__":
    run_cli()
