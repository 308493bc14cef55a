"""The main job (`make demo`): the whole MobileBERT story on real text, on a laptop CPU.

    python -m mobilebert_tf.demo [--work_dir=runs/demo] [--smoke] [--num_threads=2]

Stages (`stages.py`), each written under `work_dir/<stage>/` and skipped when rerun once done
(`pipeline.py`):

  1 corpus     Shakespeare's plays + the sentiment set's *train* snippets as unlabelled text
               (one document per scene / per movie); every 10th document held out
  2 vocab      a WordPiece vocab learned from that text (tensorflow-text)
  3 records    MLM + NSP TFRecords: train (dupe_factor maskings) and held-out
  4 teacher    `run.pretrain` (`--mode teacher`): a small IB-BERT (`ib_bert_mini`), MLM + NSP
  5 student    `run.distill` (`--mode distill`): a small MobileBERT (`mobilebert_mini`) by
               progressive knowledge transfer, then pre-training distillation
  6 finetune   `run.finetune` (`--mode finetune`) on the sentiment task from the student
  7 word_order `run.finetune` on a task only word order solves (`data.word_order`: a held-out
               sentence as written or with two adjacent words swapped), from the student;
               and the teacher's and student's zero-shot word-order probe (MLM heads)
  8 export     SavedModel + float32 / float16 / dynamic-int8 / int8 `.tflite`, fidelity check
  9 accuracy   dev accuracy of the Keras model and of every `.tflite` on the whole dev split
 10 latency    the demo files timed side by side with full-size MobileBERT and BERT-base
 11 summary    `summary.md` / `summary.json`, loss-curve and latency plots (`report.py`)

Sizes and budgets: `DemoConfig` (`config.py`). The training stages call `mobilebert_tf.run` in
process, each printing the equivalent `mobilebert-train` command (the one to run on a TPU) and
keeping its log in `<stage>/train.log`. `--smoke` shrinks everything (CI).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Iterable

import tensorflow as tf
from absl import flags

from mobilebert_tf import fileio
from mobilebert_tf.demo.config import (SMOKE_CONFIG, DemoConfig, finetune_config,
                                       student_config, teacher_config)
from mobilebert_tf.demo.pipeline import Pipeline
from mobilebert_tf.demo.report import write_summary
from mobilebert_tf.demo.stages import STAGES

__all__ = ["DemoConfig", "Pipeline", "SMOKE_CONFIG", "STAGES", "define_flags",
           "finetune_config", "main", "run_demo", "run_stages", "student_config",
           "teacher_config"]

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The demo's flags (defined on use, so importing this module defines none)."""
    flags.DEFINE_string("work_dir", "runs/demo", "Where every stage writes.")
    flags.DEFINE_bool("smoke", False, "Tiny sizes and a few steps (CI): checks the "
                      "pipeline, not the numbers.")
    flags.DEFINE_integer("num_threads", DemoConfig.num_threads, "TFLite interpreter threads.")


def run_stages(work: Pipeline, names: Iterable[str]) -> dict:
    """The `STAGES` named `names`, in that order, on `work` (skipping finished ones); returns
    `work.results`."""
    for name in names:
        work.run(name, lambda out: STAGES[name](out, work.config, work.results))
    return work.results


def run_demo(work_dir: str, config: DemoConfig) -> dict:
    """All stages in order (skipping finished ones), then the summary; returns every stage's
    result."""
    work = Pipeline(work_dir, config, STAGES, num_stages=len(STAGES) + 1)
    run_stages(work, STAGES)
    print(f"\n[{work.num_stages}/{work.num_stages}] summary", flush=True)
    tf.io.gfile.makedirs(work.dir("summary"))  # always rewritten
    work.results["summary"] = write_summary(work.dir("summary"), work)
    fileio.write_json(tf.io.gfile.join(work_dir, "summary.json"), work.results)
    return work.results


def main(argv):
    del argv
    config = dataclasses.replace(SMOKE_CONFIG if FLAGS.smoke else DemoConfig(),
                                 num_threads=FLAGS.num_threads)
    start = time.perf_counter()
    run_demo(FLAGS.work_dir, config)
    print(f"Demo finished in {(time.perf_counter() - start) / 60:.1f} min; everything is in "
          f"{FLAGS.work_dir}/ (summary: {FLAGS.work_dir}/summary/summary.md).")
