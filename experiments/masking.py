"""Static vs dynamic masking (issue #25) on the demo's data: the demo's teacher recipe trained
for the same steps on the demo's static records (dupe 2) and on unmasked records of the same
text whose masks the input pipeline draws on every read; both scored on the same static
held-out records every `--eval_every` steps.

Runs from the repository root. First the demo's stages 1-3 (corpus, vocab, records) in
`--work_dir`, reusing finished ones; then the unmasked records in `<work_dir>/masking/records`;
then each (masking, seed) run in `<work_dir>/masking/<masking>/seed_<s>`, which resumes from its
checkpoints (evaluations are appended to its `evals.jsonl`). Writes `results.md` and
`results.json` to `--output_dir`.

    python -m experiments.masking --work_dir runs/demo --output_dir experiments/results/masking
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import statistics
import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("work_dir", "runs/demo", "The demo's work directory (stages 1-3 reused).")
flags.DEFINE_string("output_dir", "experiments/results/masking", "results.md and .json go here.")
flags.DEFINE_list("seeds", ["0", "1"], "Seeds: initialization, data order and dropout.")
flags.DEFINE_integer("steps", None, "Optimizer steps of every run (default: the demo's teacher).")
flags.DEFINE_integer("eval_every", 500, "Held-out MLM every this many steps.")

MASKINGS = ("static", "dynamic")


def unmasked_records(out: str, done: dict, config) -> dict:
    """The demo's train text as unmasked sentence pairs, once (`--dynamic_masking`), in 4
    shards like the static train records."""
    import tensorflow as tf

    from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                            create_pretraining_records)

    pattern = tf.io.gfile.join(out, "*.tfrecord")
    if not tf.io.gfile.exists(tf.io.gfile.join(out, "pretraining_data.json")):
        data = PretrainingDataConfig(seq_length=config.seq_length,
                                     max_predictions_per_seq=config.max_predictions,
                                     dupe_factor=1, num_shards=4, dynamic_masking=True)
        create_pretraining_records(done["corpus"]["files"]["train"], out, done["vocab"]["file"],
                                   data, num_workers=config.record_workers, overwrite=True,
                                   runner_log=out.rstrip("/") + "-beam.log")
    return {"pattern": pattern}


def read_evals(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def train(masking: str, seed: int, train_files: str, heldout_files: str, done: dict,
          config) -> list[dict]:
    """One teacher run (resumed if started); its held-out evaluations, every `eval_every`."""
    from mobilebert_tf.demo.config import teacher_config
    from mobilebert_tf.run.experiment import heldout_dataset, run_training
    from mobilebert_tf.training.evaluation import mlm_accuracy
    from mobilebert_tf.training.loop import Every

    model_dir = os.path.join(FLAGS.work_dir, "masking", masking, f"seed_{seed}")
    run = teacher_config(model_dir, train_files, done["vocab"]["size"], config)
    run = dataclasses.replace(run, seed=seed, checkpoint_every=FLAGS.eval_every)
    evals_path = os.path.join(model_dir, "evals.jsonl")
    if any(e["step"] == run.steps for e in read_evals(evals_path)):
        return read_evals(evals_path)
    heldout = heldout_dataset(heldout_files, run)

    def evaluate(trainer, step: int) -> None:
        if any(e["step"] == step for e in read_evals(evals_path)):
            return
        result = {"step": step, "mlm_accuracy": mlm_accuracy(trainer.model, heldout)}
        print(masking, f"seed {seed}", json.dumps(result), flush=True)
        with open(evals_path, "a") as f:
            f.write(json.dumps(result) + "\n")

    os.makedirs(model_dir, exist_ok=True)
    run_training(run, hooks=lambda trainer: [
        Every(FLAGS.eval_every, lambda step: evaluate(trainer, step))])
    return read_evals(evals_path)


def write_results(rows: list[dict], setup: dict) -> None:
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    with open(os.path.join(FLAGS.output_dir, "results.json"), "w") as f:
        json.dump({"setup": setup, "runs": rows}, f, indent=1)
    steps = sorted({e["step"] for r in rows for e in r["evals"]})
    lines = ["# Static vs dynamic masking: held-out MLM accuracy of the demo's teacher", "",
             f"`{setup['command']}`", "",
             f"Records: static {setup['static']} (dupe 2), dynamic {setup['dynamic']} "
             f"(unmasked, dupe 1; masks drawn on every read). Held-out: {setup['heldout']} "
             f"(static, the same for both). Teacher: the demo's recipe "
             f"({setup['recipe']}), seeds {setup['seeds']}.", "",
             "| step | " + " | ".join(f"{m} (mean ± sd)" for m in MASKINGS)
             + " | dynamic − static |", "|---" * 4 + "|"]
    for step in steps:
        cells, means = [], {}
        for masking in MASKINGS:
            values = [e["mlm_accuracy"] for r in rows if r["masking"] == masking
                      for e in r["evals"] if e["step"] == step]
            means[masking] = statistics.mean(values)
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{means[masking]:.4f} ± {sd:.4f} (n={len(values)})")
        lines.append(f"| {step} | " + " | ".join(cells)
                     + f" | {means['dynamic'] - means['static']:+.4f} |")
    with open(os.path.join(FLAGS.output_dir, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]} (quote globs)")
    from mobilebert_tf import demo
    from mobilebert_tf.demo import DemoConfig, Pipeline

    seeds = [int(s) for s in FLAGS.seeds]
    config = DemoConfig()
    if FLAGS.steps:
        config = dataclasses.replace(config, teacher_steps=FLAGS.steps)
    stages = ("corpus", "vocab", "records")
    done = demo.run_stages(Pipeline(FLAGS.work_dir, config, demo.STAGES, len(stages)), stages)
    records = {"static": done["records"]["train"]["pattern"],
               "dynamic": unmasked_records(os.path.join(FLAGS.work_dir, "masking", "records"),
                                           done, config)["pattern"]}
    heldout = done["records"]["heldout"]["pattern"]
    rows = [{"masking": masking, "seed": seed,
             "evals": train(masking, seed, records[masking], heldout, done, config)}
            for seed in seeds for masking in MASKINGS]
    write_results(rows, {
        "command": " ".join(["python -m experiments.masking"] + [shlex.quote(a)
                                                                  for a in sys.argv[1:]]),
        "static": records["static"], "dynamic": records["dynamic"], "heldout": heldout,
        "seeds": seeds, "recipe": f"{config.teacher_preset}, {config.num_layers} layers, "
        f"{config.teacher_steps} steps at batch {config.batch_size}, LAMB "
        f"{config.teacher_learning_rate:g}, warm-up {config.teacher_warmup_steps}"})


if __name__ == "__main__":
    app.run(main)
