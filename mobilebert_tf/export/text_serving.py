"""Text-in serving: SavedModel signatures, and a preprocessing SavedModel, that take raw UTF-8
strings and tokenize and pack them in the graph with the model's own `BertInputTokenizer`,
so the ids are exactly those of the Python pipeline.

Signatures `text_signatures` adds to a task model's SavedModel, beside `serving_default`
(the fixed-shape ids signature the `.tflite` conversion reads); every input is string
`[batch]`, any batch size:

- classifier: `serving_text(text)`, and `serving_text_pair(text_a, text_b)` for pair tasks
  (MRPC, ...), packed as fine-tuning packs them. Outputs `logits` float `[batch, classes]`;
  with more than one class also `probabilities` (softmax) and `label_id` int32 `[batch]`.
- span labeler (SQuAD): `serving_text(question, context)`. Outputs `start_logits`,
  `end_logits` float `[batch, seq_length]`; `answer` string `[batch]`; `score` (the answer's
  start + end logit) and `null_score` (the `[CLS]` score), float `[batch]`. A SQuAD v2.0
  client abstains when `null_score - score` exceeds its threshold. ONE window only: the
  question cut to `min(64, seq_length // 2)` tokens and the context's first `seq_length -
  question - 3` tokens, as the first window of `squad.create_squad_features`; the rest of a
  longer context is dropped, not covered by further `doc_stride` windows as the Python
  pipeline does. The answer is chosen as `squad.best_spans` chooses it in that one window
  (`N_BEST_SIZE`, `MAX_ANSWER_LENGTH`): "" with score -inf when no span qualifies.

The encoder gets `save_preprocessing`: a SavedModel in TF-Hub's BERT preprocessor convention
(tensorflow.org/hub/common_saved_model_apis/text): the loaded object is callable on string
`[batch]` -> dict `input_word_ids`, `input_mask`, `input_type_ids` at its default
`seq_length`; `.tokenize(strings)` -> int32 ragged `[batch, (words), (pieces)]`;
`.tokenize.get_special_tokens_dict()`; `.bert_pack_inputs(segments, seq_length=...)` on a
list of 1 or 2 tokenized segments (ragged rank 1 or 2). Unlike TF-Hub's, `seq_length` must be
the default or one of `PACK_SEQ_LENGTHS` up to the encoder's `max_position` (another is an
InvalidArgumentError listing them).

Every string input is checked: one that is not valid UTF-8 fails the call with an
InvalidArgumentError naming the signature, the input and the bad rows (tensorflow-text would
silently turn its words into `[UNK]`).
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf
import tensorflow_text as tf_text

from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.models import MobileBertClassifier, MobileBertSpanLabeler

TEXT_SIGNATURE = "serving_text"
TEXT_PAIR_SIGNATURE = "serving_text_pair"
# As `squad.best_spans`' defaults (and `finetune.run`'s config).
N_BEST_SIZE = 20
MAX_ANSWER_LENGTH = 30
MAX_QUERY_LENGTH = 64
# Lengths `bert_pack_inputs` of a preprocessing SavedModel takes besides its default.
# Deviation from TF-Hub (any length): `BertInputTokenizer.pack` takes a Python int only.
PACK_SEQ_LENGTHS = (64, 128, 256, 384, 512)

_STRINGS = tf.TensorSpec([None], tf.string)


def checked_utf8(texts: tf.Tensor, where: str) -> tf.Tensor:
    """`texts`, after asserting every string is valid UTF-8.

    Args:
        texts: string tensor.
        where: names the signature and input in the error, e.g. "serving_text input `text`".
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    # Transcoding replaces each invalid byte sequence, so only invalid strings change.
    repaired = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace")
    invalid = tf.not_equal(repaired, texts)
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(invalid)),
        [f"{where} is not valid UTF-8 at rows", tf.where(invalid)[:, 0],
         "the first with U+FFFD for its bad bytes:", tf.boolean_mask(repaired, invalid)[:1]],
        summarize=10)
    with tf.control_dependencies([check]):
        return tf.identity(texts)


def text_signatures(module: tf.Module, model, serve: tf.types.experimental.GenericFunction,
                    tokenizer: BertInputTokenizer, seq_length: int) -> dict:
    """The text-in signatures of `model` (see the module docstring), run through `serve`.

    Args:
        module: the SavedModel's root; it keeps the tokenizer.
        model: the exported `MobileBertClassifier` or `MobileBertSpanLabeler`; an encoder
            gets none (see `save_preprocessing`).
        serve: the ids signature (`serving_default`), fixed or free batch size.
        tokenizer: a `BertInputTokenizer` of the model's vocab, with its text options.
        seq_length: the packed length.

    Returns:
        `{signature name: tf.function}`.
    """
    module.text_tokenizer = tokenizer
    if isinstance(model, MobileBertClassifier):
        return _classifier_signatures(serve, tokenizer, seq_length)
    if isinstance(model, MobileBertSpanLabeler):
        return {TEXT_SIGNATURE: _span_signature(serve, tokenizer, seq_length)}
    return {}


def _run_any_batch(serve, inputs: dict) -> dict:
    """`serve` on any number of rows: with a fixed batch size `B` the rows are padded to whole
    chunks of `B` and run chunk by chunk."""
    chunk = next(iter(serve.input_signature[0].values())).shape[0]
    if chunk is None:
        return serve(inputs)
    rows = tf.shape(inputs["input_word_ids"])[0]
    padded = -(-rows // chunk) * chunk
    chunks = {k: tf.reshape(tf.pad(v, [[0, padded - rows], [0, 0]]), [-1, chunk, v.shape[1]])
              for k, v in inputs.items()}
    specs = {k: tf.TensorSpec(v.shape, v.dtype)
             for k, v in serve.get_concrete_function().structured_outputs.items()}
    outputs = tf.map_fn(serve, chunks, fn_output_signature=specs)
    return {k: tf.reshape(v, tf.concat([[padded], tf.shape(v)[2:]], 0))[:rows]
            for k, v in outputs.items()}


def _classifier_signatures(serve, tokenizer: BertInputTokenizer, seq_length: int) -> dict:
    def outputs(segments):
        logits = _run_any_batch(serve, tokenizer.pack(segments, seq_length))["logits"]
        if logits.shape[-1] == 1:  # regression
            return {"logits": logits}
        return {"logits": logits, "probabilities": tf.nn.softmax(logits),
                "label_id": tf.argmax(logits, -1, output_type=tf.int32)}

    def tokens(texts, name, signature):
        return tokenizer.tokenize(checked_utf8(texts, f"{signature} input `{name}`"))

    @tf.function(input_signature=[_STRINGS])
    def text(text):
        return outputs([tokens(text, "text", TEXT_SIGNATURE)])

    @tf.function(input_signature=[_STRINGS, _STRINGS])
    def text_pair(text_a, text_b):
        return outputs([tokens(text_a, "text_a", TEXT_PAIR_SIGNATURE),
                        tokens(text_b, "text_b", TEXT_PAIR_SIGNATURE)])

    return {TEXT_SIGNATURE: text, TEXT_PAIR_SIGNATURE: text_pair}


def _span_signature(serve, tokenizer: BertInputTokenizer, seq_length: int):
    max_query_length = min(MAX_QUERY_LENGTH, seq_length // 2)  # as exporter's SQuAD examples

    @tf.function(input_signature=[_STRINGS, _STRINGS])
    def question_answer(question, context):
        where = f"{TEXT_SIGNATURE} input"
        query = tokenizer.tokenize(checked_utf8(question, f"{where} `question`"))
        context = checked_utf8(context, f"{where} `context`")
        pieces, starts, ends = tokenizer.tokenize_with_offsets(context)
        # The question first, then as much context as fits: squad.create_squad_features'
        # first window (after this, `pack`'s round-robin trimming has nothing to cut).
        query, pieces = tf_text.WaterfallTrimmer(seq_length - 3).trim(
            [query[:, :max_query_length], pieces])
        logits = _run_any_batch(serve, tokenizer.pack([query, pieces], seq_length))
        first = tf.cast(query.row_lengths(), tf.int32) + 2  # [CLS] question [SEP]
        span = _best_span(logits["start_logits"], logits["end_logits"], first,
                          tf.cast(pieces.row_lengths(), tf.int32))
        answer = _span_text(context, starts, ends, span, first)
        return {"start_logits": logits["start_logits"], "end_logits": logits["end_logits"],
                "answer": answer, "score": span[2],
                "null_score": logits["start_logits"][:, 0] + logits["end_logits"][:, 0]}

    return question_answer


def _best_span(start_logits, end_logits, first, count):
    """`(start, end, score)` `[batch]` of the best span as `squad.best_spans` picks it in one
    window: both ends among the `N_BEST_SIZE` highest logits and on context tokens (positions
    `first .. first + count - 1`), `end - start + 1` in `1..MAX_ANSWER_LENGTH`; score -inf
    when none qualifies."""
    length = tf.shape(start_logits)[1]
    positions = tf.range(length)
    in_context = ((positions[None] >= first[:, None])
                  & (positions[None] < (first + count)[:, None]))

    def top(logits):
        best = tf.math.top_k(logits, tf.minimum(N_BEST_SIZE, length)).indices
        return tf.reduce_any(tf.equal(best[:, :, None], positions[None, None]), axis=1)

    starts = top(start_logits) & in_context
    ends = top(end_logits) & in_context
    span = positions[None, :] - positions[:, None] + 1  # [start, end]
    valid = (starts[:, :, None] & ends[:, None, :]
             & ((span >= 1) & (span <= MAX_ANSWER_LENGTH))[None])
    scores = tf.where(valid, start_logits[:, :, None] + end_logits[:, None, :],
                      tf.constant(-float("inf"), start_logits.dtype))
    flat = tf.reshape(scores, [tf.shape(scores)[0], -1])
    best = tf.argmax(flat, -1, output_type=tf.int32)
    return best // length, best % length, tf.reduce_max(flat, -1)


def _span_text(context, starts, ends, span, first):
    """The context substring (bytes as written) under the tokens of `span`; "" for none."""
    start, end, score = span
    found = score > -float("inf")

    def byte_offset(offsets, position):
        dense = tf.pad(offsets.to_tensor(default_value=0), [[0, 0], [0, 1]])  # >= 1 column
        index = tf.clip_by_value(tf.where(found, position - first, 0), 0, tf.shape(dense)[1] - 1)
        return tf.gather(dense, index, batch_dims=1)

    begin = byte_offset(starts, start)
    text = tf.strings.substr(context, begin, byte_offset(ends, end) - begin, unit="BYTE")
    return tf.where(found, text, "")


class _Tokenize(tf.Module):
    """TF-Hub's `tokenize`: strings -> int32 ragged `[batch, (words), (pieces)]`."""

    def __init__(self, tokenizer: BertInputTokenizer):
        super().__init__(name="tokenize")
        self._tokenizer = tokenizer
        vocab = tokenizer.vocab
        # WordPiece continues a word only with `##` pieces, so they mark word boundaries.
        self._continues = tf.constant([t.startswith("##") for t in vocab.tokens])
        self._special = {"vocab_size": len(vocab.tokens), "start_of_sequence_id": vocab.cls_id,
                         "end_of_segment_id": vocab.sep_id, "padding_id": vocab.pad_id,
                         "mask_id": vocab.mask_id}

    @tf.function(input_signature=[_STRINGS])
    def __call__(self, strings):
        pieces = self._tokenizer.tokenize(checked_utf8(strings, "tokenize input `strings`"))
        starts_word = tf.logical_not(tf.gather(self._continues, pieces.flat_values))
        words = tf.RaggedTensor.from_row_starts(
            pieces.flat_values, tf.cast(tf.where(starts_word)[:, 0], pieces.row_splits.dtype))
        per_text = tf.reduce_sum(tf.cast(pieces.with_flat_values(starts_word),
                                         pieces.row_splits.dtype), axis=1)
        return tf.RaggedTensor.from_row_lengths(words, per_text)

    @tf.function(input_signature=[])
    def get_special_tokens_dict(self):
        """The ids `bert_pack_inputs` needs, as TF-Hub's preprocessors give them."""
        return {k: tf.constant(v, tf.int32) for k, v in self._special.items()}


class _BertPackInputs(tf.Module):
    """TF-Hub's `bert_pack_inputs`: 1 or 2 tokenized segments, ragged rank 1 or 2, ->
    the encoder's input dict at `seq_length` (one of `lengths`)."""

    def __init__(self, tokenizer: BertInputTokenizer, default: int, lengths: Sequence[int]):
        super().__init__(name="bert_pack_inputs")
        self._tokenizer = tokenizer
        self._lengths = tuple(lengths)

        @tf.function
        def call(inputs, seq_length=default):
            segments = [s.merge_dims(1, -1) if s.shape.rank > 2 else s for s in inputs]
            return self._pack(segments, tf.cast(seq_length, tf.int32))

        self.__call__ = call
        for rank in (2, 3):
            for count in (1, 2):
                call.get_concrete_function([tf.RaggedTensorSpec([None] * rank, tf.int32)] * count,
                                           seq_length=tf.TensorSpec([], tf.int32))

    @tf.function
    def _pack(self, segments, seq_length):
        """Traced once per segment count (both ranks call it), one branch per length."""
        known = tf.equal(tf.constant(self._lengths), seq_length)
        check = tf.debugging.Assert(tf.reduce_any(known), [
            "bert_pack_inputs: seq_length", seq_length, "is not one this preprocessing "
            "SavedModel was exported for:", tf.constant(self._lengths)])
        with tf.control_dependencies([check]):
            branch = tf.argmax(tf.cast(known, tf.int32), output_type=tf.int32)
        return tf.switch_case(branch, [lambda n=n: self._tokenizer.pack(segments, n)
                                       for n in self._lengths])


class Preprocessor(tf.Module):
    """The preprocessing SavedModel's root: see the module docstring.

    Args:
        tokenizer: a `BertInputTokenizer` of the encoder's vocab, with its text options.
        seq_length: the default packed length (of the root call and `bert_pack_inputs`).
        max_seq_length: the longest `bert_pack_inputs` length to offer (the encoder's
            `max_position`).
    """

    def __init__(self, tokenizer: BertInputTokenizer, seq_length: int = 128,
                 max_seq_length: int = 512):
        super().__init__(name="preprocessing")
        self._tokenizer = tokenizer
        self._seq_length = seq_length
        lengths = {n for n in PACK_SEQ_LENGTHS if n <= max_seq_length} | {seq_length}
        self.tokenize = _Tokenize(tokenizer)
        self.bert_pack_inputs = _BertPackInputs(tokenizer, seq_length, sorted(lengths))

    @tf.function(input_signature=[_STRINGS])
    def __call__(self, strings):
        strings = checked_utf8(strings, "preprocessing input `strings`")
        return self._tokenizer(strings, seq_length=self._seq_length)


def save_preprocessing(tokenizer: BertInputTokenizer, export_dir: str, seq_length: int = 128,
                       max_seq_length: int = 512) -> str:
    """Write the preprocessing SavedModel of `tokenizer` (see `Preprocessor`, same
    arguments) to `export_dir`; its `serving_default` is the root call. Returns `export_dir`."""
    preprocessor = Preprocessor(tokenizer, seq_length, max_seq_length)
    tf.saved_model.save(preprocessor, export_dir,
                        signatures={"serving_default": preprocessor.__call__})
    return export_dir

