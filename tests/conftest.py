"""Session-wide test settings: quiet TF logs, deterministic seeds per test, and `ram_path`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import uuid  # noqa: E402

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()


@pytest.fixture
def ram_path():
    """A fresh directory on TF's in-memory filesystem (`ram://<unique>`), removed afterwards:
    paths that only `tf.io.gfile` can use, as a `gs://` bucket would be."""
    root = f"ram://{uuid.uuid4().hex}"
    yield root
    try:
        tf.io.gfile.rmtree(root)
    except tf.errors.NotFoundError:  # ram:// has no directories: files only, maybe none
        for path in tf.io.gfile.glob(f"{root}/**"):
            if not tf.io.gfile.isdir(path):
                tf.io.gfile.remove(path)
