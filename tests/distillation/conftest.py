"""Tiny teacher/student pairs and batches for the distillation tests."""

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import MobileBertPretrainer, build_encoder
from mobilebert_tf.data.synthetic_records import synthetic_examples

VOCAB, SEQ, PREDICTIONS = 100, 16, 3


def make_batch(batch_size=4, seed=0, vocab=VOCAB, seq=SEQ):
    examples = list(synthetic_examples(batch_size, seq, PREDICTIONS, vocab, seed=seed))
    stack = lambda key, dtype=np.int32: tf.constant(np.stack([e[key] for e in examples]).astype(dtype))
    return {"input_word_ids": stack("input_ids"), "input_mask": stack("input_mask"),
            "input_type_ids": stack("segment_ids"),
            "masked_lm_positions": stack("masked_lm_positions"),
            "masked_lm_ids": stack("masked_lm_ids"),
            "masked_lm_weights": stack("masked_lm_weights", np.float32),
            "next_sentence_labels": tf.reshape(stack("next_sentence_labels"), [-1])}


def make_pretrainer(preset, num_layers=2, name=None, **overrides):
    model = MobileBertPretrainer(build_encoder(preset, num_layers=num_layers, vocab_size=VOCAB,
                                              **overrides), **({"name": name} if name else {}))
    model(model.example_inputs())
    return model


@pytest.fixture
def batch():
    return make_batch()


# A slimmer teacher (intra 128, FFN 256) keeps the tests fast; shapes that pair with the
# student (hidden 128, embedding 32, 4 heads) are unchanged.
SLIM_TEACHER = dict(intra_size=128, intermediate_size=256)


@pytest.fixture
def pair():
    """`(teacher, student)`: slim ib_bert_mini and mobilebert_mini with 2 layers."""
    teacher = make_pretrainer("ib_bert_mini", num_layers=2, name="teacher", **SLIM_TEACHER)
    student = make_pretrainer("mobilebert_mini", num_layers=2)
    return teacher, student


@pytest.fixture
def pair3():
    """As `pair` with 3 layers: a PKT middle stage has layers above and below."""
    teacher = make_pretrainer("ib_bert_mini", num_layers=3, name="teacher", **SLIM_TEACHER)
    student = make_pretrainer("mobilebert_mini", num_layers=3)
    return teacher, student


@pytest.fixture
def new_pretrainer():
    """`make_pretrainer(preset, num_layers=2, name=None, **overrides)`."""
    return make_pretrainer


@pytest.fixture
def new_batch():
    """`make_batch(batch_size=4, seed=0)`."""
    return make_batch
