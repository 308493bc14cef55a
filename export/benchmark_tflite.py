"""`python -m export.benchmark_tflite` in a checkout: the `mobilebert-benchmark-tflite` command
that `pip install` puts on the PATH. Its code and flags: mobilebert_tf/cli/benchmark_tflite.py."""

from mobilebert_tf.cli.benchmark_tflite import run_cli

if __name__ == "__main__":
    run_cli()
