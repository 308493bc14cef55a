"""`BertInputTokenizer`: in-graph WordPiece tokenization into the TF-Hub BERT input dict."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf
import tensorflow_text as tf_text

from mobilebert_tf.data.vocab import Vocab, default_vocab_file

# tf-models-official's reference WordPiece gives up on words longer than 400 characters;
# tensorflow-text counts bytes. 400 bytes matches it on ASCII text.
DEFAULT_MAX_BYTES_PER_WORD = 400

# "bert": BERT's basic tokenization (NFD, accents stripped, case folded; uncased vocabs).
# "device": as the BertTokenizer of MediaPipe Tasks and the TFLite Task Library, which lower-
# case ASCII letters only (for cased vocabs too) and keep accents ("Café" -> "café").
NORMALIZATIONS = ("bert", "device")


class BertInputTokenizer(tf.Module):
    """WordPiece tokenizer (tensorflow-text `FastBertTokenizer`) plus BERT input packing.

    Text goes through BERT's basic tokenization (whitespace and punctuation split, CJK
    characters split, and for uncased vocabs lower-casing, NFD and accent stripping), then
    greedy longest-match WordPiece. Everything runs in the TF graph, so it can sit inside a
    `tf.data` map or an exported model.

    `normalization="device"` normalizes text exactly as the on-device BertTokenizer of
    MediaPipe Tasks (`TextClassifier`) and the TFLite Task Library (`BertNLClassifier`,
    `BertQuestionAnswerer`) does: ASCII letters are lower-cased, whatever the vocab's case,
    and nothing else changes (no NFD, accents kept, `É` stays `É`). With an uncased vocab,
    text without non-ASCII letters gets the same ids either way; train and evaluate with it
    the models meant for those runtimes, so the Python pipeline and the device agree on
    every text.

    Known differences from the pure-Python reference (`official.nlp.tools.tokenization`),
    none of which occur in ordinary English text: tensorflow-text case-folds rather than
    lower-cases (so `ß` becomes `ss` and ligatures such as `ﬁ` become `fi`), treats control
    characters as whitespace where the reference deletes them, and measures the over-long
    word limit in bytes rather than characters.

    Args:
        vocab: a `Vocab`, a path to a `vocab.txt`, or None for the BERT uncased vocab.
        seq_length: default packed length, including `[CLS]` and `[SEP]`s.
        lower_case: None to follow the vocab (uncased when no token has capitals).
        max_bytes_per_word: words longer than this become `[UNK]`.
        normalization: "bert" (BERT's: NFD, accent stripping and case folding, for
            `lower_case` vocabs) or "device" (ASCII lower-casing only, for every vocab, as
            MediaPipe and the TFLite Task Library).
        name: module name.

    Example:
    >>> tok = BertInputTokenizer(seq_length=8)
    >>> tok(tf.constant(["Hello world!"]))["input_word_ids"].numpy().tolist()
    [[101, 7592, 2088, 999, 102, 0, 0, 0]]
    """

    def __init__(self, vocab: Vocab | str | None = None, seq_length: int = 128,
                 lower_case: bool | None = None,
                 max_bytes_per_word: int = DEFAULT_MAX_BYTES_PER_WORD,
                 normalization: str = "bert", name: str | None = None):
        super().__init__(name=name)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got "
                             f"{normalization!r}.")
        if vocab is None:
            vocab = default_vocab_file()
        if isinstance(vocab, str):
            vocab = Vocab.load(vocab)
        if seq_length < 3:
            raise ValueError(f"seq_length must be at least 3 ([CLS] x [SEP]), got {seq_length}.")
        self.vocab = vocab
        self.seq_length = int(seq_length)
        self.lower_case = vocab.lower_case if lower_case is None else bool(lower_case)
        self.normalization = normalization
        self._wordpiece = tf_text.FastBertTokenizer(
            vocab=list(vocab.tokens), suffix_indicator="##", max_bytes_per_word=max_bytes_per_word,
            token_out_type=tf.int64, unknown_token="[UNK]", support_detokenization=True,
            lower_case_nfd_strip_accents=self.lower_case and normalization == "bert")

    def _normalize(self, texts) -> tf.Tensor:
        texts = _as_strings(texts)
        if self.normalization == "device":  # cased vocabs too: the runtimes always lower-case
            # encoding="": byte-wise, ASCII only; keeps byte offsets, so spans still map.
            texts = tf.strings.lower(texts, encoding="")
        return texts

    def tokenize(self, texts) -> tf.RaggedTensor:
        """Word-piece ids, int32 `[batch, (pieces)]`, for a batch of strings."""
        ids = self._wordpiece.tokenize(self._normalize(texts))
        return tf.cast(ids, tf.int32)

    def tokenize_with_offsets(self, texts):
        """Ids plus each piece's `[start, end)` byte offsets into the original UTF-8 text.

        Returns:
            `(ids, starts, ends)`, ragged `[batch, (pieces)]`; ids int32, offsets int64.
        """
        ids, starts, ends = self._wordpiece.tokenize_with_offsets(self._normalize(texts))
        return tf.cast(ids, tf.int32), starts, ends

    def detokenize(self, ids) -> tf.Tensor:
        """Joins ids back into text (lower-cased for uncased vocabs)."""
        return self._wordpiece.detokenize(tf.cast(ids, tf.int64))

    def pack(self, segments: Sequence[tf.RaggedTensor], seq_length: int | None = None) -> dict:
        """Packs 1 or 2 tokenized segments as `[CLS] a [SEP] (b [SEP])`, truncated and padded.

        Over-long inputs are truncated, never rejected: the longer segment loses tokens from
        its end first, as BERT's `truncate_seq_pair` does.

        Args:
            segments: ragged `[batch, (pieces)]` id tensors.
            seq_length: packed length; defaults to the constructor's.

        Returns:
            dict of `input_word_ids`, `input_mask`, `input_type_ids`, int32 `[batch, seq_length]`.
        """
        seq_length = self.seq_length if seq_length is None else int(seq_length)
        if not 1 <= len(segments) <= 2:
            raise ValueError(f"pack takes 1 or 2 segments, got {len(segments)}.")
        budget = seq_length - 1 - len(segments)
        if budget < len(segments):
            raise ValueError(f"seq_length={seq_length} leaves no room for {len(segments)} "
                             "segment(s) after [CLS] and [SEP].")
        segments = [tf.cast(s, tf.int64) for s in segments]
        trimmed = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
        ids, type_ids = tf_text.combine_segments(
            trimmed, start_of_sequence_id=self.vocab.cls_id, end_of_segment_id=self.vocab.sep_id)
        word_ids, mask = tf_text.pad_model_inputs(ids, max_seq_length=seq_length,
                                                  pad_value=self.vocab.pad_id)
        type_ids, _ = tf_text.pad_model_inputs(type_ids, max_seq_length=seq_length)
        return {"input_word_ids": tf.cast(word_ids, tf.int32),
                "input_mask": tf.cast(mask, tf.int32),
                "input_type_ids": tf.cast(type_ids, tf.int32)}

    def __call__(self, text_a, text_b=None, seq_length: int | None = None) -> dict:
        """Tokenizes and packs a batch of single texts, or of text pairs when `text_b` is set."""
        segments = [self.tokenize(text_a)]
        if text_b is not None:
            segments.append(self.tokenize(text_b))
        return self.pack(segments, seq_length)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Eager convenience: Python strings in, lists of word-piece ids out."""
        if isinstance(texts, (str, bytes)):
            raise ValueError("encode takes a list of texts, not a single string.")
        if not texts:
            return []
        return self.tokenize(tf.constant(list(texts), tf.string)).to_list()


def _as_strings(texts) -> tf.Tensor:
    texts = tf.convert_to_tensor(texts)
    if texts.dtype != tf.string:
        raise ValueError(f"Texts must be strings, got {texts.dtype.name}.")
    if texts.shape.rank == 0:
        texts = texts[tf.newaxis]
    return texts
