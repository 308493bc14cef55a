"""`python -m tpu.train` (or `python tpu/train.py`) in a checkout: the `mobilebert-train`
command that `pip install` puts on the PATH. Its code and flags: mobilebert_tf/cli/train.py."""

import os
import sys

if not __package__:  # run as a script (python tpu/train.py): make the repo importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Everything, so `from tpu import train` keeps giving FLAGS, main, config_values, ...
from mobilebert_tf.cli.train import *  # noqa: E402,F401,F403
from mobilebert_tf.cli.train import run_cli  # noqa: E402

if __name__ == "__main__":
    run_cli()
