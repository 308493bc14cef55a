"""Parameter counts of the built Keras models against docs/mobilebert.md §1."""

import pytest

from mobilebert_tf import MobileBertPretrainer, build_encoder
from mobilebert_tf.summary import parameter_counts

# Embeddings + transformer blocks (the pooler and heads are counted apart).
BACKBONE = {"ib_bert_large": 294_205_184, "mobilebert": 24_581_888,
            "mobilebert_tiny": 15_485_696}
MLM_HEAD = 12_014_650


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(BACKBONE))
def test_backbone_counts(preset):
    counts = parameter_counts(build_encoder(preset))
    assert counts["embeddings"] + counts["encoder"] == BACKBONE[preset]
    assert counts["pooler"] == (512 * 512 + 512 if preset == "ib_bert_large" else 0)


def test_mobilebert_mlm_head_count():
    model = MobileBertPretrainer(build_encoder("mobilebert"))
    model(model.example_inputs())
    counts = parameter_counts(model)
    assert counts["mlm_head"] == MLM_HEAD
    assert counts["nsp_head"] == 512 * 2 + 2
    assert counts["total"] == BACKBONE["mobilebert"] + MLM_HEAD + 1026


def test_bert_base_count_matches_bert_model_with_pooler():
    counts = parameter_counts(build_encoder("bert_base"))
    assert counts["total"] == 109_482_240
