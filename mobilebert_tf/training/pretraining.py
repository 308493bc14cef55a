"""`PretrainingTrainer`: plain MLM + NSP pretraining (the teacher, or a student without one)."""

from __future__ import annotations

from mobilebert_tf.training import losses
from mobilebert_tf.training.parameter_groups import all_groups
from mobilebert_tf.training.stage import Stage
from mobilebert_tf.training.trainer import PRETRAINER_KEYS, StagedTrainer


def pretraining_stage(num_layers: int, steps: int, learning_rate: float,
                      warmup_steps: int) -> Stage:
    """One stage training every group on MLM + NSP, warm-up then linear decay."""
    return Stage(name="pretrain", steps=steps,
                 lr_multipliers={g: 1.0 for g in all_groups(num_layers)},
                 learning_rate=learning_rate, warmup_steps=warmup_steps, decay="linear")


class PretrainingTrainer(StagedTrainer):
    """MLM (weighted by `masked_lm_weights`) + NSP on hard labels, with dropout.

    Example:
    >>> from mobilebert_tf import MobileBertPretrainer, build_encoder
    >>> from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages
    >>> model = MobileBertPretrainer(build_encoder("ib_bert_mini", num_layers=2))
    >>> trainer = PretrainingTrainer(model, [pretraining_stage(2, 100, 1e-3, 10)])
    >>> trainer.compile(optimizer=create_optimizer("lamb", schedule_for_stages(trainer.stages)))
    """

    def loss_terms(self, data, stage):
        outputs = self.model({k: data[k] for k in PRETRAINER_KEYS}, training=self.run_training)
        mlm, _ = losses.mlm_terms(outputs["mlm_logits"], data["masked_lm_ids"],
                                  data["masked_lm_weights"])
        nsp, _ = losses.nsp_terms(outputs["nsp_logits"], data["next_sentence_labels"])
        return {"mlm": (mlm, "predictions"), "nsp": (nsp, "sequences")}
