import hashlib

import pytest

from mobilebert_tf.data.vocab import DEFAULT_VOCAB_SHA256, Vocab


def test_default_vocab_is_bert_uncased(vocab_file, vocab):
    with open(vocab_file, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == DEFAULT_VOCAB_SHA256
    assert len(vocab) == 30522
    assert (vocab.pad_id, vocab.unk_id, vocab.cls_id, vocab.sep_id, vocab.mask_id) == (
        0, 100, 101, 102, 103)
    assert vocab.lower_case
    assert vocab.is_continuation()[vocab.id("##ing")]
    assert not vocab.is_continuation()[vocab.id("king")]
    assert vocab.id("no-such-token-here") == vocab.unk_id


@pytest.mark.parametrize("missing", ["[CLS]", "[SEP]", "[MASK]"])
def test_vocab_without_special_token_is_rejected(tmp_path, missing):
    tokens = [t for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "##b"]
              if t != missing]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[" + missing[1:-1]):
        Vocab.load(str(path))


def test_bad_vocab_files(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncaf\xe9\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        Vocab.load(str(bad))
    dup = tmp_path / "dup.txt"
    dup.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\na\n", encoding="utf-8")
    with pytest.raises(ValueError, match="repeats the token 'a'"):
        Vocab.load(str(dup))
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        Vocab.load(str(empty))


def test_cased_vocab_is_detected(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\nworld\n", encoding="utf-8")
    assert not Vocab.load(str(path)).lower_case
