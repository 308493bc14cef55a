"""Hugging Face `.safetensors` checkpoints through the `safetensors` package: one file, or a
sharded checkpoint whose `model.safetensors.index.json` names each tensor's shard file
(`{"metadata": {...}, "weight_map": {name: "model-00001-of-00002.safetensors", ...}}`).

Reading is lazy: the headers give every name and shape, and `read(name)` loads that tensor
alone from the memory-mapped file, so a checkpoint is never held in memory whole.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import safetensors
import safetensors.numpy
import tensorflow as tf

from mobilebert_tf import fileio

INDEX_SUFFIX = ".safetensors.index.json"


class SafetensorsError(ValueError):
    """The file is not a well-formed safetensors file or sharded-checkpoint index."""


def _shard_files(index_path: str) -> dict[str, str]:
    """`{tensor name: shard path}` of the sharded checkpoint whose index is `index_path`."""
    try:
        weight_map = fileio.read_json(index_path).get("weight_map")
    except (UnicodeDecodeError, ValueError, AttributeError):
        weight_map = None
    if not isinstance(weight_map, dict) or not weight_map:
        raise SafetensorsError(f"{index_path}: not a sharded safetensors index (a JSON object "
                               "with a non-empty \"weight_map\" of tensor name -> shard file).")
    directory = os.path.dirname(index_path)
    shards = {name: tf.io.gfile.join(directory, shard) for name, shard in weight_map.items()}
    for shard in sorted(set(shards.values())):
        if not tf.io.gfile.exists(shard):
            raise FileNotFoundError(f"{index_path} names the shard {shard}, which does not "
                                    "exist.")
    return shards


class SafetensorsCheckpoint:
    """The tensors of a `.safetensors` file or of a sharded checkpoint (its index file).

    `shapes[name]` comes from the headers; `read(name)` loads one tensor as a numpy array
    (BF16 widened to float32, which is exact).

    Args:
        path: A `.safetensors` file or a `*.safetensors.index.json`; a bucket URL too.
    """

    def __init__(self, path: str):
        self.path = path
        # safetensors memory-maps local files only: a bucket file is first copied (streamed
        # by tf.io.gfile) to a temporary directory that is deleted with this object.
        self._tmp = tempfile.TemporaryDirectory() if "://" in path else None
        shard_of = _shard_files(path) if path.endswith(INDEX_SUFFIX) else None
        files = {}  # file path -> (safe_open handle, its tensor names)
        for number, file in enumerate(sorted(set(shard_of.values())) if shard_of else [path]):
            handle = self._open(file, number)
            files[file] = handle, set(handle.keys())
        if shard_of is None:
            shard_of = {name: path for name in sorted(files[path][1])}
        self._handles, self.shapes = {}, {}
        for name, file in shard_of.items():
            handle, names = files[file]
            if name not in names:
                raise SafetensorsError(f"{path} maps {name} to {file}, which does not hold it.")
            self._handles[name] = handle
            self.shapes[name] = tuple(handle.get_slice(name).get_shape())

    def _open(self, path: str, number: int):
        local = path
        if self._tmp is not None:
            local = os.path.join(self._tmp.name, f"{number}.safetensors")
            tf.io.gfile.copy(path, local)
        try:
            return safetensors.safe_open(local, framework="numpy")
        except safetensors.SafetensorError as error:
            raise SafetensorsError(f"{path}: not a safetensors file ({error}).") from None

    def read(self, name: str) -> np.ndarray:
        """The tensor `name` (a `KeyError` if there is none)."""
        array = self._handles[name].get_tensor(name)
        return array.astype(np.float32) if array.dtype.name == "bfloat16" else array


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    """Every tensor of a `.safetensors` file or sharded checkpoint (its index file).

    Args:
        path: The file; a bucket URL too.
    """
    checkpoint = SafetensorsCheckpoint(path)
    return {name: checkpoint.read(name) for name in checkpoint.shapes}


def write_safetensors(path: str, tensors: dict[str, np.ndarray],
                      metadata: dict[str, str] | None = None) -> str:
    """Write `tensors` as one `.safetensors` file; returns `path`.

    The file is built in memory (as large as the tensors) and written through tf.io.gfile.

    Args:
        path: The file to write; a bucket URL too.
        tensors: Name -> numpy array (any dtype safetensors has).
        metadata: String -> string entries of the header's `__metadata__`.
    """
    arrays = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    metadata = {str(k): str(v) for k, v in metadata.items()} if metadata else None
    return fileio.write_bytes(path, safetensors.numpy.save(arrays, metadata=metadata))
