"""The encoder export is a TF-Hub reusable SavedModel: loaded with `tensorflow_hub` itself, the
"classify text with BERT" flow (preprocessor and encoder as `hub.KerasLayer`s, a `Dense` on
`pooled_output`, `fit`) fine-tunes every encoder variable, sentence pairs go through the
preprocessor's `tokenize` and `bert_pack_inputs`, and the outputs are the Keras encoder's."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras as keras

from mobilebert_tf import build_encoder
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.export import exporter

SEQ = 32
TEXTS = ["a good movie !", "bad , bad .", "it is good .", "no , not good .", "great fun",
         "dull and slow", "what a delight", "a waste of time"]
LABELS = [1, 0, 1, 0, 1, 0, 1, 0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 2-layer encoder with dropout (max_position 64: the preprocessor packs at 32 and 64
    only, fast to save) exported with its tokenizer, no .tflite."""
    keras.utils.set_random_seed(0)
    encoder = build_encoder("mobilebert_mini", num_layers=2, max_position=64,
                            hidden_dropout=0.1)
    out = tmp_path_factory.mktemp("hub")
    exporter.export(encoder, str(out), precisions=(), seq_length=SEQ,
                    tokenizer=BertInputTokenizer(seq_length=SEQ), log=lambda _: None)
    return encoder, str(out / "preprocessing"), str(out / "saved_model")


def test_outputs_are_the_keras_encoders_at_any_batch_and_length(exported):
    encoder, preprocessing, saved_model = exported
    loaded = hub.load(saved_model)
    assert len(loaded.variables) == len(encoder.variables) > 0
    assert len(loaded.trainable_variables) == len(encoder.trainable_variables)
    assert list(loaded.regularization_losses) == []
    preprocessor = hub.load(preprocessing)
    layer = hub.KerasLayer(saved_model, trainable=True)
    firsts, seconds = TEXTS[:5], TEXTS[3:]  # 5 pairs, packed at 64: not the export's 1 x 32
    packed = hub.KerasLayer(preprocessor.bert_pack_inputs, arguments={"seq_length": 64})(
        [preprocessor.tokenize(tf.constant(firsts)), preprocessor.tokenize(tf.constant(seconds))])
    assert packed["input_word_ids"].shape == (5, 64)
    assert set(packed["input_type_ids"].numpy().ravel()) == {0, 1}
    got, want = layer(packed), encoder(packed, training=False)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(got[key], want[key], atol=1e-5, err_msg=key)
    assert len(got["encoder_outputs"]) == 2  # each block's output, as TF-Hub BERT's
    for block, (ours, theirs) in enumerate(zip(got["encoder_outputs"],
                                               want["encoder_outputs"][1:])):
        np.testing.assert_allclose(ours, theirs, atol=1e-5, err_msg=f"block {block}")
    dropped = layer(packed, training=True)["sequence_output"]
    assert np.abs(dropped - got["sequence_output"]).max() > 1e-3  # dropout is on
    serve = loaded.signatures["serving_default"]  # kept, at the export's [1, 32]
    one = {key: value[:1, :SEQ] for key, value in packed.items()}
    np.testing.assert_allclose(serve(**one)["pooled_output"],
                               encoder(one)["pooled_output"], atol=1e-5)


def test_classify_text_flow_fine_tunes_every_encoder_variable(exported):
    _, preprocessing, saved_model = exported
    keras.utils.set_random_seed(1)
    text = keras.Input(shape=(), dtype=tf.string)
    encoder = hub.KerasLayer(saved_model, trainable=True)
    pooled = encoder(hub.KerasLayer(preprocessing)(text))["pooled_output"]
    model = keras.Model(text, keras.layers.Dense(2)(keras.layers.Dropout(0.1)(pooled)))
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    texts, labels = tf.constant(TEXTS), tf.constant(LABELS)
    before = [v.numpy() for v in encoder.trainable_weights]
    assert len(before) == len(hub.load(saved_model).trainable_variables)
    start = model.evaluate(texts, labels, verbose=0)  # no dropout: training=False reaches it
    model.fit(texts, labels, batch_size=8, epochs=20, verbose=0)
    assert model.evaluate(texts, labels, verbose=0) < 0.5 * start
    frozen = [w.name for w, b in zip(encoder.trainable_weights, before)
              if np.array_equal(w.numpy(), b)]
    assert frozen == []
