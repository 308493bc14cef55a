"""Golden comparison with tf-models-official's (TFMG's) encoders, weights ported by name.

Tolerance: relative, max|ours - theirs| / max|theirs| <= 1e-5 per layer output. NoNorm
activations are unnormalized and grow with depth, so an absolute bound would be meaningless;
1e-5 is ~100 float32 ulps of accumulated reordering (TFMG scales Q before QK^T, we scale the
product; einsum vs matmul summation order).

Where our masking differs from TFMG's: TFMG's 3-gram window gives the last real token the
[PAD] embedding as its t+1 neighbour; ours gives zeros (as past the sequence end), so our
outputs do not change with the amount of padding. With the [PAD] row zeroed the two agree on
padded inputs too, which is what the padded case below checks. (Masked keys: TFMG adds -1e9
inside softmax, we add -1e4 to the logits; both give exactly zero weight in float32.)
"""

import numpy as np
import pytest
import tensorflow as tf
from official.nlp.modeling.networks import bert_encoder

from mobilebert_tf import build_encoder, get_preset
from mobilebert_tf.convert.tfmg import port_tfmg_encoder
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.testing import relative_error, tfmg_mobilebert_encoder
from mobilebert_tf.weights import randomize_norms

RTOL = 1e-5


def _compare(ours, theirs, inputs):
    a, b = ours(inputs, training=False), theirs(inputs, training=False)
    # TFMG's BertEncoderV2 lists the block outputs only; its MobileBERTEncoder and ours start
    # with the embedding output.
    skip = len(a["encoder_outputs"]) - len(b["encoder_outputs"])
    assert skip in (0, 1) and skip == (type(theirs).__name__ == "BertEncoderV2")
    for layer, (x, y) in enumerate(zip(a["encoder_outputs"][skip:], b["encoder_outputs"])):
        assert relative_error(x, y) <= RTOL, f"encoder_outputs[{layer + skip}]"
    assert relative_error(a["sequence_output"], b["sequence_output"]) <= RTOL
    assert relative_error(a["pooled_output"], b["pooled_output"]) <= RTOL
    if "attention_scores" in b:  # TFMG returns probabilities; ours are logits
        for layer, (x, y) in enumerate(zip(a["attention_logits"], b["attention_scores"])):
            np.testing.assert_allclose(tf.nn.softmax(x), y, atol=1e-6,
                                       err_msg=f"attention layer {layer}")


@pytest.mark.slow
@pytest.mark.parametrize("preset, overrides", [
    ("mobilebert", {}),
    ("mobilebert_tiny", {}),
    ("ib_bert_large", dict(num_layers=3, hidden_size=128, intra_size=256,
                           intermediate_size=512, vocab_size=1000)),  # small teacher shape
])
def test_mobilebert_encoder_parity(preset, overrides):
    config = get_preset(preset, **overrides)
    ours, theirs = build_encoder(config), tfmg_mobilebert_encoder(config)
    randomize_norms(theirs)
    port_tfmg_encoder(theirs, ours)

    _compare(ours, theirs, encoder_inputs(2, 16, config.vocab_size))

    # Padded inputs: equal once the [PAD] row is zero in both (see the module docstring).
    for table in (ours.word_embeddings, theirs.get_embedding_table()):
        table[0].assign(tf.zeros([config.embedding_size]))
    _compare(ours, theirs, encoder_inputs(2, 16, config.vocab_size, lengths=[16, 9]))


def test_padded_inputs_differ_from_tfmg_only_through_the_pad_embedding():
    config = get_preset("mobilebert_mini", num_layers=2, vocab_size=100)
    ours, theirs = build_encoder(config), tfmg_mobilebert_encoder(config)
    port_tfmg_encoder(theirs, ours)
    inputs = encoder_inputs(1, 12, 100, lengths=[7])
    a, b = (m(inputs)["encoder_outputs"][0] for m in (ours, theirs))
    assert relative_error(a[:, :6], b[:, :6]) <= RTOL
    assert relative_error(a[:, 6], b[:, 6]) > 1e-3  # the last real token's t+1 is [PAD] in TFMG


def test_bert_encoder_parity():
    config = get_preset("bert_mini", vocab_size=200, hidden_dropout=0.0)
    ours = build_encoder(config)
    theirs = bert_encoder.BertEncoderV2(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_layers=config.num_layers, num_attention_heads=config.num_heads,
        max_sequence_length=config.max_position, type_vocab_size=config.type_vocab_size,
        inner_dim=config.intermediate_size, inner_activation="gelu", output_dropout=0.0,
        attention_dropout=0.0)
    inputs = encoder_inputs(2, 16, config.vocab_size, lengths=[16, 10])
    theirs(inputs)
    randomize_norms(theirs)
    port_tfmg_encoder(theirs, ours)
    _compare(ours, theirs, inputs)


def test_port_rejects_another_architecture():
    ours = build_encoder("mobilebert_mini", num_layers=2, vocab_size=100)
    theirs = tfmg_mobilebert_encoder(get_preset("mobilebert_mini", num_layers=3, vocab_size=100))
    with pytest.raises(ValueError, match="absent from the target.*layer_2"):
        port_tfmg_encoder(theirs, ours)
