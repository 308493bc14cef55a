"""`TrainingInstance`s as BERT pretraining `tf.train.Example`s, and the description written
beside every set of record shards.

Two kinds of records, told apart by their features:
- *masked* (static masking, the BERT recipe): the standard seven features, masks drawn once
  when the records were written;
- *unmasked* (dynamic masking, RoBERTa's): `input_ids`, `input_mask`, `segment_ids`,
  `next_sentence_labels` only; the input pipeline draws new masks every time it reads one.
"""

from __future__ import annotations

import os

import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.data.pretraining_instances import TrainingInstance
from mobilebert_tf.errors import InputError

# The feature names google-research/bert and tf-models-official write and read.
RECORD_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                   "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")
MASK_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
UNMASKED_FEATURES = tuple(n for n in RECORD_FEATURES if n not in MASK_FEATURES)

# Suffix of a shard still being written; renamed only once every shard is complete.
INCOMPLETE_SUFFIX = ".incomplete"
# Written beside the shards: how they were made (`PretrainingDataConfig`, counts), and the
# vocab they were tokenized with (dynamic masking needs its special ids to draw masks).
INFO_FILE = "pretraining_data.json"
VOCAB_FILE = "vocab.txt"


class ExampleSerializer:
    """`TrainingInstance`s, padded to fixed lengths, as deterministically serialized
    `tf.train.Example`s with the standard BERT feature names. One message is reused (5x
    faster than building one per instance).

    Args:
        seq_length: padded length.
        max_predictions_per_seq: padded number of masked-LM targets; None writes unmasked
            records (no `masked_lm_*` features).
    """

    def __init__(self, seq_length: int, max_predictions_per_seq: int | None):
        self._seq_length = seq_length
        self._predictions = max_predictions_per_seq
        self._example = tf.train.Example()
        feature = self._example.features.feature
        names = UNMASKED_FEATURES if max_predictions_per_seq is None else RECORD_FEATURES
        self._values = {name: (feature[name].float_list if name == "masked_lm_weights"
                               else feature[name].int64_list).value for name in names}

    def __call__(self, instance: TrainingInstance) -> bytes:
        """Raises:
            ValueError: the instance is longer than `seq_length` or has too many predictions.
        """
        n = len(instance.tokens)
        if n > self._seq_length:
            raise ValueError(f"Instance of {n} tokens exceeds seq_length={self._seq_length}.")
        pad = [0] * (self._seq_length - n)
        values = self._values
        values["input_ids"][:] = instance.tokens.tolist() + pad
        values["input_mask"][:] = [1] * n + pad
        values["segment_ids"][:] = instance.segment_ids.tolist() + pad
        values["next_sentence_labels"][:] = [int(instance.is_random_next)]
        if self._predictions is not None:
            k = len(instance.masked_lm_positions)
            if k > self._predictions:
                raise ValueError(f"Instance has {k} predictions > max_predictions_per_seq="
                                 f"{self._predictions}.")
            pad_k = [0] * (self._predictions - k)
            values["masked_lm_positions"][:] = instance.masked_lm_positions.tolist() + pad_k
            values["masked_lm_ids"][:] = instance.masked_lm_ids.tolist() + pad_k
            values["masked_lm_weights"][:] = [1.0] * k + [0.0] * len(pad_k)
        return self._example.SerializeToString(deterministic=True)


def record_dirs(files) -> list[str]:
    """The directories of record files, sorted, each once."""
    return sorted({os.path.dirname(f) or "." for f in files})


def read_info(directory: str) -> dict | None:
    """`INFO_FILE` of a record directory, or None if it has none (records written elsewhere:
    google-research/bert's or tf-models-official's scripts)."""
    path = os.path.join(directory, INFO_FILE)
    try:
        return fileio.read_json(path)
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise InputError(f"{path} is not valid JSON: {e}") from None
