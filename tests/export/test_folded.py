"""The folded export graph equals the Keras model (it is exact algebra, so float32 agreement
to ~1e-6 relative), for every block variant, norm kind, head, and scale regime."""

import math

import pytest

from mobilebert_tf import MobileBertClassifier, MobileBertSpanLabeler, build_encoder
from mobilebert_tf.export import folded
from mobilebert_tf.export.tflite import folded_model, serving_outputs
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.testing import relative_error
from mobilebert_tf.weights import randomize_norms

TOLERANCE = 1e-5
# Norms get signed gammas over a wide range: the folded graph divides by them.


def _assert_equal_outputs(model, graph):
    inputs = encoder_inputs(2, 12, 300, lengths=[12, 7])
    want, got = serving_outputs(model, inputs), graph(inputs)
    assert set(want) == set(got)
    for name in want:
        assert relative_error(got[name], want[name]) <= TOLERANCE, name


@pytest.mark.parametrize("preset", ["mobilebert_mini", "mobilebert_tiny_mini", "ib_bert_mini",
                                    "bert_mini"])
@pytest.mark.parametrize("low, high", [(0.5, 1.5), (0.05, 4.0)])
def test_folded_encoder_equals_keras(preset, low, high):
    encoder = build_encoder(preset, num_layers=3, vocab_size=300)
    randomize_norms(encoder, low, high, signed=True)
    _assert_equal_outputs(encoder, folded_model(encoder))


@pytest.mark.parametrize("make", [lambda e: MobileBertClassifier(e, num_classes=3),
                                  MobileBertSpanLabeler])
def test_folded_heads_equal_keras(make):
    model = make(build_encoder("mobilebert_mini", num_layers=2, vocab_size=300))
    model(model.example_inputs())
    randomize_norms(model.encoder, 0.5, 1.5, signed=True)
    _assert_equal_outputs(model, folded_model(model))


def test_norms_are_folded_and_dense_layers_merged():
    encoder = build_encoder("mobilebert_mini", num_layers=2, vocab_size=300)
    randomize_norms(encoder, 0.9, 1.1, signed=True)  # narrow: the scale is never materialized
    graph = folded_model(encoder)
    names = set(graph.constants)
    assert not any("scale" in n for n in names if n != "final_scale")
    # One matmul reads the block input (bottleneck | shared Q/K bottleneck | V), one the
    # shared bottleneck (Q | K); no separate norm parameters remain.
    assert graph.constants["layer_0/input/kernel"].shape == (128, 32 + 32 + 32)
    assert graph.constants["layer_0/qk/kernel"].shape == (32, 64)
    assert not any(n.endswith(("gamma", "beta")) for n in names)


def test_wide_scales_are_materialized():
    encoder = build_encoder("mobilebert_mini", num_layers=2, vocab_size=300)
    randomize_norms(encoder, 0.05, 4.0, signed=True)
    names = set(folded_model(encoder).constants)
    assert any(n.endswith("/scale") for n in names)
    assert folded.MAX_SCALE_SPREAD < 100
    # A float graph may carry the scale to the end whatever its spread, exactly.
    carried = folded.FoldedModel(encoder, max_scale_spread=math.inf)
    assert not any(n.endswith("/scale") for n in carried.constants)
    _assert_equal_outputs(encoder, carried)
