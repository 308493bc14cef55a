r"""Learns a WordPiece vocab from a corpus (tensorflow-text's BERT vocab learner), for
pretraining from scratch on text the BERT uncased vocab does not fit.

    python -m mobilebert_tf.data.vocab_builder --input_file='corpus/*.txt' \
        --output_file=/tmp/vocab.txt --vocab_size=8000
"""

from __future__ import annotations

from typing import Sequence

from absl import app, flags, logging

from mobilebert_tf import fileio
from mobilebert_tf.data import documents as documents_lib
from mobilebert_tf.data.vocab import REQUIRED_TOKENS, Vocab


def build_wordpiece_vocab(input_files: str | Sequence[str], output_file: str,
                          vocab_size: int = 8000, lower_case: bool = True,
                          num_unused: int = 0, max_sentences: int | None = None) -> Vocab:
    """Learns a WordPiece vocab and writes it as a BERT `vocab.txt`.

    The special tokens come first (`[PAD]`=0, `[UNK]`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4),
    then `num_unused` `[unusedN]` slots, then learned pieces. Words are split as BERT does
    (whitespace, punctuation, CJK), so the vocab fits `BertInputTokenizer`.

    Args:
        input_files: glob patterns of UTF-8 text (any line layout).
        output_file: the `vocab.txt` to write (temp name, then renamed; its directory is
            created).
        vocab_size: upper bound on the vocab size (the learner may return fewer).
        lower_case: learn an uncased vocab (lower-cased, accents stripped).
        num_unused: reserved `[unusedN]` tokens for later additions.
        max_sentences: learn from the first N lines only.

    Returns:
        The written `Vocab`.

    Raises:
        ValueError: empty corpus, non-UTF-8 input, or a vocab_size too small.
    """
    import tensorflow as tf
    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as learner

    reserved = list(REQUIRED_TOKENS) + [f"[unused{i}]" for i in range(num_unused)]
    if vocab_size <= len(reserved):
        raise ValueError(f"vocab_size={vocab_size} leaves no room beyond {len(reserved)} "
                         "reserved tokens.")
    docs = documents_lib.read_documents(documents_lib.expand_patterns(input_files))
    lines = [s for doc in docs for s in doc][:max_sentences]
    dataset = tf.data.Dataset.from_tensor_slices(lines).batch(1024)
    tokens = learner.bert_vocab_from_dataset(
        dataset, vocab_size=vocab_size, reserved_tokens=reserved,
        bert_tokenizer_params={"lower_case": lower_case},
        learn_params={"max_token_length": 50})
    fileio.write_text(output_file, "\n".join(tokens) + "\n")
    vocab = Vocab.load(output_file)
    logging.info("Wrote %d tokens to %s.", len(vocab), output_file)
    return vocab


FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("input_file", None, "Glob pattern(s), comma-separated, of text files.")
    flags.DEFINE_string("output_file", None, "vocab.txt to write.")
    flags.DEFINE_integer("vocab_size", 8000, "Maximum vocab size.")
    flags.DEFINE_bool("lower_case", True, "Learn an uncased vocab.")
    flags.DEFINE_integer("num_unused", 0, "Reserved [unusedN] tokens.")
    flags.mark_flags_as_required(["input_file", "output_file"])


def main(argv):
    del argv
    build_wordpiece_vocab(FLAGS.input_file, FLAGS.output_file, FLAGS.vocab_size,
                          FLAGS.lower_case, FLAGS.num_unused)


if __name__ == "__main__":
    define_flags()
    app.run(main)
