"""Masking and NSP statistics of the pretraining instances, on real text."""

import numpy as np
import pytest

from mobilebert_tf.data import documents as documents_lib
from mobilebert_tf.data.create_pretraining_data import PretrainingDataConfig
from mobilebert_tf.data.documents import Document
from mobilebert_tf.data.masking import MaskingConfig, create_masked_lm_predictions
from mobilebert_tf.data.pretraining_instances import create_instances_from_document
from mobilebert_tf.data.tokenizer import BertInputTokenizer


@pytest.fixture(scope="module")
def tokenized_corpus(corpus_file, vocab):
    docs = documents_lib.read_documents([corpus_file])
    return [d for d in documents_lib.tokenize_documents(docs, BertInputTokenizer(vocab))
            if d is not None]


def _instances(tokenized_corpus, vocab, n, **kwargs):
    """The first `n` instances of dupe passes over the corpus, seeded per (pass, document)
    as the Beam pipeline seeds them."""
    config = PretrainingDataConfig(seq_length=64, max_predictions_per_seq=10, dupe_factor=50,
                                   **kwargs)
    masking = config.masking(vocab)
    out = []
    for dupe in range(config.dupe_factor):
        for d in range(len(tokenized_corpus)):
            out.extend(create_instances_from_document(
                tokenized_corpus, d, config.seq_length, config.short_seq_prob, vocab.cls_id,
                vocab.sep_id, masking, np.random.default_rng([config.random_seed, dupe, d, 0]),
                np.random.default_rng([config.random_seed, dupe, d, 1])))
            if len(out) >= n:
                return out[:n]
    raise AssertionError("corpus too small")


@pytest.fixture(scope="module")
def instances(tokenized_corpus, vocab):
    return _instances(tokenized_corpus, vocab, 10_000)


def test_masking_statistics_over_10k_examples(instances, vocab):
    masked = kept = randomized = candidates = 0
    for inst in instances:
        special = np.isin(inst.tokens, [vocab.cls_id, vocab.sep_id])
        n_candidates = int((~special).sum())
        candidates += n_candidates
        positions = inst.masked_lm_positions
        assert len(positions) == min(10, max(1, round(n_candidates * 0.15)))
        assert np.all(np.diff(positions) > 0), "positions sorted and unique"
        assert not special[positions].any(), "[CLS]/[SEP] never masked"
        corrupted = inst.tokens[positions]
        masked += int((corrupted == vocab.mask_id).sum())
        kept += int((corrupted == inst.masked_lm_ids).sum())
        randomized += int(((corrupted != vocab.mask_id) & (corrupted != inst.masked_lm_ids)).sum())
    total = masked + kept + randomized
    assert abs(total / candidates - 0.15) < 0.01
    assert abs(masked / total - 0.8) < 0.01
    assert abs(kept / total - 0.1) < 0.01
    assert abs(randomized / total - 0.1) < 0.01


def test_nsp_is_balanced_and_sequences_well_formed(instances, vocab):
    random_next = np.mean([inst.is_random_next for inst in instances])
    assert abs(random_next - 0.5) < 0.02
    lengths = np.array([len(inst.tokens) for inst in instances])
    assert lengths.max() == 64 and lengths.min() >= 5
    for inst in instances[:500]:
        seps = np.flatnonzero(inst.tokens == vocab.sep_id)
        # Exactly two [SEP]s: random replacements never draw special tokens.
        assert inst.tokens[0] == vocab.cls_id and len(seps) == 2 and seps[1] == len(inst.tokens) - 1
        assert inst.segment_ids.tolist() == [0] * (seps[0] + 1) + [1] * (seps[1] - seps[0])
    # Short targets (short_seq_prob=0.1, uniform length) plus document ends give some short
    # sequences; gathering whole sentences overshoots many short targets.
    assert 0.02 < np.mean(lengths < 40) < 0.4


def test_whole_word_masking_masks_all_pieces(tokenized_corpus, vocab):
    is_cont = np.array(vocab.is_continuation())

    def split_words(insts):
        """Count masked continuation pieces whose preceding piece is not masked.

        A `##` piece right after [CLS]/[SEP] (a word cut by truncation) starts its own word.
        """
        split = total = 0
        for inst in insts:
            original = inst.tokens.copy()
            original[inst.masked_lm_positions] = inst.masked_lm_ids
            chosen = set(inst.masked_lm_positions.tolist())
            for p in chosen:
                if is_cont[original[p]] and original[p - 1] not in (vocab.cls_id, vocab.sep_id):
                    total += 1
                    split += (p - 1) not in chosen
        return split, total

    wwm_split, wwm_total = split_words(_instances(tokenized_corpus, vocab, 2000,
                                                  whole_word_masking=True))
    split, total = split_words(_instances(tokenized_corpus, vocab, 2000))
    assert wwm_total > 50 and wwm_split == 0
    assert split > 0.5 * total  # Token-level masking splits most words it touches.


def test_same_seed_same_instances_other_seed_differs(tokenized_corpus, vocab):
    a = _instances(tokenized_corpus, vocab, 200)
    b = _instances(tokenized_corpus, vocab, 200)
    c = _instances(tokenized_corpus, vocab, 200, random_seed=7)
    assert all(np.array_equal(x.tokens, y.tokens) for x, y in zip(a, b))
    assert not all(np.array_equal(x.tokens, y.tokens) for x, y in zip(a, c))


def test_one_sentence_documents_still_give_both_nsp_labels(vocab):
    rng = np.random.default_rng(0)
    docs = [Document.from_sentences([rng.integers(1000, 2000, size=30).astype(np.int32)])
            for _ in range(20)]
    masking = MaskingConfig.from_vocab(vocab)
    insts = [inst for d in range(20) for _ in range(10)
             for inst in create_instances_from_document(docs, d, 64, 0.0, vocab.cls_id,
                                                        vocab.sep_id, masking, rng, rng)]
    labels = [inst.is_random_next for inst in insts]
    assert 0.35 < np.mean(labels) < 0.65


def test_a_bucket_of_one_document_gives_actual_next_pairs_only(vocab):
    """With no other document to draw from, every pair is the document's own next sentence
    (a one-token document gives none)."""
    doc = Document.from_sentences([np.arange(1000, 1010, dtype=np.int32),
                                   np.arange(2000, 2010, dtype=np.int32)])
    rng = np.random.default_rng(0)
    insts = create_instances_from_document([doc], 0, 64, 0.1, vocab.cls_id, vocab.sep_id,
                                           MaskingConfig.from_vocab(vocab), rng, rng)
    assert insts and not any(inst.is_random_next for inst in insts)
    single = Document.from_sentences([np.array([1000], np.int32)])
    assert create_instances_from_document([single], 0, 64, 0.1, vocab.cls_id, vocab.sep_id,
                                          None, rng, rng) == []


def test_bad_masking_and_config_values(vocab):
    with pytest.raises(ValueError, match="masked_lm_prob"):
        MaskingConfig.from_vocab(vocab, masked_lm_prob=1.5)
    with pytest.raises(ValueError, match="max_predictions_per_seq"):
        PretrainingDataConfig(seq_length=16, max_predictions_per_seq=20)
    tokens, positions, labels = create_masked_lm_predictions(
        np.array([101, 2000, 102]), MaskingConfig.from_vocab(vocab), np.random.default_rng(0))
    assert positions.tolist() == [1] and labels.tolist() == [2000]
