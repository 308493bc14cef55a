"""SQuAD v1.1 / v2.0: reading, windowed features with answer spans, and mapping predicted spans
back to text.

Span bookkeeping uses the tokenizer's character offsets into the original context, so a span
of tokens maps back to the exact original substring (case, accents and whitespace as written).
"""

from __future__ import annotations

import collections
import dataclasses
import json
from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from mobilebert_tf import fileio
from mobilebert_tf.signature import INPUT_KEYS


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question on one context.

    Args:
        qas_id: the question id.
        question: the question text.
        context: the paragraph.
        answers: `(text, char_start)` pairs; several for dev sets, none when impossible.
        is_impossible: SQuAD v2.0 unanswerable question.
    """

    qas_id: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]
    is_impossible: bool = False


@dataclasses.dataclass(frozen=True)
class SquadFeature:
    """One window of a context packed with its question: `[CLS] q [SEP] window [SEP]`.

    Args:
        unique_id: index of this feature in the list `create_squad_features` returns.
        example_index: index of its `SquadExample`.
        window_index: which window of the context.
        input_word_ids / input_mask / input_type_ids: model inputs, `seq_length` ints each.
        char_spans: per position, the `(start, end)` characters of the context that token
            covers, or None for question, special and padding positions.
        max_context: per position, True when this window gives that context token its most
            central position (answers are taken from there only).
        start_position / end_position: the answer's token positions, 0 (`[CLS]`) when the
            window has no answer or the question has none.
    """

    unique_id: int
    example_index: int
    window_index: int
    input_word_ids: tuple[int, ...]
    input_mask: tuple[int, ...]
    input_type_ids: tuple[int, ...]
    char_spans: tuple[tuple[int, int] | None, ...]
    max_context: tuple[bool, ...]
    start_position: int
    end_position: int


def examples_from_squad_dict(data: dict, source: str = "SQuAD data") -> list[SquadExample]:
    """Examples from the SQuAD JSON structure (`{"version", "data": [articles]}`).

    Answers whose `answer_start` does not point at their text are dropped with a warning;
    an answerable question left without answers is dropped too.

    Raises:
        ValueError: the structure is not SQuAD's (naming what is missing).
    """
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{source}: not SQuAD JSON (no top-level 'data' list).")
    examples, misaligned = [], 0
    for article in data["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                for key in ("id", "question"):
                    if key not in qa:
                        raise ValueError(f"{source}: a question lacks '{key}': {qa!r:.200}")
                impossible = bool(qa.get("is_impossible", False))
                answers = []
                for answer in [] if impossible else qa.get("answers", []):
                    text, start = answer["text"], int(answer["answer_start"])
                    if context[start:start + len(text)] != text:
                        misaligned += 1
                        continue
                    answers.append((text, start))
                if not impossible and not answers:
                    continue
                examples.append(SquadExample(qa["id"], qa["question"], context,
                                             tuple(answers), impossible))
    if misaligned:
        logging.warning("%s: dropped %d answers whose answer_start does not match the text.",
                        source, misaligned)
    return examples


def read_squad_json(path: str) -> list[SquadExample]:
    """Reads a SQuAD v1.1 or v2.0 JSON file (the official `train-v1.1.json` format).

    Raises:
        ValueError: not JSON or not SQuAD's structure.
    """
    try:
        data = fileio.read_json(path)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not UTF-8 JSON: {e}") from e
    return examples_from_squad_dict(data, path)


def examples_from_tfds_records(records: Iterable[dict]) -> list[SquadExample]:
    """Examples from tensorflow-datasets `squad/v1.1` or `squad/v2.0` records (numpy dicts)."""

    def text(value) -> str:
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    articles = []
    for r in records:
        answers = r["answers"]
        qa = {"id": text(r["id"]), "question": text(r["question"]),
              "is_impossible": bool(r.get("is_impossible", False)),
              "answers": [{"text": text(t), "answer_start": int(s)}
                          for t, s in zip(answers["text"], answers["answer_start"])]}
        articles.append({"paragraphs": [{"context": text(r["context"]), "qas": [qa]}]})
    # The same checks as for JSON files.
    return examples_from_squad_dict({"data": articles}, "tensorflow-datasets SQuAD")


def read_squad_tfds(version: str, split: str, data_dir: str | None = None,
                    manual_dir: str | None = None) -> list[SquadExample]:
    """Reads SQuAD through tensorflow-datasets (`squad/v1.1` or `squad/v2.0`); offline with the
    original JSON files in `manual_dir`."""
    import tensorflow_datasets as tfds

    if version not in ("v1.1", "v2.0"):
        raise ValueError(f"SQuAD version must be 'v1.1' or 'v2.0', got {version!r}.")
    builder = tfds.builder(f"squad/{version}", data_dir=data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return examples_from_tfds_records(tfds.as_numpy(builder.as_dataset(split=split)))


def _char_offsets(text: str, byte_starts: np.ndarray, byte_ends: np.ndarray):
    """Byte offsets into `text`'s UTF-8 -> character offsets."""
    char_bytes = np.cumsum([0] + [len(c.encode("utf-8")) for c in text])
    return (np.searchsorted(char_bytes, byte_starts, "left"),
            np.searchsorted(char_bytes, byte_ends, "left"))


def _windows(num_tokens: int, window: int, stride: int) -> list[tuple[int, int]]:
    """`(start, length)` windows over the context tokens, `stride` apart, covering all."""
    spans, start = [], 0
    while True:
        length = min(num_tokens - start, window)
        spans.append((start, length))
        if start + length >= num_tokens:
            return spans
        start += min(length, stride)


def create_squad_features(examples: Sequence[SquadExample], tokenizer, seq_length: int = 384,
                          doc_stride: int = 128, max_query_length: int = 64,
                          batch_size: int = 256) -> list[SquadFeature]:
    """Tokenizes and windows examples into fixed-length features with answer positions.

    Contexts longer than the space left after the question are covered by overlapping windows
    `doc_stride` tokens apart; questions longer than `max_query_length` tokens are truncated.
    Every window of an answerable question whose first answer lies inside it is labelled with
    that answer's token span; other windows, and unanswerable questions, point at `[CLS]`.

    Args:
        examples: `SquadExample`s.
        tokenizer: a `BertInputTokenizer`.
        seq_length: packed length.
        doc_stride: tokens between window starts.
        max_query_length: question tokens kept.
        batch_size: examples per tokenizer call.

    Raises:
        ValueError: no room for context after the question, or a stride larger than a window.
    """
    window = seq_length - min(max_query_length, seq_length) - 3
    if window < 1:
        raise ValueError(f"seq_length={seq_length} leaves no room for context after a "
                         f"{max_query_length}-token question.")
    if not 0 < doc_stride <= seq_length - max_query_length - 3:
        raise ValueError(f"doc_stride={doc_stride} must be in [1, seq_length - max_query_length "
                         f"- 3 = {seq_length - max_query_length - 3}].")
    vocab = tokenizer.vocab
    features: list[SquadFeature] = []
    lost_answers = 0
    for lo in range(0, len(examples), batch_size):
        batch = examples[lo:lo + batch_size]
        questions = tokenizer.tokenize(tf.constant([e.question for e in batch])).to_list()
        ids, starts, ends = tokenizer.tokenize_with_offsets(
            tf.constant([e.context for e in batch]))
        ids, starts, ends = ids.to_list(), starts.to_list(), ends.to_list()
        for k, example in enumerate(batch):
            query = questions[k][:max_query_length]
            c_ids = ids[k]
            c_start, c_end = _char_offsets(example.context, np.array(starts[k], np.int64),
                                           np.array(ends[k], np.int64))
            answer_tokens = None
            if example.answers:
                a_text, a_start = example.answers[0]
                a_end = a_start + len(a_text)
                inside = np.flatnonzero((c_end > a_start) & (c_start < a_end))
                if inside.size:
                    answer_tokens = (int(inside[0]), int(inside[-1]))
                else:
                    lost_answers += 1
            room = seq_length - len(query) - 3
            spans = _windows(len(c_ids), room, doc_stride) if c_ids else [(0, 0)]
            for w, (w_start, w_len) in enumerate(spans):
                offset = len(query) + 2
                tokens = [vocab.cls_id, *query, vocab.sep_id, *c_ids[w_start:w_start + w_len],
                          vocab.sep_id]
                n = len(tokens)
                pad = seq_length - n
                char_spans = [None] * seq_length
                max_context = [False] * seq_length
                for j in range(w_len):
                    t = w_start + j
                    char_spans[offset + j] = (int(c_start[t]), int(c_end[t]))
                    max_context[offset + j] = _is_max_context(spans, w, t)
                start_pos = end_pos = 0
                if answer_tokens and (w_start <= answer_tokens[0]
                                      and answer_tokens[1] < w_start + w_len):
                    start_pos = offset + answer_tokens[0] - w_start
                    end_pos = offset + answer_tokens[1] - w_start
                features.append(SquadFeature(
                    unique_id=len(features), example_index=lo + k, window_index=w,
                    input_word_ids=tuple(tokens + [vocab.pad_id] * pad),
                    input_mask=tuple([1] * n + [0] * pad),
                    input_type_ids=tuple([0] * offset + [1] * (w_len + 1) + [0] * pad),
                    char_spans=tuple(char_spans), max_context=tuple(max_context),
                    start_position=start_pos, end_position=end_pos))
    if lost_answers:
        logging.warning("%d answers cover no token (whitespace-only?) and are unlabelled.",
                        lost_answers)
    return features


def _is_max_context(spans: list[tuple[int, int]], w: int, token: int) -> bool:
    """True when window `w` has the most context around `token` of all windows holding it."""
    best, best_score = None, -1.0
    for i, (start, length) in enumerate(spans):
        if not start <= token < start + length:
            continue
        score = min(token - start, start + length - 1 - token) + 0.01 * length
        if score > best_score:
            best, best_score = i, score
    return best == w


def squad_inputs(features: Sequence[SquadFeature]) -> dict[str, np.ndarray]:
    """`{input key: int32 [n, seq_length]}` of the features, in their order."""
    return {key: np.array([getattr(f, key) for f in features], np.int32) for key in INPUT_KEYS}


def squad_dataset(features: Sequence[SquadFeature], batch_size: int, shuffle: bool = False,
                  seed: int | None = None, repeat: bool = False,
                  drop_remainder: bool = False) -> tf.data.Dataset:
    """Batches of `({input_word_ids, input_mask, input_type_ids}, {start_positions,
    end_positions})`, int32. Unshuffled, batches follow `features` order, which
    `predict_answers` relies on.

    Raises:
        ValueError: no features.
    """
    if not features:
        raise ValueError("No SQuAD features.")

    def column(name):
        return tf.constant([getattr(f, name) for f in features], tf.int32)

    inputs = {k: column(k) for k in ("input_word_ids", "input_mask", "input_type_ids")}
    labels = {"start_positions": column("start_position"),
              "end_positions": column("end_position")}
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if shuffle:
        dataset = dataset.shuffle(len(features), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def span_text(example: SquadExample, feature: SquadFeature, start: int, end: int) -> str:
    """The original context text covered by token positions `start..end` of `feature`.

    Raises:
        ValueError: a position is not a context token of this feature.
    """
    first, last = feature.char_spans[start], feature.char_spans[end]
    if first is None or last is None or end < start:
        raise ValueError(f"Positions {start}..{end} are not a context span of feature "
                         f"{feature.unique_id}.")
    return example.context[first[0]:last[1]]


@dataclasses.dataclass(frozen=True)
class SpanPrediction:
    """A question's best answer span and the scores `predict_answers` decides with.

    Attributes:
        text: The best valid span's text; "" when no window offers one.
        score: Its `start_logit + end_logit`; -inf when there is none.
        null_score: The lowest `[CLS]` score (`start_logit[0] + end_logit[0]`) over the
            question's windows, as the authors' code (GR) and the BERT reference take it; +inf
            with no windows.
    """
    text: str
    score: float
    null_score: float

    @property
    def null_odds(self) -> float:
        """`null_score - score`, or `null_score` when no span is valid: what SQuAD v2.0's
        official script takes as the no-answer probability (`--na-prob-file`)."""
        return self.null_score - self.score if np.isfinite(self.score) else self.null_score

    def answer(self, version_2_with_negative: bool = False,
               null_score_diff_threshold: float = 0.0) -> str:
        """The span's text; for v2.0 "" when the null score exceeds the span's by more than
        `null_score_diff_threshold`."""
        abstain = self.null_score - self.score > null_score_diff_threshold
        return "" if version_2_with_negative and abstain else self.text


def best_spans(examples: Sequence[SquadExample], features: Sequence[SquadFeature],
               start_logits, end_logits, n_best_size: int = 20,
               max_answer_length: int = 30) -> dict[str, SpanPrediction]:
    """The best answer span of every question, from per-feature span logits.

    Candidate spans start in a window where that token has maximum context, lie within the
    context, and are at most `max_answer_length` tokens; only the `n_best_size` highest start
    and end logits of a window are tried; a span's score is `start_logit + end_logit`.

    Args:
        examples, features: as `create_squad_features` made them.
        start_logits, end_logits: `[num_features, seq_length]`, in `features` order.

    Returns:
        `{qas_id: SpanPrediction}`.
    """
    start_logits = np.asarray(start_logits)
    end_logits = np.asarray(end_logits)
    if start_logits.shape[0] != len(features) or end_logits.shape != start_logits.shape:
        raise ValueError(f"Got logits of shapes {start_logits.shape} / {end_logits.shape} for "
                         f"{len(features)} features.")
    by_example = collections.defaultdict(list)
    for f in features:
        by_example[f.example_index].append(f)
    spans = {}
    for index, example in enumerate(examples):
        best_text, best_score, null_score = "", -np.inf, np.inf
        for f in by_example.get(index, []):
            s, e = start_logits[f.unique_id], end_logits[f.unique_id]
            null_score = min(null_score, float(s[0] + e[0]))
            top_e = np.argsort(-e)[:n_best_size]
            for i in np.argsort(-s)[:n_best_size]:
                if f.char_spans[i] is None or not f.max_context[i]:
                    continue
                for j in top_e:
                    if f.char_spans[j] is None or j < i or j - i + 1 > max_answer_length:
                        continue
                    if s[i] + e[j] > best_score:
                        best_score = float(s[i] + e[j])
                        best_text = span_text(example, f, int(i), int(j))
        spans[example.qas_id] = SpanPrediction(best_text, best_score, null_score)
    return spans


def predict_answers(examples: Sequence[SquadExample], features: Sequence[SquadFeature],
                    start_logits, end_logits, n_best_size: int = 20,
                    max_answer_length: int = 30, version_2_with_negative: bool = False,
                    null_score_diff_threshold: float = 0.0) -> dict[str, str]:
    """`{qas_id: answer_text}`: `SpanPrediction.answer` of `best_spans` (same arguments)."""
    spans = best_spans(examples, features, start_logits, end_logits, n_best_size,
                       max_answer_length)
    return {qas_id: span.answer(version_2_with_negative, null_score_diff_threshold)
            for qas_id, span in spans.items()}
