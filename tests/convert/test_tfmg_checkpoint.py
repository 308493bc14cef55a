"""Import of tf-models-official's TF2 object checkpoints, checked against their model run here.

Tolerance: relative error max|ours - theirs| / max|theirs| <= 1e-5, as in
tests/models/test_tfmg_parity.py (float32 reordering: einsum vs matmul, where Q is scaled).
Inputs are unpadded: with padding the two differ by design through the [PAD] embedding in the
3-gram window (see that file's docstring).
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from official.nlp.modeling import layers as tfmg_layers
from official.nlp.modeling import models as tfmg_models

from mobilebert_tf import get_preset
from mobilebert_tf.convert.architecture import ArchitectureMismatchError
from mobilebert_tf.convert.importer import CheckpointMismatchError, load_checkpoint
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.testing import relative_error, tfmg_mobilebert_encoder

RTOL = 1e-5


def _randomize(model, seed=0):
    # Random NoNorm gamma/beta and biases too, so that no weight can be dropped unnoticed.
    rng = np.random.default_rng(seed)
    for w in model.weights:
        scale = 0.5 if w.shape.rank == 1 else 0.05
        w.assign(rng.normal(0.0, scale, w.shape).astype(np.float32)
                 + (1.0 if "gamma" in w.name else 0.0))


CONFIGS = {
    "mobilebert": get_preset("mobilebert_mini", num_layers=2, vocab_size=120, max_position=64),
    "tiny_with_pooler": get_preset("mobilebert_tiny_mini", num_layers=2, vocab_size=120,
                                   max_position=64, use_pooler=True),
    "teacher": get_preset("ib_bert_mini", num_layers=2, vocab_size=120, max_position=64,
                          intra_size=64, intermediate_size=128, hidden_dropout=0.0),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_encoder_checkpoint_matches_tfmg(name, tmp_path):
    config = CONFIGS[name]
    theirs = tfmg_mobilebert_encoder(config)
    _randomize(theirs)
    path = tf.train.Checkpoint(encoder=theirs).save(str(tmp_path / "ckpt"))

    ours, report = load_checkpoint("tfmg", path, config)

    assert not report.missing and not report.unused["unknown"]
    assert report.unused["bookkeeping"] == ["save_counter"]
    inputs = encoder_inputs(2, 16, config.vocab_size)
    a, b = ours(inputs), theirs(inputs)
    for layer, (x, y) in enumerate(zip(a["encoder_outputs"], b["encoder_outputs"])):
        assert relative_error(x, y) <= RTOL, f"encoder_outputs[{layer}]"
    assert relative_error(a["pooled_output"], b["pooled_output"]) <= RTOL


def test_pretrainer_checkpoint_with_heads_matches_tfmg(tmp_path):
    config = CONFIGS["mobilebert"]
    encoder = tfmg_mobilebert_encoder(config)
    mlm = tfmg_layers.MobileBertMaskedLM(embedding_table=encoder.get_embedding_table(),
                                         activation="relu", name="cls/predictions")
    pretrainer = tfmg_models.BertPretrainerV2(encoder_network=encoder,
                                              customized_masked_lm=mlm)
    inputs = encoder_inputs(2, 16, config.vocab_size)
    inputs["masked_lm_positions"] = tf.constant([[1, 5, 9], [0, 2, 15]])
    pretrainer(inputs)
    _randomize(pretrainer)
    # What their released checkpoints hold (official/projects/mobilebert/export_tfhub.py).
    path = tf.train.Checkpoint(**pretrainer.checkpoint_items).save(str(tmp_path / "ckpt"))

    ours, report = load_checkpoint("tfmg", path, config, with_heads=True)

    # Their pretrainer has no NSP head: reported, and left at its initial values.
    assert report.missing == ["nsp_head/kernel", "nsp_head/bias"]
    assert not report.unused["unknown"]
    # The shared word table is stored once, under whichever object path came first.
    assert "embeddings/word_embeddings" in report.loaded
    expected = pretrainer(inputs)["mlm_logits"]
    assert relative_error(ours(inputs)["mlm_logits"], expected) <= RTOL

    # The encoder alone from the same file: the MLM weights are listed as not requested.
    keras.backend.clear_session()
    _, encoder_report = load_checkpoint("tfmg", path, config)
    assert len(encoder_report.unused["heads_not_requested"]) == 6


def test_optimizer_slots_are_listed_not_loaded(tmp_path):
    config = CONFIGS["mobilebert"]
    theirs = tfmg_mobilebert_encoder(config)
    optimizer = keras.optimizers.Adam()
    inputs = encoder_inputs(1, 8, config.vocab_size)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(theirs(inputs)["sequence_output"])
    optimizer.apply_gradients(zip(tape.gradient(loss, theirs.trainable_weights),
                                  theirs.trainable_weights))
    path = tf.train.Checkpoint(encoder=theirs, optimizer=optimizer).save(str(tmp_path / "c"))

    _, report = load_checkpoint("tfmg", path, config)

    slots = report.unused["optimizer"]
    assert len(slots) >= 2 * len(theirs.trainable_weights) and not report.unused["unknown"]


def test_wrong_depth_and_missing_weights_are_errors(tmp_path):
    config = CONFIGS["mobilebert"]
    theirs = tfmg_mobilebert_encoder(config.replace(num_layers=3))
    path = tf.train.Checkpoint(encoder=theirs).save(str(tmp_path / "ckpt"))
    with pytest.raises(ArchitectureMismatchError, match="num_layers: checkpoint 3, config 2"):
        load_checkpoint("tfmg", path, config)
    # A checkpoint of the embedding layer alone: everything in the blocks is missing.
    partial = tf.train.Checkpoint(encoder=tf.train.Checkpoint(
        **{"layer_with_weights-0": theirs.layers[3]}))
    assert "word_embedding" in {v.name.split("/")[1] for v in theirs.layers[3].weights}
    path = partial.save(str(tmp_path / "partial"))
    with pytest.raises(CheckpointMismatchError, match="layer_0/attention/query/kernel"):
        load_checkpoint("tfmg", path, config.replace(num_layers=2))
