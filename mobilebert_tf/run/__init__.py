"""The run layer: one library function per training mode, each taking a typed, validated
config and an optional `tf.distribute` strategy. `tpu/train.py`, the demo, the ablation and
the benchmarks all call these.

    pretrain(PretrainConfig(...), strategy)     teacher: MLM + NSP
    distill(DistillConfig(...), strategy)       student: PKT / JKT / AKT, then PD
    finetune(FinetuneConfig(...), strategy)     GLUE, SQuAD, sentiment
    make_strategy("tpu", tpu="my-tpu")          default | mirrored | multi_worker | tpu
"""

from mobilebert_tf.finetune.run import FinetuneConfig, FinetuneResult, finetune
from mobilebert_tf.run.configs import DistillConfig, PretrainConfig, RecordTrainingConfig
from mobilebert_tf.run.log_file import log_to_file
from mobilebert_tf.run.pretraining import check_inputs, distill, precision_policy, pretrain
from mobilebert_tf.run.strategy import STRATEGY_NAMES, make_strategy

__all__ = ["DistillConfig", "FinetuneConfig", "FinetuneResult", "PretrainConfig",
           "RecordTrainingConfig", "STRATEGY_NAMES", "check_inputs", "distill", "finetune",
           "log_to_file", "make_strategy", "precision_policy", "pretrain"]
