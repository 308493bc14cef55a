"""File I/O through `tf.io.gfile`, so every path may be local, `gs://...` or `ram://...`.

Filesystem errors come back as Python's: a missing file raises `FileNotFoundError`, any
other failure `OSError`, so callers catch them as they would for a local file.

Example:
>>> write_json("ram://doc/run/best.json", {"step": 3})
'ram://doc/run/best.json'
>>> read_json("ram://doc/run/best.json")
{'step': 3}
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile

import tensorflow as tf

from mobilebert_tf.errors import InputError, MissingInputError


@contextlib.contextmanager
def _os_errors(path: str):
    try:
        yield
    except tf.errors.NotFoundError:
        raise FileNotFoundError(f"No such file or directory: {path!r}") from None
    except tf.errors.OpError as e:
        raise OSError(f"{path!r}: {e.message}") from None


def read_bytes(path: str) -> bytes:
    with _os_errors(path), tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


@contextlib.contextmanager
def open_binary(path: str):
    """`path` opened for reading bytes (iterate it for lines), with Python's errors."""
    with _os_errors(path), tf.io.gfile.GFile(path, "rb") as f:
        yield f


def read_text(path: str) -> str:
    """The UTF-8 text of `path` (a `UnicodeDecodeError` if it is not UTF-8)."""
    return read_bytes(path).decode("utf-8")


def read_json(path: str):
    return json.loads(read_text(path))


def write_bytes(path: str, data: bytes) -> str:
    """Write `data` to `path`, creating its directory, through a temporary name so a crash
    never leaves a truncated file behind; returns `path`."""
    tmp = path + ".incomplete"
    with _os_errors(path):
        if os.path.dirname(path):
            tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(data)
        tf.io.gfile.rename(tmp, path, overwrite=True)
    return path


def write_text(path: str, text: str) -> str:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str, value, indent: int = 2) -> str:
    return write_text(path, json.dumps(value, indent=indent, ensure_ascii=False))


def write_figure(fig, path: str, dpi: int = 100) -> str:
    """A matplotlib figure as PNG at `path` (rendered in memory: matplotlib writes only
    local files)."""
    import io
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return write_bytes(path, buffer.getvalue())


STAGING_DIR = "output.incomplete"


@contextlib.contextmanager
def staged_outputs(output_dir: str):
    """Yields `<output_dir>/output.incomplete`, the directory a command writes its outputs
    into; when the block ends, moves each of them into `output_dir` (a file or directory
    replaces the one of its name) and removes the staging directory. If the block raises, what
    it wrote stays under that name and the earlier files of `output_dir` are untouched; the
    next run starts the staging directory afresh. File by file: `ram://` and object stores
    do not rename directories."""
    staging = tf.io.gfile.join(output_dir, STAGING_DIR)
    with _os_errors(staging):
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
        tf.io.gfile.makedirs(staging)
    yield staging
    with _os_errors(output_dir):
        for name in tf.io.gfile.listdir(staging):
            source = tf.io.gfile.join(staging, name.rstrip("/"))
            target = tf.io.gfile.join(output_dir, name.rstrip("/"))
            if not tf.io.gfile.isdir(source):
                tf.io.gfile.rename(source, target, overwrite=True)
                continue
            if tf.io.gfile.exists(target):
                tf.io.gfile.rmtree(target)
            for directory, _, files in tf.io.gfile.walk(source):
                moved = target + directory[len(source):]
                tf.io.gfile.makedirs(moved)
                for file in files:
                    tf.io.gfile.rename(tf.io.gfile.join(directory, file),
                                       tf.io.gfile.join(moved, file), overwrite=True)
        tf.io.gfile.rmtree(staging)


def staged_path(path: str, staging: str, output_dir: str) -> str:
    """Where `path`, written under `staging`, is once `staged_outputs` has moved it."""
    return output_dir.rstrip("/") + path[len(staging):]


def glob(pattern: str) -> list[str]:
    """Sorted paths matching `pattern` (an empty list when its directory does not exist)."""
    try:
        return sorted(tf.io.gfile.glob(pattern))
    except tf.errors.NotFoundError:
        return []


def checkpoint_prefix(path: str, name: str = "checkpoint") -> str:
    """The checkpoint prefix at `path`: `path` itself when `path.index` exists, or a
    directory's latest checkpoint. The one place a path becomes a checkpoint.

    Raises:
        MissingInputError: no checkpoint there; InputError: `path` cannot be read. Both
            messages name `name` (the setting that gave `path`) and `path`.
    """
    try:
        with _os_errors(path):
            # The prefix first: `ram://` calls every string prefix of a file a directory.
            if tf.io.gfile.exists(path + ".index"):
                return path
            prefix = tf.train.latest_checkpoint(path) if tf.io.gfile.isdir(path) else None
            if prefix and tf.io.gfile.exists(prefix + ".index"):
                return prefix
    except OSError as e:
        raise InputError(f"Cannot read {name} {path!r}: {e}") from None
    raise MissingInputError(f"No {name} at {path!r} (a checkpoint prefix, or a directory of "
                            "checkpoints written by pretraining, distillation or conversion).")


def checkpoint_reader(prefix: str):
    """A `CheckpointReader` of the checkpoint `prefix` (`tf.train.load_checkpoint` takes a
    `ram://` prefix for a directory, see above)."""
    with _os_errors(prefix):
        return tf.compat.v1.train.NewCheckpointReader(prefix)


@contextlib.contextmanager
def native_logs_to(path: str):
    """Append what goes to file descriptor 2 (TensorFlow's and the converter's C++ logs) to
    `path`, which may be a bucket URL."""
    if "://" in path:
        # A file descriptor must be local: log to a local file, then copy that to `path`.
        with tempfile.TemporaryDirectory() as tmp:
            local = tf.io.gfile.join(tmp, "native.log")
            if tf.io.gfile.exists(path):
                tf.io.gfile.copy(path, local)  # appended to, as a local log is
            try:
                with native_logs_to(local):
                    yield
            finally:  # not `gfile.copy(..., overwrite=True)`: on ram:// that appends
                write_bytes(path, read_bytes(local))
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
