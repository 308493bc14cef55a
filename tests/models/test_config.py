import dataclasses

import pytest

from mobilebert_tf import PRESETS, MobileBertConfig, get_preset
from mobilebert_tf.config import parse_overrides


def test_paper_presets_have_the_papers_shapes():
    teacher, student, tiny = (get_preset(n) for n in ("ib_bert_large", "mobilebert",
                                                       "mobilebert_tiny"))
    assert (teacher.intra_size, teacher.intermediate_size, teacher.num_ffn) == (1024, 4096, 1)
    assert (student.intra_size, student.intermediate_size, student.num_ffn) == (128, 512, 4)
    assert (tiny.intra_size, tiny.num_ffn, tiny.qkv_source) == (128, 2, "bottleneck")
    for config in (teacher, student, tiny):
        assert (config.num_layers, config.hidden_size, config.num_heads,
                config.embedding_size) == (24, 512, 4, 128)
    assert (teacher.norm, teacher.activation) == ("layer_norm", "gelu")
    assert (student.norm, student.activation) == ("no_norm", "relu")


def test_mini_teacher_and_students_pair_up_for_layerwise_transfer():
    teacher = get_preset("ib_bert_mini")
    for name in ("mobilebert_mini", "mobilebert_tiny_mini"):
        student = get_preset(name)
        for field in ("hidden_size", "num_layers", "num_heads", "embedding_size", "vocab_size"):
            assert getattr(student, field) == getattr(teacher, field), (name, field)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_preset("mobilebert").num_layers = 3


@pytest.mark.parametrize("changes, field", [
    (dict(intra_size=130), "intra_size"),
    (dict(norm="batch_norm"), "norm"),
    (dict(activation="swish"), "activation"),
    (dict(qkv_source="value"), "qkv_source"),
    (dict(hidden_size=0), "hidden_size"),
    (dict(num_layers=-1), "num_layers"),
    (dict(vocab_size=2.5), "vocab_size"),
    (dict(attention_dropout=1.0), "attention_dropout"),
    (dict(use_bottleneck=False), "intra_size"),
    (dict(embedding_size=1024), "embedding_size"),
])
def test_invalid_config_names_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        get_preset("mobilebert", **changes)


def test_plain_block_requires_block_input_attention():
    with pytest.raises(ValueError, match="qkv_source"):
        get_preset("bert_base", qkv_source="bottleneck")


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="mobilebert_tiny") as error:
        get_preset("mobilebert_large")
    for name in PRESETS:
        assert name in str(error.value)


def test_unknown_override_field_is_rejected():
    with pytest.raises(ValueError, match="hiden_size"):
        get_preset("mobilebert", hiden_size=3)


def test_dict_round_trip():
    config = get_preset("mobilebert_tiny_mini", num_layers=2)
    assert MobileBertConfig.from_dict(config.to_dict()) == config


def test_overrides_parse_exactly_the_boolean_spellings():
    for value, expected in [("true", True), ("YES", True), ("1", True), ("false", False),
                            ("No", False), ("0", False)]:
        assert parse_overrides([f"use_trigram={value}"]) == {"use_trigram": expected}
    for value in ("ture", "", "2", "off"):
        with pytest.raises(ValueError, match=f"'use_trigram={value}': use_trigram takes "
                                             "true/false/1/0/yes/no"):
            parse_overrides([f"use_trigram={value}"])
    with pytest.raises(ValueError, match="num_layers takes an integer"):
        parse_overrides(["num_layers=two"])
