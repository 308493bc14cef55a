"""`log_to_file`: absl log lines into `<model_dir>/train.log` (any TF filesystem)."""

from __future__ import annotations

import contextlib

import tensorflow as tf
from absl import logging


@contextlib.contextmanager
def log_to_file(model_dir: str):
    """While the block runs, absl log lines go to `model_dir/train.log` (appended), leaving
    stderr to a progress bar."""
    tf.io.gfile.makedirs(model_dir)
    handler = logging.get_absl_handler().python_handler
    previous = handler.stream
    with tf.io.gfile.GFile(tf.io.gfile.join(model_dir, "train.log"), "a") as stream:
        handler.stream = stream
        try:
            yield
        finally:
            handler.stream = previous
