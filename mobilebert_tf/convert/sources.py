"""Foreign checkpoints as `{name: shape}` plus lazy array reads, whatever the file format."""

from __future__ import annotations

import dataclasses
import io
from typing import Callable

import numpy as np
import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.convert import name_maps
from mobilebert_tf.convert.safetensors import read_safetensors

# TF2 object-checkpoint bookkeeping that holds no model weight.
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_HF_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclasses.dataclass
class Source:
    """A checkpoint's variables: `shapes[name]`, and `read(name)` for the array."""

    format: str
    path: str
    shapes: dict[str, tuple]
    read: Callable[[str], np.ndarray]


def read_tf_checkpoint(path: str, source_format: str) -> Source:
    """A TF1 name-based or TF2 object-based checkpoint (prefix or directory)."""
    prefix = fileio.checkpoint_prefix(path)
    if prefix is None:
        raise FileNotFoundError(f"No TensorFlow checkpoint at {path!r} (neither a prefix with "
                                "a .index file nor a directory holding a checkpoint).")
    reader = fileio.checkpoint_reader(prefix)
    keys = {key: tuple(shape) for key, shape in reader.get_variable_to_shape_map().items()
            if key != _OBJECT_GRAPH_KEY}
    if source_format == "tfmg":
        shapes = {name_maps.tfmg_path(key): shape for key, shape in keys.items()}
        return Source("tfmg", prefix, shapes,
                      lambda name: np.asarray(reader.get_tensor(name_maps.tfmg_key(name))
                                              if name_maps.tfmg_key(name) in keys
                                              else reader.get_tensor(name)))
    return Source(source_format, prefix, keys, lambda name: np.asarray(reader.get_tensor(name)))


def _read_torch(path: str) -> dict[str, np.ndarray]:
    try:
        import torch  # noqa: PLC0415  (optional: only `.bin` files need it)
    except ImportError:
        raise ImportError(f"Reading {path} needs PyTorch, which is not installed. Convert it "
                          "to .safetensors elsewhere (or install torch), then pass that file."
                          ) from None
    state = torch.load(io.BytesIO(fileio.read_bytes(path)), map_location="cpu",
                       weights_only=True)
    return {name: value.float().numpy() if value.is_floating_point() else value.numpy()
            for name, value in state.items()}


def read_hf(path: str) -> Source:
    """A Hugging Face state dict: a `.safetensors` file, a `.bin` (needs torch), or a
    directory holding `model.safetensors` or `pytorch_model.bin`. Names of a bare
    `MobileBertModel` (no `mobilebert.` prefix) are given the prefix."""
    if tf.io.gfile.isdir(path):
        found = [tf.io.gfile.join(path, f) for f in _HF_FILES
                 if tf.io.gfile.exists(tf.io.gfile.join(path, f))]
        if not found:
            raise FileNotFoundError(f"No {' or '.join(_HF_FILES)} in {path!r}.")
        path = found[0]
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"No Hugging Face weights file at {path!r}.")
    arrays = read_safetensors(path) if path.endswith(".safetensors") else _read_torch(path)
    if not any(name.startswith("mobilebert.") for name in arrays):
        arrays = {("mobilebert." + name
                   if name.startswith(("embeddings.", "encoder.", "pooler.")) else name): value
                  for name, value in arrays.items()}
    return Source("hf", path, {name: tuple(a.shape) for name, a in arrays.items()},
                  arrays.__getitem__)


def read_source(source_format: str, path: str) -> Source:
    """The checkpoint at `path` in `source_format` ("tf1", "tfmg" or "hf")."""
    if source_format not in name_maps.FORMATS:
        raise ValueError(f"Unknown checkpoint format {source_format!r}; known: "
                         f"{name_maps.FORMATS}.")
    if source_format == "hf":
        return read_hf(path)
    return read_tf_checkpoint(path, source_format)
