"""MLM + NSP `TrainingInstance`s from tokenized documents (the BERT recipe), in two steps.

`plan_pairs` cuts a document into sentence pairs: which tokens form `a` and `b` and whether
`b` is a random next. It touches no token and draws from its own random stream, so the number
of instances is known cheaply (the record pipeline counts before it writes, to balance its
shards). `build_instance` then copies the tokens, truncates and masks with a second stream.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Sequence

import numpy as np

from mobilebert_tf.data.documents import Document
from mobilebert_tf.data.masking import MaskingConfig, create_masked_lm_predictions


class Span(NamedTuple):
    """`documents[doc].tokens[start:stop]`."""

    doc: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


class PairPlan(NamedTuple):
    """The two segments of one instance; `is_random_next`: `b` comes from another document."""

    a: Span
    b: Span
    is_random_next: bool


@dataclasses.dataclass(frozen=True)
class TrainingInstance:
    """One pretraining sequence before padding.

    Args:
        tokens: int32 `[CLS] a [SEP] b [SEP]`, masked-LM corruption applied (if masked).
        segment_ids: 0 for `[CLS] a [SEP]`, 1 for `b [SEP]`.
        is_random_next: True when `b` was drawn from another document (NSP label 1).
        masked_lm_positions: sorted positions of the prediction targets (empty: unmasked).
        masked_lm_ids: original ids at those positions.
    """

    tokens: np.ndarray
    segment_ids: np.ndarray
    is_random_next: bool
    masked_lm_positions: np.ndarray
    masked_lm_ids: np.ndarray


def plan_pairs(documents: Sequence[Document], doc_index: int, seq_length: int,
               short_seq_prob: float, rng: np.random.Generator) -> list[PairPlan]:
    """Cuts document `doc_index` into NSP sentence pairs.

    Sentences are gathered until a target length (`seq_length - 3`, or with probability
    `short_seq_prob` a shorter random one), split at a random sentence boundary into `a` and
    `b`; half the time `b` is replaced by text from a random other document, and the sentences
    that were not used go back to be used next. Departures from BERT (named here): a gathered
    chunk of a single sentence (a one-sentence document, or one very long sentence) is split at
    a random token for the "actual next" case instead of always taking a random `b`, which
    keeps NSP at 50/50 rather than biased toward "random"; with one document only (a record
    pipeline bucket that got one), every pair is an actual next.

    Args:
        documents: the documents random `b`s come from (one bucket of the corpus).
        doc_index: the document to cut.
        seq_length: the packed length including `[CLS]` and two `[SEP]`s.
        short_seq_prob: probability of a shorter target length.
        rng: the only source of randomness.

    Returns:
        The document's `PairPlan`s, in order.
    """
    max_tokens = seq_length - 3
    if max_tokens < 2:
        raise ValueError(f"seq_length={seq_length} is too short for a sentence pair.")

    def new_target() -> int:
        if rng.random() < short_seq_prob:
            return int(rng.integers(2, max_tokens + 1))
        return max_tokens

    bounds = documents[doc_index].bounds
    n = len(bounds) - 1
    can_draw_random = len(documents) > 1
    pairs: list[PairPlan] = []
    target = new_target()
    start = 0  # First sentence of the chunk being gathered.
    i = 0
    while i < n:
        if i == n - 1 or bounds[i + 1] - bounds[start] >= target:
            sentences = i + 1 - start
            random_next = can_draw_random and rng.random() < 0.5
            a_end = start + 1 if sentences == 1 else start + int(rng.integers(1, sentences))
            a = Span(doc_index, int(bounds[start]), int(bounds[a_end]))
            b = None
            if not random_next and sentences == 1:
                if len(a) >= 2:
                    cut = a.start + int(rng.integers(1, min(len(a), target)))
                    a, b = Span(doc_index, a.start, cut), Span(doc_index, cut, a.stop)
                elif can_draw_random:
                    random_next = True  # A one-token sentence cannot be split.
            elif not random_next:
                b = Span(doc_index, a.stop, int(bounds[i + 1]))
            if random_next:
                b_target = max(1, target - len(a))
                other = int(rng.integers(len(documents) - 1))
                other += other >= doc_index
                other_bounds = documents[other].bounds
                first = int(rng.integers(len(other_bounds) - 1))
                # Whole sentences from `first` on until `b_target` tokens (or the end).
                stop = int(np.searchsorted(other_bounds, other_bounds[first] + b_target))
                stop = min(stop, len(other_bounds) - 1)
                b = Span(other, int(other_bounds[first]), int(other_bounds[stop]))
                i = a_end - 1  # Unused sentences of this document are used next.
            if b is not None:
                pairs.append(PairPlan(a, b, bool(random_next)))
            start = i + 1
            target = new_target()
        i += 1
    return pairs


def _truncate(a: Span, b: Span, max_tokens: int, rng: np.random.Generator) -> tuple[Span, Span]:
    """Shortens the longer of `a`, `b` one token at a time (`b` on a tie) until both fit,
    each token from its segment's front or back at random (BERT's `truncate_seq_pair`), in
    closed form: how many tokens each loses follows from the lengths, the coins from `rng`."""
    excess = len(a) + len(b) - max_tokens
    if excess <= 0:
        return a, b
    gap = len(a) - len(b)
    first = min(excess, abs(gap))  # Taken from the longer until the two are equal...
    rest = excess - first  # ...then alternately from b and a.
    cut_a = (first if gap > 0 else 0) + rest // 2
    cut_b = excess - cut_a
    fronts = rng.random(excess) < 0.5
    front_a, front_b = int(fronts[:cut_a].sum()), int(fronts[cut_a:].sum())
    return (Span(a.doc, a.start + front_a, a.stop - (cut_a - front_a)),
            Span(b.doc, b.start + front_b, b.stop - (cut_b - front_b)))


def build_instance(documents: Sequence[Document], pair: PairPlan, seq_length: int, cls_id: int,
                   sep_id: int, masking: MaskingConfig | None,
                   rng: np.random.Generator) -> TrainingInstance:
    """The instance of `pair`: `[CLS] a [SEP] b [SEP]` truncated to `seq_length`, masked
    with `masking` (None: unmasked, for masks drawn when the records are read)."""
    a, b = _truncate(pair.a, pair.b, seq_length - 3, rng)
    tokens = np.concatenate([[cls_id], documents[a.doc].tokens[a.start:a.stop], [sep_id],
                             documents[b.doc].tokens[b.start:b.stop], [sep_id]]).astype(np.int32)
    segment_ids = np.zeros(len(tokens), np.int32)
    segment_ids[len(a) + 2:] = 1
    if masking is None:
        empty = np.zeros(0, np.int32)
        return TrainingInstance(tokens, segment_ids, pair.is_random_next, empty, empty)
    tokens, positions, labels = create_masked_lm_predictions(tokens, masking, rng)
    return TrainingInstance(tokens, segment_ids, pair.is_random_next, positions, labels)


def create_instances_from_document(documents: Sequence[Document], doc_index: int,
                                   seq_length: int, short_seq_prob: float, cls_id: int,
                                   sep_id: int, masking: MaskingConfig | None,
                                   plan_rng: np.random.Generator,
                                   fill_rng: np.random.Generator) -> list[TrainingInstance]:
    """`plan_pairs` then `build_instance` for each pair: the instances of one document."""
    return [build_instance(documents, pair, seq_length, cls_id, sep_id, masking, fill_rng)
            for pair in plan_pairs(documents, doc_index, seq_length, short_seq_prob, plan_rng)]
