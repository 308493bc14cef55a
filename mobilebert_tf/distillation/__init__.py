"""Knowledge distillation from the IB-BERT teacher into MobileBERT (paper section 2)."""

from mobilebert_tf.distillation import losses
from mobilebert_tf.distillation.distiller import Distiller
from mobilebert_tf.distillation.schedule import (STRATEGIES, DistillStage, akt_schedule,
                                                 jkt_schedule, make_schedule, pkt_schedule)
from mobilebert_tf.distillation.weight_copy import copy_pretraining_weights

__all__ = ["Distiller", "DistillStage", "STRATEGIES", "akt_schedule",
           "copy_pretraining_weights", "jkt_schedule", "losses", "make_schedule",
           "pkt_schedule"]
