"""Text-in serving: the SavedModels' string signatures and the encoder's TF-Hub-style
preprocessing SavedModel, reloaded, give the Python pipeline's ids and predictions on real
text (Rotten Tomatoes dev snippets, SQuAD-like paragraphs), and refuse non-UTF-8 by name."""

import dataclasses
import importlib.util
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter
from official.nlp.tools import tokenization

from mobilebert_tf import MobileBertClassifier, MobileBertSpanLabeler, build_encoder
from mobilebert_tf.data import sentiment, squad
from mobilebert_tf.data.classification import TextExample, tokenize_examples
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.export import exporter, text_serving, tflite
from mobilebert_tf.weights import randomize_norms

SEQ = 32  # short: most dev snippets and every pair get truncated
SQUAD_SEQ = 48
NO_LOG = dict(log=lambda _: None)


def _load_finetune_conftest():
    """The SQuAD sample of tests/finetune (a conftest: not importable by name)."""
    path = pathlib.Path(__file__).parents[1] / "finetune" / "conftest.py"
    spec = importlib.util.spec_from_file_location("finetune_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tokenizer():
    return BertInputTokenizer(seq_length=SEQ)  # BERT uncased: the mini preset's vocab size


@pytest.fixture(scope="module")
def dev_texts():
    """48 dev snippets spread over the split, plus every one with a non-ASCII character (the
    ones where tokenizers disagree most)."""
    texts = [e.text_a for e in sentiment.read_rotten_tomatoes("validation")]
    return texts[::len(texts) // 48][:48] + [t for t in texts if not t.isascii()]


def _trained_like(make):
    """`make(encoder)` with norms off the identity and a head with logits spread far wider
    than float rounding, so that predicted labels and spans are not near-ties; seeded here
    (module fixtures run before the per-test seed)."""
    keras.utils.set_random_seed(0)
    model = make(build_encoder("mobilebert_mini", num_layers=2))
    model(model.example_inputs())
    randomize_norms(model.encoder)
    head = model.classifier if isinstance(model, MobileBertClassifier) else model.span_logits
    head.kernel.assign(head.kernel * 100.0)
    return model


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, tokenizer):
    """A 3-class classifier exported with its tokenizer (and to a float32 .tflite, which
    converts the ids signature only), and its reloaded SavedModel."""
    model = _trained_like(lambda encoder: MobileBertClassifier(encoder, num_classes=3))
    out = str(tmp_path_factory.mktemp("classifier"))
    results = exporter.export(model, out, precisions=("float32",), seq_length=SEQ,
                              tokenizer=tokenizer, **NO_LOG)
    signatures = Interpreter(model_path=results["float32"]["path"]).get_signature_list()
    assert list(signatures) == ["serving_default"]
    return model, tf.saved_model.load(f"{out}/saved_model")


@pytest.fixture(scope="module")
def span_labeler(tmp_path_factory, tokenizer):
    model = _trained_like(MobileBertSpanLabeler)
    out = tflite.save_saved_model(model, str(tmp_path_factory.mktemp("squad")), 1, SQUAD_SEQ,
                                  tokenizer=tokenizer)
    return model, tf.saved_model.load(out)


def test_classifier_text_signatures_match_the_python_pipeline(classifier, tokenizer,
                                                               dev_texts):
    model, loaded = classifier
    pairs = list(zip(dev_texts, dev_texts[1:] + dev_texts[:1]))
    for name, examples, strings in [
            (text_serving.TEXT_SIGNATURE, [TextExample(str(i), t, None, 0)
                                           for i, t in enumerate(dev_texts)],
             {"text": dev_texts}),
            (text_serving.TEXT_PAIR_SIGNATURE, [TextExample(str(i), a, b, 0)
                                                for i, (a, b) in enumerate(pairs)],
             {"text_a": [a for a, _ in pairs], "text_b": [b for _, b in pairs]})]:
        want = model(tokenize_examples(examples, tokenizer, SEQ), training=False).numpy()
        got = loaded.signatures[name](**{k: tf.constant(v) for k, v in strings.items()})
        # Folded graph vs Keras: float rounding only; a single differing id moves them more.
        np.testing.assert_allclose(got["logits"], want, rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(got["probabilities"], tf.nn.softmax(want), atol=1e-5)
        assert (got["label_id"].numpy() == want.argmax(-1)).all(), name


def _squad_examples():
    """The SQuAD sample of tests/finetune, a question longer than `max_query_length`, and
    an accented context."""
    examples = squad.examples_from_squad_dict(_load_finetune_conftest().squad_json())
    long_question = ("Which region of France took its name from the people who came there in "
                     "the tenth and eleventh centuries, descended from raiders and pirates?")
    accented = "Zoë and Jürgen opened the Café Müller in Köln in 1998… then it closed."
    return examples + [squad.SquadExample("long", long_question, examples[0].context, ())] + [
        squad.SquadExample(f"accented-{i}", question, accented, ())
        for i, question in enumerate(["Who opened the café?", "Where?"])]


def test_squad_text_signature_matches_the_python_pipeline(span_labeler, tokenizer):
    model, loaded = span_labeler
    examples = _squad_examples()
    features = [f for f in squad.create_squad_features(
        examples, tokenizer, SQUAD_SEQ, doc_stride=8, max_query_length=SQUAD_SEQ // 2)
        if f.window_index == 0]  # the signature serves one window
    # One window: each of its context tokens has its most central position in it.
    features = [dataclasses.replace(f, unique_id=i, max_context=tuple(
        c is not None for c in f.char_spans)) for i, f in enumerate(features)]
    assert features[3].input_type_ids.index(1) == 2 + SQUAD_SEQ // 2  # the long one is cut
    want = {k: v.numpy() for k, v in model(squad.squad_inputs(features), training=False).items()}
    spans = squad.best_spans(examples, features, want["start_logits"], want["end_logits"])
    got = loaded.signatures[text_serving.TEXT_SIGNATURE](
        question=tf.constant([e.question for e in examples]),
        context=tf.constant([e.context for e in examples]))
    for key in ("start_logits", "end_logits"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-4)
    answers = [a.decode("utf-8") for a in got["answer"].numpy()]
    assert answers == [spans[e.qas_id].text for e in examples]
    assert any(not a.isascii() for a in answers)  # byte offsets cut multi-byte text right
    np.testing.assert_allclose(got["score"], [spans[e.qas_id].score for e in examples],
                               rtol=1e-4)
    np.testing.assert_allclose(got["null_score"],
                               [spans[e.qas_id].null_score for e in examples], rtol=1e-4)


def test_non_utf8_text_is_refused_naming_the_input(classifier, span_labeler):
    bad = tf.constant([b"a fine film", b"caf\xe9 society"])  # Latin-1, not UTF-8
    good = tf.constant(["one", "two"])
    signatures = classifier[1].signatures
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"serving_text input `text` is not valid UTF-8 at rows.*\[1\]"):
        signatures[text_serving.TEXT_SIGNATURE](text=bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match="input `text_b` is not valid"):
        signatures[text_serving.TEXT_PAIR_SIGNATURE](text_a=good, text_b=bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match="input `context` is not valid"):
        span_labeler[1].signatures[text_serving.TEXT_SIGNATURE](question=good, context=bad)


def _reference_words(texts, vocab):
    """Per text, its word pieces grouped by word, by the reference (pure-Python) BERT
    tokenizer; None where its ids differ from ours (known differences, e.g. `…`)."""
    reference = tokenization.FullTokenizer(vocab.path, do_lower_case=True)
    words = [[reference.wordpiece_tokenizer.tokenize(w)
              for w in reference.basic_tokenizer.tokenize(t)] for t in texts]
    ours = [[vocab.tokens[i] for i in row]
            for row in BertInputTokenizer(vocab).tokenize(tf.constant(texts)).to_list()]
    return [w if sum(w, []) == o else None for w, o in zip(words, ours)]


def test_encoder_export_writes_a_tf_hub_style_preprocessor(ram_path, tokenizer, dev_texts):
    # max_position 64: bert_pack_inputs is exported for SEQ and 64 only (fast to save).
    encoder = build_encoder("mobilebert_mini", num_layers=1, max_position=64)
    with pytest.raises(ValueError, match="has 30522 tokens but the model has vocab_size=500"):
        exporter.export(build_encoder("mobilebert_mini", num_layers=1, vocab_size=500),
                        f"{ram_path}/wrong", precisions=(), tokenizer=tokenizer, **NO_LOG)
    assert not tf.io.gfile.exists(f"{ram_path}/wrong/saved_model")
    exporter.export(encoder, ram_path, precisions=(), seq_length=SEQ, tokenizer=tokenizer,
                    **NO_LOG)
    preprocessor = tf.saved_model.load(f"{ram_path}/preprocessing")
    texts = tf.constant(dev_texts)
    for key, value in preprocessor(texts).items():
        np.testing.assert_array_equal(value, tokenizer(texts)[key], err_msg=key)
    words = preprocessor.tokenize(texts)
    assert words.shape.rank == 3 and words.dtype == tf.int32
    assert words.merge_dims(1, 2).to_list() == tokenizer.tokenize(texts).to_list()
    # Grouped as the reference tokenizer groups pieces into words (where its ids agree).
    reference = _reference_words(dev_texts, tokenizer.vocab)
    assert sum(r is not None for r in reference) >= 0.9 * len(dev_texts)
    for row, want in zip(words.to_list(), reference):
        if want is not None:
            assert [[tokenizer.vocab.tokens[i] for i in word] for word in row] == want
    second = preprocessor.tokenize(tf.constant(dev_texts[1:] + dev_texts[:1]))
    for seq_length in (SEQ, 64):
        want = tokenizer.pack([words.merge_dims(1, 2), second.merge_dims(1, 2)], seq_length)
        for segments in ([words, second], [words.merge_dims(1, 2), second.merge_dims(1, 2)]):
            got = preprocessor.bert_pack_inputs(segments, seq_length=seq_length)
            for key in want:
                np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    default = preprocessor.bert_pack_inputs([words])["input_word_ids"]
    np.testing.assert_array_equal(default, tokenizer(texts)["input_word_ids"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="seq_length.*128.*not one"):
        preprocessor.bert_pack_inputs([words], seq_length=128)  # beyond max_position
    special = {k: int(v) for k, v in preprocessor.tokenize.get_special_tokens_dict().items()}
    vocab = tokenizer.vocab
    assert special == {"vocab_size": len(vocab), "start_of_sequence_id": vocab.cls_id,
                       "end_of_segment_id": vocab.sep_id, "padding_id": vocab.pad_id,
                       "mask_id": vocab.mask_id}
    with pytest.raises(tf.errors.InvalidArgumentError, match="tokenize input `strings`"):
        preprocessor.tokenize(tf.constant([b"\xff"]))
