"""`TrainingInstance`s for MLM + NSP from tokenized documents (the BERT recipe)."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from mobilebert_tf.data.masking import MaskingConfig, create_masked_lm_predictions


@dataclasses.dataclass(frozen=True)
class TrainingInstance:
    """One pretraining sequence before padding.

    Args:
        tokens: int32 `[CLS] a [SEP] b [SEP]`, masked-LM corruption applied.
        segment_ids: 0 for `[CLS] a [SEP]`, 1 for `b [SEP]`.
        is_random_next: True when `b` was drawn from another document (NSP label 1).
        masked_lm_positions: sorted positions of the prediction targets.
        masked_lm_ids: original ids at those positions.
    """

    tokens: np.ndarray
    segment_ids: np.ndarray
    is_random_next: bool
    masked_lm_positions: np.ndarray
    masked_lm_ids: np.ndarray


def _truncate_pair(a: list[int], b: list[int], max_tokens: int, rng: np.random.Generator):
    """Shortens the longer of `a`, `b` one token at a time, from its front or back at random."""
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def create_instances_from_document(documents: Sequence[Sequence[np.ndarray]], doc_index: int,
                                   seq_length: int, short_seq_prob: float, cls_id: int,
                                   sep_id: int, masking: MaskingConfig,
                                   rng: np.random.Generator) -> list[TrainingInstance]:
    """Cuts one document into NSP sentence pairs and masks them.

    Sentences are gathered until a target length (`seq_length - 3`, or with probability
    `short_seq_prob` a shorter random one), split at a random sentence boundary into `a` and
    `b`; half the time `b` is replaced by text from a random other document, and the sentences
    that were not used go back to be used next. Departure from BERT (named here): a gathered
    chunk of a single sentence (a one-sentence document, or one very long sentence) is split at
    a random token for the "actual next" case instead of always taking a random `b`, which keeps
    NSP at 50/50 rather than biased toward "random".

    Args:
        documents: all documents (random `b`s come from these), each a list of id arrays.
        doc_index: the document to cut.
        seq_length: the packed length including `[CLS]` and two `[SEP]`s.
        short_seq_prob: probability of a shorter target length.
        cls_id / sep_id: special ids.
        masking: a `MaskingConfig`.
        rng: the only source of randomness.

    Returns:
        A list of `TrainingInstance`s.
    """
    if len(documents) < 2:
        raise ValueError("Next-sentence prediction needs at least 2 documents (separate "
                         f"documents with a blank line); got {len(documents)}.")
    max_tokens = seq_length - 3
    if max_tokens < 2:
        raise ValueError(f"seq_length={seq_length} is too short for a sentence pair.")

    def new_target() -> int:
        if rng.random() < short_seq_prob:
            return int(rng.integers(2, max_tokens + 1))
        return max_tokens

    doc = documents[doc_index]
    instances = []
    chunk: list[np.ndarray] = []
    chunk_len = 0
    target = new_target()
    i = 0
    while i < len(doc):
        chunk.append(doc[i])
        chunk_len += len(doc[i])
        if i == len(doc) - 1 or chunk_len >= target:
            random_next = rng.random() < 0.5
            a_end = 1 if len(chunk) == 1 else int(rng.integers(1, len(chunk)))
            a = [int(t) for s in chunk[:a_end] for t in s]
            if not random_next and len(chunk) == 1:
                if len(a) < 2:
                    random_next = True  # A one-token sentence cannot be split.
                else:
                    cut = int(rng.integers(1, min(len(a), target)))
                    a, b = a[:cut], a[cut:]
            elif not random_next:
                b = [int(t) for s in chunk[a_end:] for t in s]
            if random_next:
                b_target = max(1, target - len(a))
                other = int(rng.integers(len(documents) - 1))
                other += other >= doc_index
                other_doc = documents[other]
                b = []
                for sentence in other_doc[int(rng.integers(len(other_doc))):]:
                    b.extend(int(t) for t in sentence)
                    if len(b) >= b_target:
                        break
                i -= len(chunk) - a_end  # Unused sentences of this document are used next.
            _truncate_pair(a, b, max_tokens, rng)
            tokens = np.array([cls_id, *a, sep_id, *b, sep_id], np.int32)
            segment_ids = np.array([0] * (len(a) + 2) + [1] * (len(b) + 1), np.int32)
            tokens, positions, labels = create_masked_lm_predictions(tokens, masking, rng)
            instances.append(TrainingInstance(tokens, segment_ids, bool(random_next),
                                              positions, labels))
            chunk, chunk_len = [], 0
            target = new_target()
        i += 1
    return instances
