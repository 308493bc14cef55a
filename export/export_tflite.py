"""`python -m export.export_tflite` in a checkout: the `mobilebert-export-tflite` command that
`pip install` puts on the PATH. Its code and flags: mobilebert_tf/cli/export_tflite.py."""

# Everything, so `from export import export_tflite` gives what it always gave.
from mobilebert_tf.cli.export_tflite import *  # noqa: F401,F403
from mobilebert_tf.cli.export_tflite import run_cli

if __name__ == "__main__":
    run_cli()
