"""The word-order task: real text, same words on both sides, so bag-of-words is at chance while
word order (bigrams) is not."""

import numpy as np
import pytest

from mobilebert_tf.data.corpus import play_documents, play_files
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.data.vocab import Vocab
from mobilebert_tf.data.word_order import (naive_bayes_accuracy, order_probe_inputs,
                                           read_word_order, swap_positions, word_order_examples,
                                           write_word_order_data)


@pytest.fixture(scope="module")
def splits():
    documents = [doc for path in play_files()[:6] for doc in play_documents(path)]
    return word_order_examples(documents, seed=0)


def test_swapped_sentence_keeps_its_words_and_labels_are_balanced(splits):
    train, dev = splits["train"], splits["validation"]
    assert len(train) > 2000 and len(dev) > 600
    for ex in train[:200]:
        words = ex.text_a.split()
        assert 6 <= len(words) <= 30 and swap_positions(words)
    labels = np.array([ex.label for ex in train + dev])
    assert abs(labels.mean() - 0.5) < 0.03
    assert len({ex.text_a for ex in dev} & {ex.text_a for ex in train}) < 10  # by document


def test_bag_of_words_is_at_chance_and_word_order_is_not(splits):
    train, dev = splits["train"], splits["validation"]
    unigram = naive_bayes_accuracy(train, dev, 1)
    bigram = naive_bayes_accuracy(train, dev, 2)
    # Chance is 0.5 +- 0.02 (one std at ~700 dev examples).
    assert abs(unigram - 0.5) < 0.06, unigram
    assert bigram > unigram + 0.04, (unigram, bigram)


def test_the_swap_is_of_two_adjacent_plain_words():
    assert swap_positions("Thou art a villain, sir .".split()) == [1]  # not "villain,"
    assert swap_positions("so so so".split()) == []  # equal words: no swap
    with pytest.raises(ValueError, match="dev_every"):
        word_order_examples([["a b c"]], dev_every=1)
    with pytest.raises(ValueError, match="give no train example"):
        word_order_examples([["too short"]] * 3)


def test_written_files_read_back(splits, ram_path):
    written = write_word_order_data(splits, f"{ram_path}/word_order")
    for split, (path, count) in written.items():
        assert read_word_order(f"{ram_path}/word_order", split) == splits[split]
        assert count == len(splits[split])
    with pytest.raises(ValueError, match="splits"):
        read_word_order(f"{ram_path}/word_order", "test")


def test_order_probe_masks_a_pair_of_one_piece_words_where_it_stands():
    tokens = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat", "on",
              "mat", ".")
    tokenizer = BertInputTokenizer(Vocab(tokens))
    documents = [["the cats sat on . .",  # "cats" is two pieces: only (sat, on) is a pair
                  "the dog sat on . .",  # "dog" is [UNK]: the same
                  "the cat sat on the mat . . . .",  # 12 pieces: too long for 10
                  "the cat sat on ."]]  # 5 words: too short
    inputs = order_probe_inputs(documents, tokenizer, seq_length=10)
    ids = {t: i for i, t in enumerate(tokens)}
    mask, pad = ids["[MASK]"], ids["[PAD]"]
    expected = [[ids[t] for t in "[CLS] the cat ##s".split()] + [mask, mask]
                + [ids["."]] * 2 + [ids["[SEP]"], pad],
                [ids[t] for t in "[CLS] the [UNK]".split()] + [mask, mask]
                + [ids["."]] * 2 + [ids["[SEP]"], pad, pad]]
    np.testing.assert_array_equal(inputs["input_word_ids"], expected)
    np.testing.assert_array_equal(inputs["input_mask"], np.array(expected) != pad)
    np.testing.assert_array_equal(inputs["masked_lm_positions"], [[4, 5], [3, 4]])
    np.testing.assert_array_equal(inputs["masked_lm_ids"], [[ids["sat"], ids["on"]]] * 2)
    with pytest.raises(ValueError, match="No sentence of 6-30 words fits 10 pieces"):
        order_probe_inputs([documents[0][2:]], tokenizer, seq_length=10)
