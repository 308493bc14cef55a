"""Masked-LM target selection: 15% of tokens, replaced 80% `[MASK]` / 10% kept / 10% random."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    """How tokens are chosen and replaced for masked-LM training.

    Args:
        mask_id: id of `[MASK]`.
        vocab_size: ids are `< vocab_size`.
        no_mask_ids: ids never chosen (`[CLS]`, `[SEP]`, `[PAD]`).
        is_continuation: bool per id, True for `##` pieces (used by whole-word masking).
        random_ids: ids drawn for the 10% random replacement. BERT draws from the whole vocab,
            `[unusedN]` included; we draw real word pieces only (bracketed tokens excluded).
        masked_lm_prob: fraction of (non-special) tokens to predict.
        max_predictions_per_seq: cap on predictions per sequence.
        whole_word_masking: mask all pieces of a word together.
        mask_prob / keep_prob: replacement split; the rest is random.
    """

    mask_id: int
    vocab_size: int
    no_mask_ids: tuple[int, ...]
    is_continuation: np.ndarray
    random_ids: np.ndarray
    masked_lm_prob: float = 0.15
    max_predictions_per_seq: int = 20
    whole_word_masking: bool = False
    mask_prob: float = 0.8
    keep_prob: float = 0.1

    def __post_init__(self):
        if not 0.0 < self.masked_lm_prob < 1.0:
            raise ValueError(f"masked_lm_prob must be in (0, 1), got {self.masked_lm_prob}.")
        if self.max_predictions_per_seq < 1:
            raise ValueError("max_predictions_per_seq must be >= 1, got "
                             f"{self.max_predictions_per_seq}.")
        if self.mask_prob < 0 or self.keep_prob < 0 or self.mask_prob + self.keep_prob > 1:
            raise ValueError(f"mask_prob={self.mask_prob} and keep_prob={self.keep_prob} must be "
                             "non-negative and sum to at most 1.")
        if len(self.random_ids) == 0:
            raise ValueError("random_ids is empty.")

    @classmethod
    def from_vocab(cls, vocab, **kwargs) -> "MaskingConfig":
        """Builds the config from a `Vocab`; kwargs set the probabilities and flags."""
        special = set(vocab.special_ids())
        random_ids = np.array([i for i in range(len(vocab)) if i not in special], np.int32)
        return cls(mask_id=vocab.mask_id, vocab_size=len(vocab),
                   no_mask_ids=(vocab.cls_id, vocab.sep_id, vocab.pad_id),
                   is_continuation=np.array(vocab.is_continuation(), bool),
                   random_ids=random_ids, **kwargs)


def create_masked_lm_predictions(tokens: np.ndarray, config: MaskingConfig,
                                 rng: np.random.Generator):
    """Chooses masked-LM targets in one sequence and corrupts them.

    Args:
        tokens: int ids of `[CLS] a [SEP] b [SEP]`.
        config: a `MaskingConfig`.
        rng: the only source of randomness.

    Returns:
        `(corrupted_tokens, positions, labels)`: positions sorted ascending, labels the
        original ids at those positions.
    """
    tokens = np.asarray(tokens, np.int32)
    special = tokens == config.no_mask_ids[0]
    for special_id in config.no_mask_ids[1:]:
        special |= tokens == special_id
    candidates = np.flatnonzero(~special)
    num_to_predict = min(config.max_predictions_per_seq, len(candidates),
                         max(1, int(round(len(candidates) * config.masked_lm_prob))))
    if config.whole_word_masking:
        positions = _whole_word_positions(tokens, candidates, num_to_predict, config, rng)
    elif num_to_predict < len(candidates):
        # A uniform random subset: the candidates of the `num_to_predict` smallest scores.
        scores = rng.random(len(candidates))
        positions = np.sort(candidates[np.argpartition(scores, num_to_predict)[:num_to_predict]])
    else:
        positions = candidates
    positions = positions.astype(np.int32)
    labels = tokens[positions]
    output = tokens.copy()
    draws = rng.random(len(positions))
    output[positions[draws < config.mask_prob]] = config.mask_id
    randomized = positions[draws >= config.mask_prob + config.keep_prob]
    picks = (rng.random(len(randomized)) * len(config.random_ids)).astype(np.int64)
    output[randomized] = config.random_ids[picks]
    return output, positions, labels


def _whole_word_positions(tokens: np.ndarray, candidates: np.ndarray, num_to_predict: int,
                          config: MaskingConfig, rng: np.random.Generator) -> np.ndarray:
    """Positions of whole words (a piece and the `##` pieces after it) in random order until
    `num_to_predict`; a word that does not fit is skipped, a shorter one may still fit."""
    groups: list[list[int]] = []
    for i in candidates:
        if groups and groups[-1][-1] == i - 1 and config.is_continuation[tokens[i]]:
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
    chosen: list[int] = []
    for g in rng.permutation(len(groups)):
        if len(chosen) + len(groups[g]) > num_to_predict:
            continue
        chosen.extend(groups[g])
        if len(chosen) == num_to_predict:
            break
    return np.array(sorted(chosen), np.int64)
