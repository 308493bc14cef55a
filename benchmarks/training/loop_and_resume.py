"""Two costs of the training loop on this machine, each compared side by side in one run:

1. `--steps_per_loop`: tiny-config teacher pretraining steps (`ib_bert_mini`, 2 layers, batch
   8, seq 32) run by the loop's own step function (`training.loop.step_function`, traced
   once) 1, 10 or 100 steps per host call, the logs fetched after every call as the loop
   does; settings interleaved round by round, order reversed every other round.
2. Resume: time to the first batch of the record pipeline resumed at the data position of
   step 10, 10,000 and 10,000,000, against the pipeline that re-reads what it skips (`skip`,
   up to step 100,000),
   the way a restart found its position before. A resumed pipeline re-reads the part of its
   current window (8 files) before the position: at most one window, whatever the step.

  python -m benchmarks.training.loop_and_resume [--rounds 3]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time

from absl import app, flags

if not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))

flags.DEFINE_integer("rounds", 3, "Interleaved rounds per measurement.")
flags.DEFINE_integer("long", 400, "Steps per setting and round (a multiple of each).")
flags.DEFINE_list("steps_per_loop", ["1", "10", "100"], "Settings to compare.")
flags.DEFINE_integer("files", 8, "Record files of the resume benchmark.")
flags.DEFINE_integer("records_per_file", 20000, "Records per file (equal: positions are "
                     "computed, not read).")
flags.DEFINE_list("parts", ["loop", "resume"], "Measurements to run.")
flags.DEFINE_string("output", None, "Also write the results to this JSON file.")
FLAGS = flags.FLAGS

SEQ, PREDICTIONS, VOCAB, BATCH = 32, 5, 1000, 8


def _write_records(root: str, files: int, per_file: int) -> str:
    import tensorflow as tf

    from mobilebert_tf.data.synthetic_records import (synthetic_examples,
                                                      write_pretraining_records)
    tf.io.gfile.makedirs(root)
    for i in range(files):
        write_pretraining_records(f"{root}/part-{i:03d}.tfrecord",
                                  synthetic_examples(per_file, SEQ, PREDICTIONS, VOCAB, seed=i))
    return f"{root}/part-*.tfrecord"


def time_steps_per_loop(records: str) -> dict:
    """ms per step of the training loop's own step function (one trace) called with
    `num_steps` = each setting, the logs fetched to the host after every call as the loop
    does; settings interleaved, best round of each."""
    import tensorflow as tf

    from mobilebert_tf import MobileBertPretrainer, build_encoder
    from mobilebert_tf.data.pretraining_dataset import pretraining_dataset
    from mobilebert_tf.training import loop
    from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages
    from mobilebert_tf.training.pretraining import PretrainingTrainer, pretraining_stage

    strategy = tf.distribute.get_strategy()
    model = MobileBertPretrainer(build_encoder("ib_bert_mini", num_layers=2, vocab_size=VOCAB))
    model(model.example_inputs())
    stages = [pretraining_stage(2, 10 ** 6, 1e-4, 0)]
    trainer = PretrainingTrainer(model, stages)
    trainer.compile(optimizer=create_optimizer("lamb", schedule_for_stages(stages)))
    loop.create_optimizer_slots(trainer)
    trainer.set_stage(0)
    iterator = iter(strategy.distribute_datasets_from_function(
        lambda context: pretraining_dataset(records, SEQ, PREDICTIONS, BATCH,
                                            input_context=context, with_position=True)))
    run_steps = loop.step_function(trainer, strategy)
    settings = [int(n) for n in FLAGS.steps_per_loop]
    steps = FLAGS.long  # per setting and round: a multiple of every setting

    def timed(n):
        start = time.perf_counter()
        for _ in range(steps // n):
            logs, _ = run_steps(iterator, tf.constant(n))
            {k: v.numpy() for k, v in logs.items()}
        return 1000 * (time.perf_counter() - start) / (steps // n * n)

    for n in settings:  # warm-up: the one trace, first calls
        timed(n)
    rounds = {n: [] for n in settings}
    for r in range(FLAGS.rounds):
        for n in (settings if r % 2 == 0 else settings[::-1]):
            rounds[n].append(timed(n))
    best = {n: min(t) for n, t in rounds.items()}
    return {str(n): {"ms_per_step": best[n], "speedup_vs_first": best[settings[0]] / best[n],
                     "rounds_ms": rounds[n]} for n in settings}


def time_resume(records: str) -> dict:
    """Seconds to the first batch of the pipeline positioned after step s, and of the
    pipeline that skips s batches, best of the rounds."""
    from mobilebert_tf.data.pretraining_dataset import pretraining_dataset
    files_per_window = 8
    window_records = min(FLAGS.files, files_per_window) * FLAGS.records_per_file

    def position(step):  # the last record read after `step` steps (files of equal size)
        last = step * BATCH - 1
        return last // window_records, last % window_records

    def first_batch_seconds(step, positioned):
        start = time.perf_counter()
        dataset = pretraining_dataset(records, SEQ, PREDICTIONS, BATCH, seed=0,
                                      files_per_window=files_per_window,
                                      start=position(step) if positioned else None)
        next(iter(dataset if positioned else dataset.skip(step)))
        return time.perf_counter() - start

    steps = {"positioned": (10, 10_000, 10_000_000), "skip": (10, 10_000, 100_000)}
    seconds = {kind: {s: [] for s in kind_steps} for kind, kind_steps in steps.items()}
    for _ in range(FLAGS.rounds):
        for kind, kind_steps in steps.items():
            for step in kind_steps:
                seconds[kind][step].append(first_batch_seconds(step, kind == "positioned"))
    return {kind: {str(step): min(t) for step, t in by_step.items()}
            for kind, by_step in seconds.items()}


def main(argv):
    del argv
    import tensorflow as tf
    load = os.getloadavg()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {load[0]:.2f}; TF {tf.__version__}; rounds {FLAGS.rounds}.")
    loops = resume = None
    with tempfile.TemporaryDirectory() as work:
        if "loop" in FLAGS.parts:
            records = _write_records(f"{work}/records", 2, 2000)
            loops = time_steps_per_loop(records)
            print(f"\nib_bert_mini (2 layers) pretraining step, batch {BATCH}, seq {SEQ}; "
                  f"{FLAGS.long} steps per setting and round:")
            print("| steps_per_loop | ms/step | speed-up vs 1 |\n|---|---|---|")
            for n, row in loops.items():
                print(f"| {n} | {row['ms_per_step']:.1f} | {row['speedup_vs_first']:.2f} |")
        if "resume" in FLAGS.parts:
            big = _write_records(f"{work}/big", FLAGS.files, FLAGS.records_per_file)
            resume = time_resume(big)
            window = min(FLAGS.files, 8) * FLAGS.records_per_file
            print(f"\nTime to the first batch after a restart ({FLAGS.files} files x "
                  f"{FLAGS.records_per_file:,} records, windows of {window:,} records = "
                  f"{window // BATCH:,} steps at batch {BATCH}):")
            columns = ("10", "10000", "100000", "10000000")
            print("| pipeline | " + " | ".join(f"step {int(c):,} (s)" for c in columns)
                  + " |\n|---|---|---|---|---|")
            for kind, row in resume.items():
                cells = [f"{row[c]:.3f}" if c in row else "-" for c in columns]
                print(f"| {kind} | " + " | ".join(cells) + " |")
    if FLAGS.output:
        with open(FLAGS.output, "w", encoding="utf-8") as f:
            json.dump({"steps_per_loop": loops, "resume": resume, "load": load}, f, indent=1)


if __name__ == "__main__":
    app.run(main)
