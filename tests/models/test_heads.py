import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf import (INPUT_KEYS, MobileBertClassifier, MobileBertPretrainer,
                           MobileBertSpanLabeler, build_encoder)
from mobilebert_tf.signature import encoder_inputs


def _encoder(preset="mobilebert_mini"):
    return build_encoder(preset, vocab_size=64, num_layers=2)


def _pretraining_inputs():
    inputs = encoder_inputs(2, 8, 64, lengths=[8, 5])
    inputs["masked_lm_positions"] = tf.constant([[1, 3, 6], [0, 2, 4]])
    return inputs


@pytest.mark.parametrize("preset", ["mobilebert_mini", "bert_mini"])
def test_mlm_head_uses_word_table_and_extra_columns(preset):
    model = MobileBertPretrainer(_encoder(preset))
    inputs = _pretraining_inputs()
    outputs = model(inputs)
    assert outputs["mlm_logits"].shape == (2, 3, 64) and outputs["nsp_logits"].shape == (2, 2)

    head = model.mlm_head
    sequence = outputs["sequence_output"].numpy()
    gathered = np.stack([sequence[b, inputs["masked_lm_positions"][b].numpy()] for b in range(2)])
    hidden = head.layer_norm(head.dense(gathered)).numpy()
    table = model.encoder.word_embeddings.numpy()
    if head.extra_output_weights is not None:  # MobileBERT: [W_word | extra]
        table = np.concatenate([table, head.extra_output_weights.numpy()], axis=1)
    else:  # BERT-base: embedding width == hidden width, tied table only
        assert table.shape[1] == model.encoder.config.hidden_size
    expected = hidden @ table.T + head.output_bias.numpy()
    np.testing.assert_allclose(outputs["mlm_logits"], expected, rtol=1e-5, atol=1e-5)


def test_mlm_head_shares_the_encoders_word_table():
    model = MobileBertPretrainer(_encoder())
    model(_pretraining_inputs())
    table = model.encoder.word_embeddings
    assert sum(w is table for w in model.trainable_weights) == 1


def test_pretrainer_needs_masked_positions():
    model = MobileBertPretrainer(_encoder())
    with pytest.raises(ValueError, match="masked_lm_positions"):
        model(encoder_inputs(1, 4, 64))


@pytest.mark.parametrize("num_classes", [1, 3])
def test_classifier(num_classes):
    model = MobileBertClassifier(_encoder(), num_classes=num_classes)
    assert model(encoder_inputs(2, 8, 64)).shape == (2, num_classes)


def test_classifier_rejects_zero_classes():
    with pytest.raises(ValueError, match="num_classes"):
        MobileBertClassifier(_encoder(), num_classes=0)


def test_span_labeler():
    outputs = MobileBertSpanLabeler(_encoder())(encoder_inputs(2, 8, 64))
    assert outputs["start_logits"].shape == outputs["end_logits"].shape == (2, 8)
    assert not np.allclose(outputs["start_logits"], outputs["end_logits"])


@pytest.mark.parametrize("make, inputs", [
    (lambda e: MobileBertPretrainer(e), _pretraining_inputs),
    (lambda e: MobileBertClassifier(e, num_classes=2), lambda: encoder_inputs(2, 8, 64)),
    (lambda e: MobileBertSpanLabeler(e), lambda: encoder_inputs(2, 8, 64)),
])
def test_task_models_save_and_reload(make, inputs, tmp_path):
    model = make(_encoder())
    x = inputs()
    expected = model(x)
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded) is type(model)
    tf.nest.map_structure(lambda a, b: np.testing.assert_array_equal(a, b), reloaded(x), expected)
    assert set(INPUT_KEYS) <= set(x)
