"""The reference side of the latency benchmark: tf-models-official's (TFMG's)
`MobileBERTEncoder` and BERT-base (`BertEncoderV2`) converted by the same converter as ours,
with random weights (norm parameters randomized too: the converter deletes identity NoNorms,
which would make untrained models look faster than trained ones)."""

from __future__ import annotations

import tensorflow as tf

from mobilebert_tf.encoder import INPUT_KEYS, build_encoder
from mobilebert_tf.export import exporter, tflite
from mobilebert_tf.signature import save_encoder_saved_model
from mobilebert_tf.weights import randomize_norms


def convert_reference(encoder, seq_length, precision, work_dir):
    """tf-models-official encoders through the same converter (their graph as they build it,
    plain full-integer quantization: what a user of the reference gets today)."""
    path = save_encoder_saved_model(encoder, tf.io.gfile.join(work_dir,
                                                              f"reference_{encoder.name}"),
                                    batch_size=1, seq_length=seq_length)
    converter = tf.lite.TFLiteConverter.from_saved_model(path)
    if precision != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "int8":
        examples = exporter.random_examples(20, 1, seq_length, 30522)
        converter.representative_dataset = lambda: iter(examples)
    return converter.convert()


SUITE = ("ours", "ours unfolded", "tfmg mobilebert", "tfmg bert_base")


def reference_suite(preset: str, precisions, seq_length: int, work_dir: str,
                    include=SUITE) -> dict[str, bytes]:
    """`{"<model> <precision>": .tflite bytes}` for the models in `include`: ours (`preset`,
    folded and unfolded), TFMG MobileBERT and TFMG BERT-base (never full int8: not part of the
    comparison)."""
    from official.nlp.modeling.networks import bert_encoder, mobile_bert_encoder

    unknown = set(include) - set(SUITE)
    if unknown:
        raise ValueError(f"Unknown reference models {sorted(unknown)}; expected some of {SUITE}.")
    saved = {}
    if {"ours", "ours unfolded"} & set(include):
        ours = build_encoder(preset)
        randomize_norms(ours)
        calibration = exporter.random_examples(20, 1, seq_length, ours.config.vocab_size)
        for name in ("ours", "ours unfolded"):
            if name in include:
                saved[name] = tflite.save_saved_model(
                    ours, tf.io.gfile.join(work_dir, name.replace(" ", "_")), 1, seq_length,
                    fold=name == "ours")
    theirs = {}
    if "tfmg mobilebert" in include:
        theirs["tfmg mobilebert"] = mobile_bert_encoder.MobileBERTEncoder(
            name="tfmg_mobilebert")
    if "tfmg bert_base" in include:
        theirs["tfmg bert_base"] = bert_encoder.BertEncoderV2(
            vocab_size=30522, type_vocab_size=2, name="tfmg_bert_base")
    for model in theirs.values():
        model({k: tf.ones([1, seq_length], tf.int32) for k in INPUT_KEYS})
        randomize_norms(model)
    models = {}
    for precision in precisions:
        for name in include:
            if name in saved:
                models[f"{name} {precision}"] = tflite.convert(saved[name], precision,
                                                               lambda: calibration)
            elif precision != "int8" or name != "tfmg bert_base":
                models[f"{name} {precision}"] = convert_reference(theirs[name], seq_length,
                                                                  precision, work_dir)
    return models
