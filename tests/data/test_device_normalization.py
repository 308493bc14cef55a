"""`BertInputTokenizer(normalization="device")`: text normalized as MediaPipe's and the TFLite
Task Library's tokenizers do (ASCII lower-casing only); the fine-tuning config's field. That
the runtime really tokenizes so is tested against MediaPipe in tests/export/test_runtime.py."""

import pytest

from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.data.vocab import Vocab
from mobilebert_tf.errors import InputError
from mobilebert_tf.finetune.run import FinetuneConfig


@pytest.fixture(scope="module")
def device(vocab):
    return BertInputTokenizer(vocab, seq_length=16, normalization="device")


def _tokens(tokenizer, text):
    return [tokenizer.vocab.tokens[i] for i in tokenizer.encode([text])[0]]


def test_device_lowercases_ascii_only_and_keeps_accents(tokenizer, device):
    assert _tokens(device, "HELLO World") == _tokens(tokenizer, "HELLO World") == [
        "hello", "world"]
    # BERT's NFD + accent stripping + case folding; the device keeps the letters as written.
    assert _tokens(tokenizer, "Café déjà vu…") == ["cafe", "de", "##ja", "vu", ".", ".", "."]
    assert _tokens(device, "Café déjà vu…") == ["[UNK]", "[UNK]", "vu", "…"]
    assert _tokens(tokenizer, "Straße") == ["st", "##ras", "##se"]
    assert _tokens(device, "Straße") == ["st", "##raße"]
    assert _tokens(device, "Ω ω") == ["[UNK]", "ω"]  # non-ASCII capitals stay
    assert _tokens(tokenizer, "Ω ω") == ["ω", "ω"]


def test_device_lowercases_ascii_for_cased_vocabs_too(vocab):
    # MediaPipe lower-cases ASCII whatever the vocab (seen: a cased "Hello" token unused).
    cased = Vocab(vocab.tokens + ("Hello",))
    assert not cased.lower_case
    assert _tokens(BertInputTokenizer(cased, normalization="device"), "Hello") == ["hello"]
    assert _tokens(BertInputTokenizer(cased), "Hello") == ["Hello"]


def test_device_offsets_index_the_original_text(device):
    text = "Café HELLO"
    _, starts, ends = device.tokenize_with_offsets([text])
    pieces = [text.encode()[s:e].decode() for s, e in zip(starts[0].numpy(),
                                                          ends[0].numpy())]
    assert pieces == ["Café", "HELLO"]


def test_unknown_normalization(vocab):
    with pytest.raises(ValueError, match="normalization must be one of .*'nfkc'"):
        BertInputTokenizer(vocab, normalization="nfkc")


def test_finetune_config_checks_text_normalization():
    assert FinetuneConfig("sentiment", "/tmp/x", text_normalization="device")
    with pytest.raises(InputError, match="text_normalization must be one of .*; got "
                                         "text_normalization='ascii'"):
        FinetuneConfig("sentiment", "/tmp/x", text_normalization="ascii")
