"""`TextExample` and `classification_dataset`: sentence(-pair) tasks as `(features, label)`;
`tokenize_examples`: their model inputs as numpy arrays."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from mobilebert_tf.signature import INPUT_KEYS


@dataclasses.dataclass(frozen=True)
class TextExample:
    """One sentence or sentence pair with its label.

    Args:
        guid: a unique id, `"{split}-{row}"`: GLUE's `index` column where the file has one.
        text_a: the first (or only) text.
        text_b: the second text of a pair task, else None.
        label: class index (int), regression target (float), or -1 for unlabelled test data.
    """

    guid: str
    text_a: str
    text_b: str | None
    label: int | float


def classification_dataset(examples: Sequence[TextExample], tokenizer, batch_size: int,
                           seq_length: int | None = None, shuffle: bool = False,
                           seed: int | None = None, repeat: bool = False,
                           drop_remainder: bool = False,
                           is_regression: bool = False) -> tf.data.Dataset:
    """Batches of `({input_word_ids, input_mask, input_type_ids}, label)`.

    Texts are tokenized in the graph (after batching), so the dataset holds raw strings and
    can be shuffled cheaply. Texts longer than `seq_length` are truncated (longest first).

    Args:
        examples: all single-text or all pair examples.
        tokenizer: a `BertInputTokenizer`.
        batch_size: examples per batch.
        seq_length: packed length; defaults to the tokenizer's.
        shuffle / seed: shuffle the whole set each epoch, reproducibly given a seed.
        repeat: repeat forever.
        drop_remainder: static batch size (TPU); drops the last partial batch.
        is_regression: float32 labels (STS-B) instead of int32.

    Raises:
        ValueError: no examples, or a mix of single and pair examples.
    """
    if not examples:
        raise ValueError("No examples.")
    pairs = {ex.text_b is not None for ex in examples}
    if len(pairs) != 1:
        raise ValueError("Examples mix single texts and text pairs.")
    is_pair = pairs.pop()
    label_dtype = tf.float32 if is_regression else tf.int32
    labels = tf.constant([ex.label for ex in examples], label_dtype)
    texts = (tf.constant([ex.text_a for ex in examples], tf.string),)
    if is_pair:
        texts += (tf.constant([ex.text_b for ex in examples], tf.string),)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    if shuffle:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(lambda t, y: (tokenizer(*t, seq_length=seq_length), y),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def tokenize_examples(examples, tokenizer, seq_length: int) -> dict[str, np.ndarray]:
    """`{input key: int32 [n, seq_length]}` of `TextExample`s, in their order."""
    parts = {key: [] for key in INPUT_KEYS}
    # Labels are dropped here; float32 holds class ids, scores and -1 alike.
    for features, _ in classification_dataset(examples, tokenizer, 256, seq_length,
                                              is_regression=True):
        for key in INPUT_KEYS:
            parts[key].append(features[key].numpy())
    return {key: np.concatenate(value) for key, value in parts.items()}
