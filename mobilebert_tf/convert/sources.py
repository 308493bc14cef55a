"""Foreign checkpoints as `{name: shape}` plus lazy array reads, whatever the file format."""

from __future__ import annotations

import dataclasses
import io
from typing import Callable

import numpy as np
import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.convert import name_maps
from mobilebert_tf.convert.safetensors import INDEX_SUFFIX, SafetensorsCheckpoint

# TF2 object-checkpoint bookkeeping that holds no model weight.
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
# What a Hugging Face model directory holds, in the order we look for it.
_HF_FILES = ("model.safetensors", "model" + INDEX_SUFFIX, "pytorch_model.bin")


@dataclasses.dataclass
class Source:
    """A checkpoint's variables: `shapes[name]`, and `read(name)` for the array."""

    format: str
    path: str
    shapes: dict[str, tuple]
    read: Callable[[str], np.ndarray]


def read_tf_checkpoint(path: str, source_format: str) -> Source:
    """A TF1 name-based or TF2 object-based checkpoint (prefix or directory)."""
    prefix = fileio.checkpoint_prefix(path, "TensorFlow checkpoint")
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


def _hf_file(path: str) -> str:
    """The weights file of `path`: itself, or the first of `_HF_FILES` in that directory."""
    # Names listed, not tested with `exists`: `ram://` calls every string prefix of a file
    # (model.safetensors of model.safetensors.index.json) a directory, and it exists.
    if not path.endswith((".safetensors", ".json", ".bin")) and tf.io.gfile.isdir(path):
        found = [f for f in _HF_FILES if f in set(tf.io.gfile.listdir(path))]
        if not found:
            raise FileNotFoundError(f"No {', '.join(_HF_FILES)} in {path!r}.")
        path = tf.io.gfile.join(path, found[0])
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"No Hugging Face weights file at {path!r}.")
    if path.endswith(".json") and not path.endswith(INDEX_SUFFIX):
        raise ValueError(f"{path!r} is not a safetensors index (*{INDEX_SUFFIX}); sharded "
                         ".bin checkpoints are not read: convert them to safetensors.")
    return path


def read_hf(path: str) -> Source:
    """A Hugging Face state dict: a `.safetensors` file, a sharded checkpoint's
    `model.safetensors.index.json`, a `.bin` (needs torch), or a directory holding one of
    them. Safetensors tensors are read one at a time, when imported. Names of a bare
    `MobileBertModel` (no `mobilebert.` prefix) are given the prefix."""
    path = _hf_file(path)
    if path.endswith((".safetensors", INDEX_SUFFIX)):
        checkpoint = SafetensorsCheckpoint(path)
        shapes, read = checkpoint.shapes, checkpoint.read
    else:
        arrays = _read_torch(path)
        shapes, read = {name: a.shape for name, a in arrays.items()}, arrays.__getitem__
    names = {name: name for name in shapes}  # our name -> the file's
    if not any(name.startswith("mobilebert.") for name in shapes):
        names = {("mobilebert." + name
                  if name.startswith(("embeddings.", "encoder.", "pooler.")) else name): name
                 for name in shapes}
    return Source("hf", path, {ours: tuple(shapes[theirs]) for ours, theirs in names.items()},
                  lambda name: read(names[name]))


def read_source(source_format: str, path: str) -> Source:
    """The checkpoint at `path` in `source_format` ("tf1", "tfmg" or "hf")."""
    if source_format not in name_maps.FORMATS:
        raise ValueError(f"Unknown checkpoint format {source_format!r}; known: "
                         f"{name_maps.FORMATS}.")
    if source_format == "hf":
        return read_hf(path)
    return read_tf_checkpoint(path, source_format)
