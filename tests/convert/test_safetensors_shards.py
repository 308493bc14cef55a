"""Sharded Hugging Face checkpoints (`model.safetensors.index.json` + shard files), written here
with the `safetensors` package itself as `save_pretrained` lays them out, locally and on
`ram://` (which, like `gs://`, only `tf.io.gfile` can open)."""

import json

import numpy as np
import pytest
import safetensors.numpy
import tensorflow as tf

from mobilebert_tf import MobileBertPretrainer, build_encoder, get_preset
from mobilebert_tf.convert import exporter
from mobilebert_tf.convert.importer import load_checkpoint
from mobilebert_tf.convert.safetensors import SafetensorsError, read_safetensors

CONFIG = get_preset("mobilebert_mini", num_layers=2, vocab_size=100, max_position=64)
SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")


def _write_sharded(directory, arrays, weight_map=None):
    """`arrays` split in two shards, with the index; returns the index's path."""
    names = sorted(arrays)
    parts = {SHARDS[0]: names[:len(names) // 2], SHARDS[1]: names[len(names) // 2:]}
    tf.io.gfile.makedirs(directory)
    for shard, shard_names in parts.items():
        with tf.io.gfile.GFile(f"{directory}/{shard}", "wb") as f:
            f.write(safetensors.numpy.save({name: arrays[name] for name in shard_names}))
    index = {"metadata": {"total_size": sum(a.nbytes for a in arrays.values())},
             "weight_map": weight_map or {n: shard for shard, ns in parts.items() for n in ns}}
    path = f"{directory}/model.safetensors.index.json"
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(index))
    return path


def test_sharded_checkpoint_imports_like_one_file(tmp_path, ram_path):
    source = MobileBertPretrainer(build_encoder(CONFIG))
    source(source.example_inputs())
    rng = np.random.default_rng(0)
    for w in source.weights:  # biases and norms random too: each tensor is told apart
        w.assign(rng.normal(0.0, 0.1, w.shape).astype(np.float32))
    arrays = exporter.foreign_arrays(source, "hf")
    single = exporter.export_hf_safetensors(source, str(tmp_path / "single" / "model.safetensors"))
    reference, reference_report = load_checkpoint("hf", single, CONFIG, with_heads=True)

    local_index = _write_sharded(str(tmp_path / "sharded"), arrays)
    ram_index = _write_sharded(f"{ram_path}/sharded", arrays)
    for path in (str(tmp_path / "sharded"), local_index, ram_index, f"{ram_path}/sharded"):
        model, report = load_checkpoint("hf", path, CONFIG, with_heads=True)
        assert not report.missing and not any(report.unused.values()), path
        assert report.loaded == reference_report.loaded, path
        for ours, theirs in zip(model.weights, reference.weights):
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{path}: {ours.name}")
    back = read_safetensors(ram_index)
    assert sorted(back) == sorted(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(back[name], value, err_msg=name)


def test_bad_sharded_checkpoints(ram_path):
    arrays = {"a": np.zeros([2], np.float32), "b": np.ones([3], np.float32)}
    index = _write_sharded(f"{ram_path}/ok", arrays)
    tf.io.gfile.remove(f"{ram_path}/ok/{SHARDS[1]}")
    with pytest.raises(FileNotFoundError, match=f"names the shard .*{SHARDS[1]}"):
        read_safetensors(index)
    wrong = _write_sharded(f"{ram_path}/wrong", arrays, {"a": SHARDS[1], "b": SHARDS[1]})
    with pytest.raises(SafetensorsError, match=f"maps a to .*{SHARDS[1]}, which does not hold"):
        read_safetensors(wrong)
    with tf.io.gfile.GFile(f"{ram_path}/junk/model.safetensors.index.json", "w") as f:
        f.write('{"metadata": {}}')
    with pytest.raises(SafetensorsError, match="not a sharded safetensors index"):
        read_safetensors(f"{ram_path}/junk/model.safetensors.index.json")
