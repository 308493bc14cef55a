import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import get_preset
from mobilebert_tf.encoder import embedding_layer, transformer_block
from mobilebert_tf.layers import (AttentionMask, FeedForward, MaskedLMHead,
                                  MultiHeadSelfAttention, NoNorm, Pooler, SeededDropout,
                                  dropout_seed)
from mobilebert_tf.layers.attention import MASK_LOGIT
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.testing import assert_config_round_trip


def test_no_norm_is_elementwise_affine():
    layer = NoNorm()
    x = tf.random.normal([2, 3, 4])
    layer(x)
    layer.set_weights([np.arange(4.0), np.full(4, 0.5)])  # gamma, beta
    np.testing.assert_allclose(layer(x), x.numpy() * np.arange(4.0) + 0.5, rtol=1e-6)
    assert [w.name for w in layer.weights] == ["no_norm/gamma:0", "no_norm/beta:0"]


def test_trigram_embedding_concatenates_next_current_previous():
    config = get_preset("mobilebert_mini", vocab_size=20, embedding_size=4, hidden_size=8)
    layer = embedding_layer(config)
    inputs = encoder_inputs(2, 5, config.vocab_size, lengths=[5, 3], seed=3)
    ids, mask, types = (inputs[k].numpy() for k in ("input_word_ids", "input_mask",
                                                    "input_type_ids"))
    layer(inputs["input_word_ids"], inputs["input_type_ids"], inputs["input_mask"])
    rng = np.random.default_rng(0)
    layer.norm_layer.set_weights([rng.normal(size=8), rng.normal(size=8)])

    words = layer.word_embeddings.numpy()[ids] * mask[..., None]  # [PAD] neighbours are zero
    zeros = np.zeros_like(words[:, :1])
    following = np.concatenate([words[:, 1:], zeros], axis=1)
    preceding = np.concatenate([zeros, words[:, :-1]], axis=1)
    kernel, bias = layer.projection.get_weights()
    summed = (np.concatenate([following, words, preceding], axis=-1) @ kernel + bias
              + layer.position_embeddings.numpy()[:5] + layer.token_type_embeddings.numpy()[types])
    gamma, beta = layer.norm_layer.get_weights()
    actual = layer(inputs["input_word_ids"], inputs["input_type_ids"], inputs["input_mask"])
    np.testing.assert_allclose(actual, summed * gamma + beta, rtol=1e-5, atol=1e-6)


def test_embedding_without_trigram_or_projection_is_plain_bert():
    layer = embedding_layer(get_preset("bert_mini", vocab_size=50))
    assert layer.projection is None


def test_attention_mask_gives_padded_keys_no_weight():
    adder = AttentionMask()(tf.constant([[1, 1, 0]]))
    np.testing.assert_array_equal(adder[0, 0, 0], [0.0, 0.0, MASK_LOGIT])
    attention = MultiHeadSelfAttention(num_heads=2, head_size=4, output_size=8,
                                       attention_dropout=0.0, initializer_range=0.5)
    x = tf.random.normal([1, 3, 8])
    _, logits = attention(x, x, x, adder)
    assert logits.shape == (1, 2, 3, 3)
    probs = tf.nn.softmax(logits).numpy()
    assert probs[..., 2].max() == 0.0


@pytest.mark.parametrize("preset, qkv_widths", [
    ("ib_bert_mini", (128, 128, 128)),            # teacher: Q, K, V from the block input
    ("mobilebert_mini", (32, 32, 128)),           # shared Q/K bottleneck, V from block input
    ("mobilebert_tiny_mini", (32, 32, 32)),       # everything from the input bottleneck
    ("bert_mini", (128, 128, 128)),
])
def test_block_qkv_variants_read_the_right_inputs(preset, qkv_widths):
    config = get_preset(preset)
    block = transformer_block(config, "block")
    x = tf.random.normal([2, 6, config.hidden_size])
    output, logits = block(x, tf.zeros([2, 1, 1, 6]))
    assert output.shape == x.shape and logits.shape == (2, config.num_heads, 6, 6)
    attention = block.attention
    widths = tuple(d.kernel.shape[0] for d in (attention.query_dense, attention.key_dense,
                                                attention.value_dense))
    assert widths == qkv_widths
    assert len(block.ffns) == config.num_ffn
    assert (block.bottleneck_input is not None) == config.use_bottleneck
    assert (block.kq_bottleneck is not None) == (config.qkv_source == "shared_bottleneck")


def test_block_rejects_wrong_width():
    block = transformer_block(get_preset("mobilebert_mini"), "block")
    with pytest.raises(ValueError, match="expects width 128"):
        block(tf.zeros([1, 4, 64]), tf.zeros([1, 1, 1, 4]))


def test_teacher_block_dropout_only_in_training():
    block = transformer_block(get_preset("ib_bert_mini", hidden_dropout=0.5), "block")
    x, adder = tf.random.normal([2, 6, 128]), tf.zeros([2, 1, 1, 6])
    np.testing.assert_array_equal(block(x, adder)[0], block(x, adder, training=False)[0])
    assert not np.allclose(block(x, adder, training=True)[0], block(x, adder)[0])


def test_seeded_dropout_masks_are_a_function_of_the_seed():
    layer, x = SeededDropout(0.25), tf.ones([64, 128])

    def two_calls(seed):
        with dropout_seed(tf.constant(seed, tf.int32)):
            return [layer(x, training=True).numpy() for _ in range(2)]

    first, second = two_calls([0, 5])
    np.testing.assert_array_equal(two_calls([0, 5])[0], first)  # same seed, same mask
    assert not np.array_equal(second, first)  # each call in the scope: its own mask
    assert not np.array_equal(two_calls([0, 6])[0], first)  # next step
    np.testing.assert_allclose(np.unique(first), [0.0, 1 / 0.75], rtol=1e-6)  # inverted
    assert abs((first == 0).mean() - 0.25) < 0.02
    with dropout_seed(tf.constant([0, 5])):
        np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(layer(x), x)


@pytest.mark.parametrize("preset", ["ib_bert_mini", "mobilebert_mini", "mobilebert_tiny_mini",
                                    "bert_mini"])
def test_layers_round_trip_get_config(preset):
    config = get_preset(preset, vocab_size=40)
    inputs = encoder_inputs(2, 6, config.vocab_size, lengths=[6, 4])
    adder = AttentionMask()(inputs["input_mask"])
    x = tf.random.normal([2, 6, config.hidden_size])
    assert_config_round_trip(embedding_layer(config), lambda layer: layer(
        inputs["input_word_ids"], inputs["input_type_ids"], inputs["input_mask"]))
    assert_config_round_trip(transformer_block(config, "block"), lambda layer: layer(x, adder))
    assert_config_round_trip(
        FeedForward(64, config.activation, config.norm, 1e-12, 0.0, 0.02, name="ffn"),
        lambda layer: layer(x))
    assert_config_round_trip(Pooler(config.hidden_size, config.use_pooler, 0.02),
                             lambda layer: layer(x))
    table = tf.random.normal([config.vocab_size, config.embedding_size])
    assert_config_round_trip(
        MaskedLMHead(config.vocab_size, config.embedding_size, config.hidden_size,
                     config.activation, 1e-12, 0.02),
        lambda layer: layer(x, tf.constant([[0, 2], [1, 5]]), table))


def test_layers_name_their_weights():
    block = transformer_block(get_preset("mobilebert_mini", num_ffn=2), "layer_7")
    block(tf.zeros([1, 3, 128]), tf.zeros([1, 1, 1, 3]))
    names = {w.name for w in block.weights}
    for expected in ("layer_7/bottleneck_input/kernel:0", "layer_7/kq_bottleneck_norm/gamma:0",
                     "layer_7/attention/query/kernel:0", "layer_7/attention/output/bias:0",
                     "layer_7/ffn_1/intermediate/kernel:0", "layer_7/ffn_1/norm/beta:0",
                     "layer_7/bottleneck_output_norm/gamma:0"):
        assert expected in names
