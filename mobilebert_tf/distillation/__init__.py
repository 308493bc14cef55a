"""Knowledge distillation from the IB-BERT teacher into MobileBERT (paper section 2)."""

from mobilebert_tf.distillation import losses
from mobilebert_tf.distillation.distiller import Distiller
from mobilebert_tf.distillation.schedule import (STRATEGIES, Stage, akt_schedule, jkt_schedule,
                                                 make_schedule, pkt_schedule, stage_at,
                                                 total_steps)
from mobilebert_tf.distillation.weight_copy import (copy_pretraining_weights, parameter_groups,
                                                    relative_weights)

__all__ = ["Distiller", "STRATEGIES", "Stage", "akt_schedule", "copy_pretraining_weights",
           "jkt_schedule", "losses", "make_schedule", "parameter_groups", "pkt_schedule",
           "relative_weights", "stage_at", "total_steps"]
