"""Distiller stages: what each strategy trains, and what it must leave bit-identical."""

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.distillation import (Distiller, DistillStage, copy_pretraining_weights,
                                        make_schedule)
from mobilebert_tf.distillation import losses
from mobilebert_tf.training import losses as hard_losses
from mobilebert_tf.training.parameter_groups import parameter_groups
from mobilebert_tf.training.loop import create_optimizer_slots, make_checkpoint
from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages


def _distiller(teacher, student, stages, **kwargs):
    distiller = Distiller(teacher, student, stages, **kwargs)
    distiller.compile(optimizer=create_optimizer("lamb", schedule_for_stages(stages),
                                                 weight_decay=0.01))
    return distiller


def _snapshot(student):
    return {g: [v.numpy().copy() for v in vs] for g, vs in parameter_groups(student).items()}


def _changed(before, after):
    """Groups with at least one weight that is not bit-identical."""
    return {g for g in before
            if any(not np.array_equal(a, b) for a, b in zip(before[g], after[g]))}


def _run_stage(distiller, index, batch, steps=1):
    distiller.set_stage(index)
    step = tf.function(distiller.train_step)
    logs = None
    for _ in range(steps):
        logs = step(batch)
    return logs, step


def test_pkt_stage_trains_only_its_layer(pair3, batch):
    teacher, student = pair3
    copy_pretraining_weights(teacher, student)
    teacher_before = [w.numpy().copy() for w in teacher.weights]
    distiller = _distiller(teacher, student, make_schedule("pkt", 3, 2, 2))
    before = _snapshot(student)
    logs, _ = _run_stage(distiller, 1, batch, steps=2)
    assert set(logs) == {"fmt_layer_1", "at_layer_1", "loss", "learning_rate"}
    # Higher layers, lower layers (multiplier 0), embeddings and heads: bit-identical, even
    # though LAMB's weight decay (0.01) would move any variable it were given.
    assert _changed(before, _snapshot(student)) == {"layer_1"}
    for w, b in zip(teacher.weights, teacher_before):
        np.testing.assert_array_equal(w.numpy(), b)


def test_pkt_lower_multiplier_scales_the_lower_layers_update(pair, batch):
    teacher, student = pair
    initial = [w.numpy().copy() for w in student.weights]
    deltas = {}
    for multiplier in (1.0, 0.1):
        for w, value in zip(student.weights, initial):
            w.assign(value)
        stages = [DistillStage("pkt_layer_1", 1, transfer_layers=(1,),
                               lr_multipliers={"layer_1": 1.0, "layer_0": multiplier})]
        before = _snapshot(student)
        _run_stage(_distiller(teacher, student, stages), 0, batch)
        after = _snapshot(student)
        assert _changed(before, after) == {"layer_0", "layer_1"}
        deltas[multiplier] = [a - b for a, b in zip(after["layer_0"], before["layer_0"])]
        deltas[multiplier, "top"] = [a - b for a, b in zip(after["layer_1"], before["layer_1"])]
    # Tolerance: a delta is a difference of float32 weights (norm gammas are ~1), so it is
    # known to ~1 ulp of the weight (1.2e-7 at 1), not relative to the (tiny) delta itself.
    for full, scaled in zip(deltas[1.0], deltas[0.1]):
        np.testing.assert_allclose(scaled, 0.1 * full, rtol=1e-3, atol=2.5e-7)
    assert max(np.abs(full).max() for full in deltas[1.0]) > 1e-4  # the test has teeth
    for full, scaled in zip(deltas[1.0, "top"], deltas[0.1, "top"]):
        np.testing.assert_allclose(scaled, full, rtol=1e-5, atol=2.5e-7)


def test_pkt_default_schedule_has_lower_multiplier_groups():
    stages = make_schedule("pkt", 3, 10, 20, lower_multiplier=0.1)
    assert [s.name for s in stages] == ["pkt_layer_0", "pkt_layer_1", "pkt_layer_2", "pd"]
    assert stages[2].lr_multipliers == {"layer_2": 1.0, "layer_0": 0.1, "layer_1": 0.1}
    assert stages[0].lr_multipliers == {"layer_0": 1.0}
    assert stages[3].distill_pretraining and not stages[3].transfer_layers


def test_jkt_trains_all_layers_jointly_then_everything(pair, batch):
    teacher, student = pair
    distiller = _distiller(teacher, student, make_schedule("jkt", 2, 2, 2))
    before = _snapshot(student)
    logs, _ = _run_stage(distiller, 0, batch)
    assert {k for k in logs if k.startswith(("fmt", "at"))} == {
        f"{kind}_layer_{i}" for kind in ("fmt", "at") for i in range(2)}
    assert not any(k.startswith("pd") for k in logs)
    middle = _snapshot(student)
    assert _changed(before, middle) == {"layer_0", "layer_1"}
    logs, _ = _run_stage(distiller, 1, batch)
    assert {k for k in logs if k not in ("loss", "learning_rate")} == {"pd_mlm", "pd_nsp"}
    assert _changed(middle, _snapshot(student)) == {
        "embeddings", "layer_0", "layer_1", "mlm_head", "nsp_head"}


def test_akt_is_one_stage_with_every_loss(pair, batch):
    teacher, student = pair
    stages = make_schedule("akt", 2, 0, 2)
    assert len(stages) == 1
    distiller = _distiller(teacher, student, stages)
    before = _snapshot(student)
    logs, _ = _run_stage(distiller, 0, batch)
    assert {"pd_mlm", "pd_nsp", "fmt_layer_0", "at_layer_1"} <= set(logs)
    assert float(logs["loss"]) == pytest.approx(sum(float(v) for k, v in logs.items()
                                             if k not in ("loss", "learning_rate")), rel=1e-5)
    assert _changed(before, _snapshot(student)) == {
        "embeddings", "layer_0", "layer_1", "mlm_head", "nsp_head"}


@pytest.mark.parametrize("kept", ["fmt", "at"])
def test_ablations_drop_one_transfer_loss(pair, batch, kept):
    teacher, student = pair
    distiller = _distiller(teacher, student, make_schedule("pkt", 2, 1, 1),
                           feature_map_transfer=kept == "fmt", attention_transfer=kept == "at")
    logs, _ = _run_stage(distiller, 1, batch)
    assert {k for k in logs if k.endswith("_layer_1")} == {f"{kept}_layer_1"}


def test_no_transfer_loss_left_for_a_transfer_stage_is_rejected(pair):
    teacher, student = pair
    with pytest.raises(ValueError, match="need feature-map or attention transfer"):
        Distiller(teacher, student, make_schedule("pkt", 2, 1, 1),
                  feature_map_transfer=False, attention_transfer=False)
    # Without transfer stages (PD only) both may be off.
    Distiller(teacher, student, make_schedule("jkt", 2, 1, 1)[1:],
              feature_map_transfer=False, attention_transfer=False)


def test_logged_terms_equal_the_pure_losses(pair, batch):
    teacher, student = pair
    distiller = _distiller(teacher, student, make_schedule("akt", 2, 0, 2), alpha=0.5)
    inputs = {k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids",
                                    "masked_lm_positions")}
    t, s = teacher(inputs, training=False), student(inputs, training=False)
    logs, _ = _run_stage(distiller, 0, batch)
    mask = batch["input_mask"]
    for layer in range(2):
        fmt = losses.feature_map_loss(t["encoder_outputs"][layer + 1],
                                      s["encoder_outputs"][layer + 1], mask)
        at = losses.attention_transfer_loss(t["attention_logits"][layer],
                                            s["attention_logits"][layer], mask)
        assert float(logs[f"fmt_layer_{layer}"]) == pytest.approx(float(fmt), rel=1e-5)
        # AT values are ~1e-4, differences of log-probabilities: float32 agrees to ~1e-5.
        assert float(logs[f"at_layer_{layer}"]) == pytest.approx(float(at), rel=1e-4)
    pd = losses.distillation_mlm_loss(s["mlm_logits"], t["mlm_logits"], batch["masked_lm_ids"],
                                      batch["masked_lm_weights"], alpha=0.5)
    assert float(logs["pd_mlm"]) == pytest.approx(float(pd), rel=1e-5)
    nsp = hard_losses.nsp_loss(s["nsp_logits"], batch["next_sentence_labels"])
    assert float(logs["pd_nsp"]) == pytest.approx(float(nsp), rel=1e-5)


def test_one_trace_per_stage(pair, new_batch):
    teacher, student = pair
    distiller = _distiller(teacher, student, make_schedule("pkt", 2, 3, 3))
    create_optimizer_slots(distiller)  # as the loop does: no variable creation in the step
    _, step = _run_stage(distiller, 0, new_batch(seed=0))
    step(new_batch(seed=1))
    step(new_batch(seed=2))
    assert step.experimental_get_tracing_count() == 1


def test_teacher_is_not_tracked_or_checkpointed(pair, batch, tmp_path):
    teacher, student = pair
    distiller = _distiller(teacher, student, make_schedule("pkt", 2, 1, 1))
    _run_stage(distiller, 0, batch)
    teacher_ids = {id(v) for v in teacher.weights}
    assert not teacher_ids & {id(v) for v in distiller.variables}
    assert not teacher_ids & {id(v) for v in distiller.optimizer.variables()}
    path = make_checkpoint(distiller, tf.Variable(1, dtype=tf.int64)).save(str(tmp_path / "c"))
    saved = tf.train.list_variables(path)
    assert not any("teacher" in name for name, _ in saved)
    # The teacher's 256-wide FFN kernels exist nowhere in the student's checkpoint.
    assert not any(256 in shape for _, shape in saved)
    model_vars = [n for n, _ in saved if n.startswith("model/") and "OPTIMIZER_SLOT" not in n]
    assert len(model_vars) == len(student.weights)


def test_fit_compatible(pair, batch):
    teacher, student = pair
    distiller = _distiller(teacher, student, make_schedule("pkt", 2, 2, 2))
    distiller.set_stage(0)
    history = distiller.fit(tf.data.Dataset.from_tensors(batch).repeat(2), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_layer_count_mismatch_needs_mapping(new_pretrainer):
    teacher = new_pretrainer("ib_bert_mini", num_layers=3, name="teacher")
    student = new_pretrainer("mobilebert_mini", num_layers=2)
    with pytest.raises(ValueError, match="layer_mapping"):
        Distiller(teacher, student, make_schedule("pkt", 2, 1, 1))
    distiller = Distiller(teacher, student, make_schedule("pkt", 2, 1, 1), layer_mapping=[0, 2])
    assert distiller.layer_mapping == (0, 2)
    with pytest.raises(ValueError, match="layer_mapping"):
        Distiller(teacher, student, make_schedule("pkt", 2, 1, 1), layer_mapping=[0, 3])


def test_bad_configurations_are_rejected(new_pretrainer):
    teacher = new_pretrainer("ib_bert_mini", name="teacher")
    student = new_pretrainer("mobilebert_mini", hidden_size=64)
    with pytest.raises(ValueError, match="hidden sizes"):
        Distiller(teacher, student, make_schedule("pkt", 2, 1, 1))
    with pytest.raises(ValueError, match="Unknown distillation strategy"):
        make_schedule("bkt", 2, 1, 1)
    student = new_pretrainer("mobilebert_mini")
    with pytest.raises(ValueError, match="layer_2"):
        Distiller(teacher, student, make_schedule("pkt", 3, 1, 1))
    with pytest.raises(ValueError, match="unknown parameter groups"):
        Distiller(teacher, student, [DistillStage("x", 1, transfer_layers=(0,), lr_multipliers={"layer_9": 1.0})])
    with pytest.raises(ValueError, match="no loss term"):
        DistillStage("x", 1, lr_multipliers={"layer_0": 1.0})
