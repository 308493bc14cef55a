"""`Distiller`: layer-wise knowledge transfer and pre-training distillation in `train_step`."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from mobilebert_tf.config import MobileBertConfig
from mobilebert_tf.distillation import losses
from mobilebert_tf.training.losses import nsp_terms
from mobilebert_tf.distillation.schedule import DistillStage
from mobilebert_tf.models import MobileBertPretrainer
from mobilebert_tf.training.trainer import PRETRAINER_KEYS, StagedTrainer


def pair_layers(teacher: MobileBertConfig, student: MobileBertConfig,
                layer_mapping: Sequence[int] | None = None) -> tuple[int, ...]:
    """The teacher layer of each student layer (default: the same layer), once the two
    configs are known to fit each other for layer transfer and distillation.

    Raises:
        ValueError: layer counts differ without a mapping, a bad mapping, or other hidden
            sizes, head counts or vocabularies.
    """
    if layer_mapping is None:
        if teacher.num_layers != student.num_layers:
            raise ValueError(
                f"Teacher has {teacher.num_layers} layers and student {student.num_layers}; "
                "pass layer_mapping (teacher layer per student layer) to pair them.")
        layer_mapping = range(student.num_layers)
    layer_mapping = tuple(int(i) for i in layer_mapping)
    if len(layer_mapping) != student.num_layers or not all(
            0 <= i < teacher.num_layers for i in layer_mapping):
        raise ValueError(f"layer_mapping {layer_mapping} must give a teacher layer in "
                         f"[0, {teacher.num_layers}) for each of the student's "
                         f"{student.num_layers} layers.")
    if teacher.hidden_size != student.hidden_size:
        raise ValueError(f"Feature-map transfer needs equal hidden sizes; teacher "
                         f"{teacher.hidden_size}, student {student.hidden_size}.")
    if teacher.num_heads != student.num_heads:
        raise ValueError(f"Attention transfer needs equal head counts; teacher "
                         f"{teacher.num_heads}, student {student.num_heads}.")
    if teacher.vocab_size != student.vocab_size:
        raise ValueError(f"Teacher and student vocabularies differ: {teacher.vocab_size} "
                         f"vs {student.vocab_size}.")
    return layer_mapping


class Distiller(StagedTrainer):
    """Trains a student `MobileBertPretrainer` from a frozen teacher, stage by stage.

    Per stage (see `mobilebert_tf.distillation.schedule`): for each student layer l in
    `transfer_layers`, feature-map transfer between block outputs (`encoder_outputs[l + 1]`)
    and attention transfer between attention logits of student layer l and teacher layer
    `layer_mapping[l]`; with `distill_pretraining`, `alpha * MLM + (1 - alpha) * KD + NSP`.

    The teacher runs with `training=False` (no dropout), outside the gradient tape; it is not
    tracked by this model, so it is in neither the optimizer nor any checkpoint of the
    student. The student also runs without dropout, as in the paper's recipe.

    Args:
        teacher: The trained teacher `MobileBertPretrainer` (already loaded).
        student: The student `MobileBertPretrainer`.
        stages: list of `DistillStage` (e.g. `make_schedule("pkt", ...)`).
        alpha: Weight of the hard MLM loss in PD (1 = plain MLM).
        temperature: KD temperature on the logits.
        layer_mapping: Teacher layer for each student layer; identity by default, which
            needs equal layer counts.
        jit_compile: See `StagedTrainer`.
        feature_map_transfer / attention_transfer: Keep that layer loss (ablations turn one
            off; at least one must stay on when a stage transfers layers).

    Example:
    >>> from mobilebert_tf.distillation.schedule import make_schedule
    >>> from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages
    >>> distiller = Distiller(teacher, student, make_schedule("pkt", 2, 10, 20))
    >>> distiller.compile(optimizer=create_optimizer("lamb", schedule_for_stages(distiller.stages)))
    >>> distiller.set_stage(0); logs = distiller.train_step(batch)
    """

    def __init__(self, teacher: MobileBertPretrainer, student: MobileBertPretrainer,
                 stages: list[DistillStage], alpha: float = 0.5, temperature: float = 1.0,
                 layer_mapping: Sequence[int] | None = None, jit_compile: bool = False,
                 feature_map_transfer: bool = True, attention_transfer: bool = True,
                 **kwargs):
        super().__init__(student, stages, jit_compile=jit_compile, training=False, **kwargs)
        t_config, s_config = teacher.encoder.config, student.encoder.config
        layer_mapping = pair_layers(t_config, s_config, layer_mapping)
        for stage in self.stages:
            bad = [l for l in stage.transfer_layers if not 0 <= l < s_config.num_layers]
            if bad:
                raise ValueError(f"Stage {stage.name!r} transfers layers {bad}; the student "
                                 f"has {s_config.num_layers}.")
        if not (feature_map_transfer or attention_transfer) and any(
                stage.transfer_layers for stage in self.stages):
            raise ValueError("Layer-transfer stages need feature-map or attention transfer; "
                             "with both off, use a schedule without transfer stages.")
        self.feature_map_transfer = bool(feature_map_transfer)
        self.attention_transfer = bool(attention_transfer)
        self._self_setattr_tracking = False
        # We never modify the teacher, so it is not tracked: not in checkpoints or optimizer.
        self.teacher = teacher
        self._self_setattr_tracking = True
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        self.layer_mapping = layer_mapping

    @property
    def student(self) -> MobileBertPretrainer:
        return self.model

    def loss_terms(self, data, stage):
        inputs = {k: data[k] for k in PRETRAINER_KEYS}
        teacher_out = tf.nest.map_structure(tf.stop_gradient,
                                            self.teacher(inputs, training=False))
        student_out = self.student(inputs, training=self.run_training)
        mask = data["input_mask"]
        terms = {}
        for layer in stage.transfer_layers:
            t_layer = self.layer_mapping[layer]
            if self.feature_map_transfer:
                fmt, _ = losses.weighted_feature_map_terms(
                    teacher_out["encoder_outputs"][t_layer + 1],
                    student_out["encoder_outputs"][layer + 1], mask)
                terms[f"fmt_layer_{layer}"] = (fmt, "tokens")
            if self.attention_transfer:
                at_sum, _ = losses.attention_transfer_terms(
                    teacher_out["attention_logits"][t_layer],
                    student_out["attention_logits"][layer], mask)
                # Attention transfer averages over heads too: divide by heads here, tokens
                # later.
                heads = float(self.student.encoder.config.num_heads)
                terms[f"at_layer_{layer}"] = (at_sum / heads, "tokens")
        if stage.distill_pretraining:
            mlm_sum, _ = losses.distillation_mlm_terms(
                student_out["mlm_logits"], teacher_out["mlm_logits"], data["masked_lm_ids"],
                data["masked_lm_weights"], self.alpha, self.temperature)
            terms["pd_mlm"] = (mlm_sum, "predictions")
            nsp_sum, _ = nsp_terms(student_out["nsp_logits"],
                                          data["next_sentence_labels"])
            terms["pd_nsp"] = (nsp_sum, "sequences")
        return terms
