"""Import of the authors' TF1 checkpoints and of Hugging Face state dicts.

Both files are written here from a tiny random model of ours (TF1: `tf.compat.v1` variables and
a `tf.compat.v1.train.Saver` in a `tf.Graph`; HF: a safetensors file written through the
`safetensors` package), imported into a fresh model, and compared:
- with the model they were written from: bit-identical outputs (tolerance 0: loading copies
  and transposes float32 values exactly and the two models run the same graph);
- with an independent numpy forward pass written against Hugging Face names
  (tests/convert/conftest.py), which our name maps do not enter: relative error
  max|ours - ref| / max|ref| <= 1e-5 (float32 vs float64 accumulation over 2 layers);
- TF1 with HF: our TF1 export renamed by Hugging Face's own TF1 -> PyTorch rules equals our HF
  export, so the TF1 map agrees with the authors' names as HF reads them.
"""

import importlib.util

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import MobileBertPretrainer, build_encoder, get_preset
from mobilebert_tf.convert import exporter, name_maps
from mobilebert_tf.convert.architecture import ArchitectureMismatchError
from mobilebert_tf.convert.importer import CheckpointMismatchError, load_checkpoint
from mobilebert_tf.convert.safetensors import read_safetensors, write_safetensors
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.testing import relative_error

RTOL = 1e-5
VOCAB = 120

CONFIGS = {
    "mobilebert": get_preset("mobilebert_mini", num_layers=2, vocab_size=VOCAB,
                             max_position=64),
    "tiny": get_preset("mobilebert_tiny_mini", num_layers=2, vocab_size=VOCAB, max_position=64),
    "teacher_with_pooler": get_preset("ib_bert_mini", num_layers=2, vocab_size=VOCAB,
                                      max_position=64, intra_size=64, intermediate_size=128,
                                      hidden_dropout=0.0),
    "bert": get_preset("bert_mini", vocab_size=VOCAB, max_position=64, hidden_dropout=0.0),
}


def _random_pretrainer(config, seed=0):
    model = MobileBertPretrainer(build_encoder(config))
    model(model.example_inputs())
    rng = np.random.default_rng(seed)
    for w in model.weights:  # biases and norms random too: none may be dropped unnoticed
        w.assign(rng.normal(0.0, 0.5 if w.shape.rank == 1 else 0.1, w.shape).astype(np.float32)
                 + (1.0 if "gamma" in w.name else 0.0))
    model.encoder.word_embeddings[0].assign(tf.zeros([config.embedding_size]))  # [PAD]
    return model


def _inputs(config):
    inputs = encoder_inputs(2, 12, config.vocab_size, lengths=[12, 8])
    inputs["masked_lm_positions"] = tf.constant([[1, 4, 7], [0, 3, 6]])
    return inputs


def _assert_same(model, source, inputs):
    a, b = model(inputs), source(inputs)
    for key in ("sequence_output", "pooled_output", "mlm_logits", "nsp_logits"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_hf_state_dict_round_trip_and_reference(name, tmp_path, reference_forward):
    config = CONFIGS[name]
    source = _random_pretrainer(config)
    path = exporter.export_hf_safetensors(source, str(tmp_path / "model.safetensors"))

    model, report = load_checkpoint("hf", path, config, with_heads=True)

    assert not report.missing and not any(report.unused.values())
    inputs = _inputs(config)
    _assert_same(model, source, inputs)
    ref = reference_forward(read_safetensors(path), config, inputs["input_word_ids"].numpy(),
                     inputs["input_type_ids"].numpy(), inputs["input_mask"].numpy(),
                     inputs["masked_lm_positions"].numpy())
    ours = model(inputs)
    for key, expected in zip(("sequence_output", "pooled_output", "mlm_logits", "nsp_logits"),
                             ref):
        assert relative_error(ours[key], expected) <= RTOL, key


def test_hf_names_and_shapes_of_the_released_model():
    # Spot checks against google/mobilebert-uncased's state dict (24 layers, F=4).
    table = {e.source: e for e in name_maps.name_map("hf", get_preset("mobilebert"), True)}
    assert table["cls.predictions.dense.weight"].source_shape == (384, 30522)
    assert table["mobilebert.embeddings.embedding_transformation.weight"].source_shape == \
        (512, 384)
    assert table["mobilebert.encoder.layer.23.attention.self.value.weight"].source_shape == \
        (128, 512)
    assert table["mobilebert.encoder.layer.0.ffn.2.output.LayerNorm.weight"].target == \
        "layer_0/ffn_2/norm/gamma"
    assert table["mobilebert.encoder.layer.0.output.dense.weight"].target == \
        "layer_0/ffn_3/output/kernel"
    assert "mobilebert.pooler.dense.weight" not in table


def test_hf_tied_decoder_and_bare_model_names(tmp_path):
    config = CONFIGS["mobilebert"]
    source = _random_pretrainer(config)
    arrays = exporter.foreign_arrays(source, "hf")
    # A full HF state dict also holds the tied decoder copies and a position_ids buffer.
    word = arrays["mobilebert.embeddings.word_embeddings.weight"]
    arrays["cls.predictions.decoder.weight"] = word
    arrays["cls.predictions.decoder.bias"] = arrays["cls.predictions.bias"]
    arrays["mobilebert.embeddings.position_ids"] = np.arange(64)[None].astype(np.int64)
    path = write_safetensors(str(tmp_path / "full.safetensors"), arrays)
    model, report = load_checkpoint("hf", path, config, with_heads=True)
    assert sorted(report.tied) == ["cls.predictions.decoder.bias",
                                   "cls.predictions.decoder.weight"]
    assert report.unused["bookkeeping"] == ["mobilebert.embeddings.position_ids"]
    _assert_same(model, source, _inputs(config))

    # Untied copies that differ cannot be represented: an error, not a silent choice.
    arrays["cls.predictions.decoder.weight"] = arrays["cls.predictions.decoder.weight"] + 1
    write_safetensors(path, arrays)
    with pytest.raises(CheckpointMismatchError, match="decoder.weight differs"):
        load_checkpoint("hf", path, config, with_heads=True)

    # MobileBertModel (no `mobilebert.` prefix, no heads) loads as an encoder.
    bare = {k[len("mobilebert."):]: v for k, v in exporter.foreign_arrays(source.encoder, "hf")
            .items()}
    path = write_safetensors(str(tmp_path / "bare.safetensors"), bare)
    encoder, report = load_checkpoint("hf", path, config)
    assert not report.missing and not any(report.unused.values())


@pytest.mark.parametrize("name, einsum_kernels", [
    ("mobilebert", False), ("mobilebert", True), ("tiny", False), ("teacher_with_pooler", False),
    ("bert", False)])
def test_tf1_checkpoint_round_trip(name, einsum_kernels, tmp_path):
    config = CONFIGS[name]
    source = _random_pretrainer(config)
    prefix = exporter.export_tf1_checkpoint(source, str(tmp_path / "tf1" / "model.ckpt"),
                                            einsum_kernels=einsum_kernels)
    shapes = dict(tf.train.list_variables(prefix))
    if config.use_bottleneck:
        assert len(shapes["bert/encoder/layer_0/attention/self/query/kernel"]) == \
            (3 if einsum_kernels else 2)

    model, report = load_checkpoint("tf1", prefix, config, with_heads=True)

    assert not report.missing and not any(report.unused.values())
    _assert_same(model, source, _inputs(config))


def test_tf1_names_agree_with_huggingface_conversion_rules(hf_renaming):
    config = CONFIGS["mobilebert"]
    source = _random_pretrainer(config)
    tf1 = exporter.foreign_arrays(source, "tf1")
    hf = exporter.foreign_arrays(source, "hf")
    renamed = hf_renaming(tf1)
    assert sorted(renamed) == sorted(hf)
    for key in hf:
        np.testing.assert_array_equal(renamed[key], hf[key], err_msg=key)
    # The authors' names, literally (google-research mobilebert/modeling.py scopes).
    for name in ["bert/embeddings/FakeLayerNorm/gamma",
                 "bert/embeddings/embedding_transformation/kernel",
                 "bert/encoder/layer_1/bottleneck/input/FakeLayerNorm/beta",
                 "bert/encoder/layer_1/bottleneck/attention/dense/kernel",
                 "bert/encoder/layer_1/attention/output/FakeLayerNorm/gamma",
                 "bert/encoder/layer_1/ffn_layer_2/output/FakeLayerNorm/gamma",
                 "bert/encoder/layer_1/output/bottleneck/FakeLayerNorm/gamma",
                 "cls/predictions/transform/LayerNorm/gamma",
                 "cls/predictions/extra_output_weights"]:
        assert name in tf1, name
    assert tf1["cls/seq_relationship/output_weights"].shape == (2, config.hidden_size)
    assert "bert/encoder/layer_1/ffn_layer_3/intermediate/dense/kernel" not in tf1


def test_tf1_extra_variables_are_listed(tmp_path):
    config = CONFIGS["mobilebert"]
    arrays = exporter.foreign_arrays(_random_pretrainer(config).encoder, "tf1")
    arrays["global_step"] = np.int64(7)
    slot = "bert/encoder/layer_0/attention/self/query/kernel/adam_m"
    arrays[slot] = np.zeros((32, 32), np.float32)
    arrays["teacher/bert/embeddings/word_embeddings"] = np.zeros((VOCAB, 32), np.float32)
    prefix = exporter.write_tf1_checkpoint(arrays, str(tmp_path / "model.ckpt"))
    _, report = load_checkpoint("tf1", prefix, config)
    assert report.unused == {"optimizer": [slot],
                             "bookkeeping": ["global_step"], "heads_not_requested": [],
                             "unknown": ["teacher/bert/embeddings/word_embeddings"]}
    assert "teacher/bert/embeddings/word_embeddings" in report.summary()
    # Asking for heads the checkpoint lacks: listed as missing, not an error.
    _, report = load_checkpoint("tf1", prefix, config, with_heads=True)
    assert "mlm_head/extra_output_weights" in report.missing


def test_tf1_bert_base_checkpoint_given_as_mobilebert(tmp_path):
    bert = _random_pretrainer(CONFIGS["bert"]).encoder
    prefix = exporter.export_tf1_checkpoint(bert, str(tmp_path / "bert.ckpt"))
    with pytest.raises(ArchitectureMismatchError,
                       match=r"(?s)use_bottleneck: checkpoint False, config True.*plain BERT"):
        load_checkpoint("tf1", prefix, CONFIGS["mobilebert"])


def test_vocab_size_mismatch(tmp_path):
    config = CONFIGS["mobilebert"]
    prefix = exporter.export_tf1_checkpoint(_random_pretrainer(config).encoder,
                                            str(tmp_path / "m.ckpt"))
    with pytest.raises(ArchitectureMismatchError,
                       match=rf"(?s)vocab_size: checkpoint {VOCAB}, config 30522.*vocabulary"):
        load_checkpoint("tf1", prefix, config.replace(vocab_size=30522))


def test_wrong_shape_is_reported_per_variable(tmp_path):
    config = CONFIGS["mobilebert"]
    arrays = exporter.foreign_arrays(_random_pretrainer(config).encoder, "tf1")
    arrays["bert/encoder/layer_1/attention/self/value/bias"] = np.zeros(7, np.float32)
    prefix = exporter.write_tf1_checkpoint(arrays, str(tmp_path / "m.ckpt"))
    with pytest.raises(CheckpointMismatchError,
                       match=r"layer_1/attention/self/value/bias: shape \[7\], expected \[32\]"):
        load_checkpoint("tf1", prefix, config)


def test_wrong_format_is_a_clear_error(tmp_path):
    config = CONFIGS["mobilebert"]
    prefix = exporter.export_tf1_checkpoint(_random_pretrainer(config).encoder,
                                            str(tmp_path / "m.ckpt"))
    with pytest.raises(ArchitectureMismatchError, match="Is --source_format right"):
        load_checkpoint("tfmg", prefix, config)
    if importlib.util.find_spec("torch") is None:  # .bin files need torch; say so
        (tmp_path / "pytorch_model.bin").write_bytes(b"")
        with pytest.raises(ImportError, match="needs PyTorch"):
            load_checkpoint("hf", str(tmp_path), config)
