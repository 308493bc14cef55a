"""Distillation ablation (paper section 4.6) on the demo's data, teacher and compute budget.

    python -m experiments.ablation [--work_dir=runs/demo] [--seeds=0,1,2] \
        [--variants=pkt,jkt,...] [--teacher_dir=DIR] [--smoke] [--finetune_steps=N] \
        [--finetune_learning_rate=LR] [--nofinetune_teacher] [--output_dir=experiments/results]

Runs from the repository root, like the demo. First the demo's stages 1-4 (corpus, vocab,
records, teacher) on the same `--work_dir`: done ones are reused, so the ablation sees the
demo's data and teacher. Then, per seed and variant, under
`<work_dir>/ablation/<variant>/seed_<s>/`:

  student      `run.distill` (`run.pretrain` for `none*`) for B = num_layers * transfer_steps
               + pd_steps optimizer steps (every variant the same B), then held-out MLM
               accuracy
  order_probe  the zero-shot word-order probe of its MLM head on held-out sentences
               (`training.evaluation.order_probe_accuracy`)
  finetune     `run.finetune` on the sentiment task for a fixed budget; dev accuracy of the
               final model (no best-of-N on dev) on the whole dev split
  word_order   the same on the word-order task (`data.word_order`)

Then the teacher itself, measured the same way (`teacher_reference/`; its fine-tuning with
every seed unless `--nofinetune_teacher`): the table's reference row.

Each variant is the demo's student config (`demo.student_config`) with a few fields changed;
every run is in process (`run.experiment`) and prints its equivalent `mobilebert-train`
command.

Each has its `done.json` and is skipped when rerun. Writes `results.json`, `results.md` (table,
the paper's three claims tested on the means, the command) and `ablation.png` to
`--output_dir`. `--smoke` uses the demo's smoke sizes (CI): it checks the script, not the
paper.
"""

from __future__ import annotations

import dataclasses
import shlex
import statistics
import sys
import time

import tensorflow as tf
from absl import app, flags

from mobilebert_tf import demo, fileio, run
from mobilebert_tf.demo import DemoConfig, Pipeline
from mobilebert_tf.demo.config import word_order_config
from mobilebert_tf.demo.stages import word_order_data, word_order_probe_data
from mobilebert_tf.run.experiment import run_training, train_pretrainer, word_order_probe

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The demo's flags (--work_dir, --smoke, ...) and the ablation's."""
    demo.define_flags()
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds of every variant (initialization and "
                      "data order of pre-training and fine-tuning).")
    flags.DEFINE_list("variants", None, "Variants to run (default: all).")
    flags.DEFINE_integer("finetune_steps", None, "Sentiment fine-tuning steps of every "
                         "student (default: the demo config's).")
    flags.DEFINE_float("finetune_learning_rate", None, "Sentiment fine-tuning learning rate "
                       "of every student (default: the demo config's).")
    flags.DEFINE_integer("transfer_steps", None, "PKT steps per layer, which with --pd_steps "
                         "sets the budget (default: the demo's).")
    flags.DEFINE_integer("pd_steps", None, "PD steps (default: the demo's).")
    flags.DEFINE_string("output_dir", "experiments/results", "Where results.json, results.md "
                        "and ablation.png go.")
    flags.DEFINE_bool("finetune_teacher", True, "Also fine-tune the teacher on both tasks "
                      "with every seed: the table's reference row.")
    flags.DEFINE_string("teacher_dir", None, "Distill from this teacher (a `--mode teacher` "
                        "model_dir trained on the demo's records with the demo's teacher "
                        "preset) instead of the demo's teacher stage; it is evaluated once, in "
                        "<work_dir>/ablation/teacher.")


VARIANTS = {
    "pkt": "progressive knowledge transfer, then PD (the paper's recipe)",
    "jkt": "joint knowledge transfer of all layers, then PD",
    "akt": "auxiliary knowledge transfer: layer losses and PD in one loss",
    "none": "no teacher: MLM + NSP from random weights",
    "none_no_dropout": "no teacher and no dropout (the distilled students train without it)",
    "pkt_no_at": "PKT without attention transfer",
    "pkt_no_fmt": "PKT without feature-map transfer",
    "pkt_no_pd": "PKT without PD (its steps go to the layers)",
    "pkt_lower_0.1": "PKT with the lower layers at 0.1x the LR instead of frozen (GR's setting)",
}
UNDISTILLED = ("none", "none_no_dropout")
DISTILLED = tuple(v for v in VARIANTS if v not in UNDISTILLED)
DEMO_STAGES = ("corpus", "vocab", "records", "teacher")  # the demo's, shared
METRICS = {"mlm_accuracy": "held-out MLM accuracy",
           "order_probe_accuracy": "word-order MLM probe (zero-shot; chance 0.5)",
           "dev_accuracy": "sentiment dev accuracy",
           "word_order_accuracy": "word-order dev accuracy (fine-tuned)"}
# (claim, pairs (a, b) that must hold as mean(a) `relation` mean(b), relation).
CLAIMS = (
    ("PKT >= JKT >= AKT", (("pkt", "jkt"), ("jkt", "akt")), ">="),
    ("feature-map transfer contributes most: PKT loses more without FMT than without AT or PD",
     (("pkt_no_at", "pkt_no_fmt"), ("pkt_no_pd", "pkt_no_fmt")), ">"),
    ("every distilled student beats the undistilled one",
     tuple((v, "none") for v in DISTILLED), ">"),
)


def budget(config: DemoConfig) -> int:
    """Optimizer steps of every student: those of the demo's PKT + PD schedule."""
    return config.num_layers * config.transfer_steps + config.pd_steps


def variant_config(variant: str, student: run.DistillConfig):
    """`student` (the demo's PKT + PD config) changed into `variant`, for the same number of
    optimizer steps; `none` (`none_no_dropout`) is a `run.PretrainConfig` of the same model on
    MLM + NSP with (without) dropout."""
    check_variants([variant])
    layers = student.model_config().num_layers
    steps = layers * student.transfer_steps + student.pd_steps
    if variant in UNDISTILLED:
        shared = {f.name: getattr(student, f.name)
                  for f in dataclasses.fields(run.RecordTrainingConfig)}
        return run.PretrainConfig(steps=steps, dropout=variant == "none", **shared)
    return dataclasses.replace(student, **{
        "pkt": {},
        "jkt": {"distill_strategy": "jkt", "transfer_steps": layers * student.transfer_steps},
        "akt": {"distill_strategy": "akt", "transfer_steps": 0, "pd_steps": steps},
        "pkt_no_at": {"attention_transfer": False},
        "pkt_no_fmt": {"feature_map_transfer": False},
        "pkt_no_pd": {"transfer_steps": steps // layers, "pd_steps": 0},
        "pkt_lower_0.1": {"lower_multiplier": 0.1},
    }[variant])


def trained_steps(training_config) -> int:
    """Optimizer steps of a `run.PretrainConfig` or `run.DistillConfig`, by the schedule
    `run.distill` builds."""
    from mobilebert_tf.distillation.schedule import make_schedule
    from mobilebert_tf.training.stage import total_steps

    if isinstance(training_config, run.PretrainConfig):
        return training_config.steps
    return total_steps(make_schedule(
        training_config.distill_strategy, training_config.model_config().num_layers,
        training_config.transfer_steps, training_config.pd_steps))


def check_budgets(variants: list[str], config: DemoConfig) -> None:
    """Every variant trains `budget(config)` steps (num_layers must divide it), checked on
    the demo's student config before anything runs."""
    student = demo.student_config("student", "records/*", config.vocab_size, "teacher", config)
    for variant in variants:
        steps = trained_steps(variant_config(variant, student))
        if steps != budget(config):
            raise ValueError(f"{variant} would train {steps} steps, not the budget "
                             f"{budget(config)} (num_layers must divide it).")


def check_variants(variants: list[str]) -> None:
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"Unknown variant(s) {unknown}; expected some of {list(VARIANTS)}.")
    if len(set(variants)) != len(variants) or not variants:
        raise ValueError(f"Variants must be distinct and at least one, got {variants}.")


def parse_seeds(values: list[str]) -> list[int]:
    try:
        seeds = [int(v) for v in values]
    except ValueError:
        raise ValueError(f"--seeds must be integers, got {values}.") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds needs at least one seed and no repeats, got {values}.")
    return seeds


# Stages of one (variant, seed) run ---------------------------------------------------------

def train_student(out: str, variant: str, seed: int, records: dict, vocab_size: int,
                  teacher: str, config: DemoConfig) -> dict:
    return train_pretrainer(f"{variant}, seed {seed}:", student_run_config(
        out, variant, seed, records, vocab_size, teacher, config), records["heldout"]["pattern"])


def student_run_config(out: str, variant: str, seed: int, records: dict, vocab_size: int,
                       teacher: str, config: DemoConfig):
    """The `run` config of `variant` with `seed`, its model in `out`."""
    # An undistilled variant's `out` belongs to a teacher-mode run: the distillation config
    # its config is derived from names another directory (a config claims its model_dir).
    template = tf.io.gfile.join(out, "unused") if variant in UNDISTILLED else out
    student = demo.student_config(template, records["train"]["pattern"], vocab_size, teacher,
                                  config)
    return dataclasses.replace(variant_config(variant, dataclasses.replace(student, seed=seed)),
                               model_dir=out)


def given_teacher(work_dir: str, teacher_dir: str, records: dict, vocab_size: int,
                  config: DemoConfig) -> dict:
    """The `--teacher_dir` teacher's held-out evaluation, made once (a stage of its own)."""
    from mobilebert_tf.run.experiment import evaluate_pretrainer

    teacher = demo.teacher_config(teacher_dir, records["train"]["pattern"], vocab_size, config)
    pipeline = Pipeline(tf.io.gfile.join(work_dir, "ablation"), config, demo.STAGES, 1)
    result = pipeline.run("teacher", lambda out: {
        "checkpoint": teacher_dir,
        **evaluate_pretrainer(teacher, records["heldout"]["pattern"])})
    if result["checkpoint"] != teacher_dir:
        raise ValueError(f"--teacher_dir={teacher_dir!r}, but the ablation in {work_dir} was "
                         f"run with {result['checkpoint']!r}; pass that or another --work_dir.")
    return result


def probe_order(run_config, inputs: dict) -> dict:
    """`{"order_probe_accuracy": ...}` of the pretrainer `run_config` trained."""
    accuracy = word_order_probe(run_config, inputs)
    print(f"{METRICS['order_probe_accuracy']} {accuracy:.4f} on {len(inputs['masked_lm_ids'])} "
          "held-out sentences")
    return {"order_probe_accuracy": accuracy}


def finetune_student(out: str, finetune: run.FinetuneConfig, seed: int, key: str) -> dict:
    """`finetune` (the demo's sentiment or word-order config) with `seed` and, unlike the
    demo's stages, one evaluation: of the final model, on the whole dev split; as `{key:
    accuracy}`."""
    steps = finetune.steps
    result = run_training(dataclasses.replace(finetune, eval_every=steps, max_eval_examples=None,
                                              balance_classes=False, seed=seed))
    if result.best_step != steps:
        raise RuntimeError(f"{out}: expected one evaluation at step {steps}, found the best at "
                           f"{result.best_step}.")
    accuracy = result.best_metrics["accuracy"]
    print(f"{METRICS[key]} {accuracy:.4f}")
    return {key: accuracy}


def finetune_both(pipeline: Pipeline, model: str, vocab: dict, word_order: dict, seed: int,
                  config: DemoConfig) -> dict:
    """Sentiment and word-order fine-tuning of the pretrained `model` (its model config read
    from its directory) with `seed`, as two stages of `pipeline`; their dev accuracies, keyed
    as in `METRICS`."""
    tuned = pipeline.run("finetune", lambda out: finetune_student(
        out, demo.finetune_config(out, model, vocab, config), seed, "dev_accuracy"))
    ordered = pipeline.run("word_order", lambda out: finetune_student(
        out, word_order_config(out, model, vocab, word_order["data_dir"], config), seed,
        "word_order_accuracy"))
    return {key: stage[key] for stage, key in ((tuned, "dev_accuracy"),
                                                (ordered, "word_order_accuracy"))}


def teacher_reference(work_dir: str, teacher: dict, records: dict, vocab: dict,
                      word_order: dict, inputs: dict, seeds: list[int], config: DemoConfig,
                      finetune: bool) -> dict:
    """The teacher measured as the students are (its probe once; with `finetune`, both tasks
    with every seed), under `<work_dir>/ablation/teacher_reference/`: the table's reference
    row, as {metric: [values]}."""
    out = tf.io.gfile.join(work_dir, "ablation", "teacher_reference")
    teacher_run = demo.teacher_config(teacher["checkpoint"], records["train"]["pattern"],
                                      vocab["size"], config)
    probe = Pipeline(out, config, demo.STAGES, 1).run(
        "order_probe", lambda _: probe_order(teacher_run, inputs))
    values = {"mlm_accuracy": [teacher["mlm_accuracy"]],
              "order_probe_accuracy": [probe["order_probe_accuracy"]]}
    for seed in seeds if finetune else []:
        print(f"\n== the teacher, seed {seed}: fine-tuned as the students are", flush=True)
        pipeline = Pipeline(tf.io.gfile.join(out, f"seed_{seed}"), config, demo.STAGES, 2)
        tuned = finetune_both(pipeline, teacher["checkpoint"], vocab,
                              word_order, seed, config)
        for key, value in tuned.items():
            values.setdefault(key, []).append(value)
    return values


def run_ablation(work_dir: str, demo_config: DemoConfig, config: DemoConfig,
                 variants: list[str], seeds: list[int], teacher_dir: str | None = None,
                 finetune_teacher: bool = True) -> tuple[dict, dict, dict, list[dict]]:
    """The demo's stages 1-4 (with `demo_config`; 1-3 when `teacher_dir` gives the teacher),
    then every (seed, variant) run with `config` (the demo's, or with another step budget and
    fine-tuning), skipping finished ones, then the teacher's reference row; returns the
    teacher's result, its reference row (`teacher_reference`), the word-order data's
    (`demo.stages.word_order_data`, plus the probe's size) and one row per run."""
    check_variants(variants)
    check_budgets(variants, config)
    stages = DEMO_STAGES[:-1] if teacher_dir else DEMO_STAGES
    done = demo.run_stages(Pipeline(work_dir, demo_config, demo.STAGES, len(stages)), stages)
    vocab, records = done["vocab"], done["records"]
    heldout_text = done["corpus"]["files"]["heldout"]
    teacher = done["teacher"] if not teacher_dir else given_teacher(
        work_dir, teacher_dir, records, vocab["size"], config)
    word_order = Pipeline(tf.io.gfile.join(work_dir, "ablation"), config, demo.STAGES, 1).run(
        "word_order", lambda out: word_order_data(out, heldout_text))
    inputs = word_order_probe_data(heldout_text, vocab["file"], config)
    word_order = {**word_order, "probe_sentences": len(inputs["masked_lm_ids"])}
    rows = []
    for seed in seeds:  # seed-major: an interrupted ablation still covers every variant
        for variant in variants:
            print(f"\n== {variant}, seed {seed} ({len(rows) + 1}/{len(seeds) * len(variants)}):"
                  f" {VARIANTS[variant]}", flush=True)
            pipeline = Pipeline(tf.io.gfile.join(work_dir, "ablation", variant, f"seed_{seed}"),
                                config, demo.STAGES, num_stages=4)
            student = pipeline.run("student", lambda out: train_student(
                out, variant, seed, records, vocab["size"], teacher["checkpoint"], config))
            probe = pipeline.run("order_probe", lambda out: probe_order(student_run_config(
                student["checkpoint"], variant, seed, records, vocab["size"],
                teacher["checkpoint"], config), inputs))
            tuned = finetune_both(pipeline, student["checkpoint"], vocab,
                                  word_order, seed, config)
            rows.append({"variant": variant, "seed": seed,
                         "mlm_accuracy": student["mlm_accuracy"],
                         "order_probe_accuracy": probe["order_probe_accuracy"],
                         "dev_accuracy": tuned["dev_accuracy"],
                         "word_order_accuracy": tuned["word_order_accuracy"],
                         "seconds": round(sum(pipeline.results[stage]["seconds"]
                                              for stage in pipeline.results), 1)})
    reference = teacher_reference(work_dir, teacher, records, vocab, word_order, inputs, seeds,
                                  config, finetune_teacher)
    return teacher, reference, word_order, rows


# Results -----------------------------------------------------------------------------------

def majority_class_accuracy() -> float:
    """Dev accuracy of always answering the commoner sentiment, to read the dev column against."""
    from mobilebert_tf.data.sentiment import read_rotten_tomatoes

    labels = [e.label for e in read_rotten_tomatoes("validation")]
    return max(labels.count(label) for label in set(labels)) / len(labels)


def summarize(rows: list[dict]) -> dict:
    """{variant: {metric: stats (`statistics_of`)}}, in run order."""
    variants = dict.fromkeys(r["variant"] for r in rows)
    return {variant: {metric: statistics_of([r[metric] for r in rows if r["variant"] == variant])
                      for metric in METRICS} for variant in variants}


def statistics_of(values: list[float]) -> dict:
    """{"mean", "std" (n-1; None for one value), "values"}."""
    return {"mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else None, "values": values}


def evaluate_claims(summary: dict) -> list[dict]:
    """Each claim on each metric, from the means of the pairs whose variants ran, with the
    numbers. A pair whose gap is smaller than either side's seed std is "within seed noise";
    the claim "holds" when every pair goes its way beyond the noise, "does not hold" when one
    goes the other way beyond it, and is "not separated" otherwise ("not evaluated" when no
    pair ran)."""
    verdicts = []
    for claim, pairs, relation in CLAIMS:
        ran = [(a, b) for a, b in pairs if a in summary and b in summary]
        missing = sorted({v for pair in pairs for v in pair} - set(summary))
        for metric in METRICS:
            parts, outcomes = [], set()
            for a, b in ran:
                sa, sb = summary[a][metric], summary[b][metric]
                gap = sa["mean"] - sb["mean"]
                noise = max(s["std"] or 0.0 for s in (sa, sb))
                if abs(gap) < noise:
                    outcomes.add("noise")
                else:
                    outcomes.add("way" if (gap >= 0 if relation == ">=" else gap > 0)
                                 else "against")
                parts.append(f"{a} {sa['mean']:.4f} vs {b} {sb['mean']:.4f} (gap {gap:+.4f}"
                             + (", within seed noise" if abs(gap) < noise else "") + ")")
            verdict = ("not evaluated" if not ran else "does not hold" if "against" in outcomes
                       else "holds" if outcomes == {"way"} else "not separated")
            detail = "; ".join(parts + ([f"not run: {', '.join(missing)}"] if missing else []))
            verdicts.append({"claim": claim, "metric": metric, "verdict": verdict,
                             "detail": detail})
    return verdicts


def _mean_std(stats: dict | None) -> str:
    if stats is None:
        return "not run"
    if stats["std"] is None:
        return f"{stats['mean']:.4f}"
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


def results_markdown(results: dict) -> str:
    config, summary = results["config"], results["summary"]
    seeds = ", ".join(str(s) for s in results["seeds"])
    lines = ["# Distillation ablation on the demo's data", "",
             f"Every student: `{config['student_preset']}` with {config['num_layers']} layers, "
             f"{results['budget_steps']} optimizer steps (batch {config['batch_size']}, "
             f"sequence {config['seq_length']}, LR {config['distill_learning_rate']}); the "
             f"distilled ones from the teacher `{results.get('teacher_checkpoint', 'of the demo')}`"
             f" (`{config['teacher_preset']}`, held-out MLM "
             f"accuracy {results['teacher']['mlm_accuracy']['mean']:.4f}). Then {config['finetune_steps']}"
             f" steps of sentiment fine-tuning (LR {config['finetune_learning_rate']}); dev "
             "accuracy of the final model on the whole dev split (always answering the "
             f"commoner class scores {results['majority_class_accuracy']:.4f}), and "
             f"{config['word_order_steps']} steps on the word-order task (held-out sentences "
             "as written vs two adjacent words swapped; chance 0.5; naive Bayes on words "
             f"{results['word_order']['naive_bayes_1gram']:.4f}, on word pairs "
             f"{results['word_order']['naive_bayes_2gram']:.4f}), scored the same way. The "
             "zero-shot word-order probe needs no training: in each of "
             f"{results['word_order']['probe_sentences']} held-out sentences two adjacent "
             "one-piece words are masked, and the student's MLM head must prefer their written"
             " order to the swapped one (chance and bag of words: 0.5). Mean ± std (n-1) over "
             f"seeds {seeds}; per seed in `results.json`. The teacher row is the reference: "
             "the teacher itself, measured the same way (one pre-training run).", "",
             "| variant | what | " + " | ".join(METRICS.values()) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    lines.append("| teacher | the teacher itself (reference) | " + " | ".join(
        _mean_std(results["teacher"].get(m)) for m in METRICS) + " |")
    for variant, stats in summary.items():
        lines.append(f"| {variant} | {VARIANTS[variant]} | "
                     + " | ".join(_mean_std(stats[m]) for m in METRICS) + " |")
    lines += ["", "## The paper's claims, on the means", "",
              "A gap smaller than either side's seed std is within seed noise; a claim holds "
              "when every pair goes its way beyond the noise.", ""]
    for v in results["claims"]:
        lines.append(f"- {v['claim']} — {METRICS[v['metric']]}: **{v['verdict']}**"
                     + (f". {v['detail']}" if v["detail"] else ""))
    lines += ["", "Plot: `ablation.png`. Produced by:", "", "    " + results["command"], ""]
    return "\n".join(lines)


def plot_results(summary: dict, references: dict, path: str) -> str:
    """`references`: {metric: [(label, value)]}, each drawn as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(summary)
    fig, axes = plt.subplots(1, len(METRICS),
                             figsize=(max(12, 2.4 * len(variants)), 3.8))
    for ax, (metric, label) in zip(axes, METRICS.items()):
        for x, variant in enumerate(variants):
            stats = summary[variant][metric]
            values = stats["values"]
            offsets = [(i - (len(values) - 1) / 2) * 0.08 for i in range(len(values))]
            ax.scatter([x + 0.2 + o for o in offsets], values, s=12, color="#8c8c8c", zorder=2)
            ax.errorbar(x, stats["mean"], yerr=stats["std"] or 0.0, fmt="o", capsize=4,
                        color="#4c72b0", zorder=3)
        for (name, value), color in zip(references[metric], ("#dd8452", "#55a868")):
            ax.axhline(value, color=color, linestyle="--", linewidth=0.8, label=name)
        ax.legend(loc="best")
        ax.set_xticks(range(len(variants)), variants, rotation=30)
        ax.set_xlim(-0.5, len(variants) - 0.5)
        ax.set_title(label)
    fig.suptitle("mean ± std over seeds (blue), each seed (grey)", fontsize=10)
    fig.tight_layout()
    fileio.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def write_results(output_dir: str, results: dict) -> None:
    tf.io.gfile.makedirs(output_dir)
    fileio.write_json(tf.io.gfile.join(output_dir, "results.json"), results)
    text = results_markdown(results)
    fileio.write_text(tf.io.gfile.join(output_dir, "results.md"), text)
    teacher = {m: [("teacher", stats["mean"])] for m, stats in results["teacher"].items()}
    references = {
        "mlm_accuracy": teacher["mlm_accuracy"],
        "order_probe_accuracy": teacher["order_probe_accuracy"],  # chance 0.5: in the title
        "dev_accuracy": [("majority class", results["majority_class_accuracy"])]
        + teacher.get("dev_accuracy", []),
        "word_order_accuracy": [("naive Bayes on words",
                                 results["word_order"]["naive_bayes_1gram"])]
        + teacher.get("word_order_accuracy", [])}
    plot_results(results["summary"], references, tf.io.gfile.join(output_dir, "ablation.png"))
    print("\n" + text)


def ablate(work_dir: str, demo_config: DemoConfig, config: DemoConfig, variants: list[str],
           seeds: list[int], output_dir: str, command: str,
           teacher_dir: str | None = None, finetune_teacher: bool = True) -> dict:
    """`run_ablation`, then its results (runs, summary, claims; `command` is how it was
    started) written to `output_dir`; returns them."""
    teacher, reference, word_order, rows = run_ablation(
        work_dir, demo_config, config, variants, seeds, teacher_dir, finetune_teacher)
    summary = summarize(rows)
    results = {"command": command, "config": dataclasses.asdict(config),
               "budget_steps": budget(config), "seeds": seeds, "variants": variants,
               "teacher_checkpoint": teacher["checkpoint"],
               "teacher": {m: statistics_of(v) for m, v in reference.items()},
               "majority_class_accuracy": majority_class_accuracy(), "word_order": word_order,
               "runs": rows,
               "summary": summary, "claims": evaluate_claims(summary)}
    write_results(output_dir, results)
    return results


def main(argv):
    del argv
    demo_config = demo.SMOKE_CONFIG if FLAGS.smoke else DemoConfig()
    config = dataclasses.replace(
        demo_config, transfer_steps=FLAGS.transfer_steps or demo_config.transfer_steps,
        pd_steps=FLAGS.pd_steps or demo_config.pd_steps,
        finetune_steps=FLAGS.finetune_steps or demo_config.finetune_steps,
        finetune_learning_rate=(FLAGS.finetune_learning_rate
                                or demo_config.finetune_learning_rate))
    variants = FLAGS.variants or list(VARIANTS)
    try:
        check_variants(variants)
        seeds = parse_seeds(FLAGS.seeds)
        for name in ("finetune_steps", "finetune_learning_rate"):
            if getattr(config, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(config, name)}.")
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    start = time.perf_counter()
    command = " ".join(["python -m experiments.ablation", *map(shlex.quote, sys.argv[1:])])
    ablate(FLAGS.work_dir, demo_config, config, variants, seeds, FLAGS.output_dir, command,
           FLAGS.teacher_dir, FLAGS.finetune_teacher)
    print(f"Ablation finished in {(time.perf_counter() - start) / 60:.1f} min; results in "
          f"{FLAGS.output_dir}/ (results.md, results.json, ablation.png).")


if __name__ == "__main__":
    define_flags()
    app.run(main)
