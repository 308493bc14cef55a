import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf import INPUT_KEYS, MobileBertEncoder, build_encoder, get_preset
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.summary import encoder_flops

PRESETS = ["ib_bert_mini", "mobilebert_mini", "mobilebert_tiny_mini", "bert_mini"]


def _mini(preset, **overrides):
    return build_encoder(preset, **{"vocab_size": 64, "num_layers": 2, **overrides})


@pytest.mark.parametrize("preset", PRESETS)
def test_outputs(preset):
    encoder = _mini(preset)
    config = encoder.config
    outputs = encoder(encoder_inputs(3, 7, 64, lengths=[7, 5, 2]))
    assert outputs["sequence_output"].shape == (3, 7, config.hidden_size)
    assert outputs["pooled_output"].shape == (3, config.hidden_size)
    assert len(outputs["encoder_outputs"]) == config.num_layers + 1
    assert len(outputs["attention_logits"]) == config.num_layers
    assert outputs["attention_logits"][0].shape == (3, config.num_heads, 7, 7)
    np.testing.assert_array_equal(outputs["encoder_outputs"][-1], outputs["sequence_output"])
    first = outputs["sequence_output"][:, 0]
    if config.use_pooler:
        np.testing.assert_allclose(outputs["pooled_output"], np.tanh(
            first @ encoder.pooler.dense.kernel.numpy() + encoder.pooler.dense.bias.numpy()),
            rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(outputs["pooled_output"], first)


@pytest.mark.parametrize("preset", PRESETS)
def test_mixed_bfloat16_computes_in_bfloat16_with_float32_weights(preset):
    """What `--mixed_precision mixed_bfloat16` (the TPU setting) builds."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        encoder = _mini(preset)
        inputs = encoder_inputs(2, 7, 64, lengths=[7, 3])
        with tf.GradientTape() as tape:
            outputs = encoder(inputs, training=True)
            loss = tf.reduce_sum(tf.cast(outputs["pooled_output"], tf.float32) ** 2)
        gradients = tape.gradient(loss, encoder.trainable_weights)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert outputs["sequence_output"].dtype == tf.bfloat16
    assert outputs["attention_logits"][0].dtype == tf.bfloat16
    assert {w.dtype for w in encoder.weights} == {tf.float32}
    assert all(g is not None and np.all(np.isfinite(tf.convert_to_tensor(g))) for g in gradients)


@pytest.mark.parametrize("preset", PRESETS)
def test_real_tokens_do_not_depend_on_padding(preset):
    encoder = _mini(preset)
    short = encoder_inputs(1, 5, 64, seed=7)
    padded = {k: tf.pad(v, [[0, 0], [0, 11]]) for k, v in short.items()}
    a, b = encoder(short), encoder(padded)
    for x, y in zip(a["encoder_outputs"], b["encoder_outputs"]):
        np.testing.assert_allclose(y[:, :5], x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("preset", PRESETS)
def test_get_config_round_trip_and_save_reload(preset, tmp_path):
    encoder = _mini(preset)
    inputs = encoder_inputs(2, 6, 64, lengths=[6, 3])
    expected = encoder(inputs)["sequence_output"]

    clone = MobileBertEncoder.from_config(encoder.get_config())
    assert clone.config == encoder.config
    clone.set_weights(encoder.get_weights())
    np.testing.assert_array_equal(clone(inputs)["sequence_output"], expected)

    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, MobileBertEncoder) and reloaded.config == encoder.config
    np.testing.assert_array_equal(reloaded(inputs)["sequence_output"], expected)


def test_accepts_int64_and_numpy_inputs_and_works_in_tf_function():
    encoder = _mini("mobilebert_mini")
    inputs = encoder_inputs(2, 6, 64)
    expected = encoder(inputs)["sequence_output"]
    as_numpy = {k: v.numpy().astype(np.int64) for k, v in inputs.items()}
    np.testing.assert_array_equal(encoder(as_numpy)["sequence_output"], expected)
    as_int64 = {k: tf.cast(v, tf.int64) for k, v in inputs.items()}
    run = tf.function(lambda x: encoder(x)["sequence_output"],
                      input_signature=[{k: tf.TensorSpec([None, None], tf.int64)
                                        for k in INPUT_KEYS}])
    np.testing.assert_allclose(run(as_int64), expected, rtol=1e-6, atol=1e-6)


def test_wrong_input_keys():
    encoder = _mini("mobilebert_mini")
    inputs = encoder_inputs(1, 4, 64)
    inputs["segment_ids"] = inputs.pop("input_type_ids")
    with pytest.raises(ValueError, match="input_type_ids.*got.*segment_ids"):
        encoder(inputs)
    with pytest.raises(ValueError, match="takes a dict"):
        encoder([inputs["input_word_ids"]] * 3)


def test_sequence_longer_than_position_table():
    encoder = _mini("mobilebert_mini", max_position=8)
    with pytest.raises(ValueError, match="Sequence length 9 exceeds the position table"):
        encoder(encoder_inputs(1, 9, 64))
    # With an unknown static length the check runs in the graph.
    run = tf.function(lambda x: encoder(x)["sequence_output"],
                      input_signature=[{k: tf.TensorSpec([None, None], tf.int32)
                                        for k in INPUT_KEYS}])
    assert run(encoder_inputs(1, 8, 64)).shape == (1, 8, 128)
    with pytest.raises(tf.errors.InvalidArgumentError, match="exceeds the position table"):
        run(encoder_inputs(1, 9, 64))


def test_rank_1_and_float_inputs():
    encoder = _mini("mobilebert_mini")
    inputs = {k: v[0] for k, v in encoder_inputs(1, 4, 64).items()}
    with pytest.raises(ValueError, match=r"input_word_ids must have shape \[batch, seq_length\]"):
        encoder(inputs)
    floats = {k: tf.cast(v, tf.float32) for k, v in encoder_inputs(1, 4, 64).items()}
    with pytest.raises(ValueError, match="integer"):
        encoder(floats)


def test_inputs_that_disagree_on_length():
    inputs = encoder_inputs(1, 4, 64)
    inputs["input_mask"] = tf.ones([1, 5], tf.int32)
    with pytest.raises(ValueError, match="disagree on seq_length"):
        _mini("mobilebert_mini")(inputs)


def test_build_encoder_rejects_other_types():
    with pytest.raises(TypeError, match="preset name"):
        build_encoder(42)


@pytest.mark.parametrize("preset", PRESETS)
def test_flops_equal_the_built_models_matmuls(preset):
    encoder = _mini(preset)
    seq = 16
    dense_macs = sum(v.shape[0] * v.shape[1] for v in encoder.weights
                     if v.name.endswith("kernel:0") and not v.name.startswith("pooler"))
    attention_macs = encoder.config.num_layers * 2 * seq * encoder.config.intra_size
    assert encoder_flops(encoder.config, seq) == 2 * seq * (dense_macs + attention_macs)


def test_mobilebert_flops_at_seq_128():
    # 5.39 GFLOP, as measured for the reference encoder (issue 5).
    assert round(encoder_flops(get_preset("mobilebert"), 128) / 1e9, 2) == 5.39
