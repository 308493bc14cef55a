"""The demo's report: `summary.md` from every stage's result, and the loss curves of its
training stages (`losses.png`)."""

from __future__ import annotations

import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.demo.pipeline import Pipeline
from mobilebert_tf.export.runtimes import TASK_LIBRARY_PYTHON_ENV


def scalar_series(summary_dir: str, tag: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one scalar in a TensorBoard event directory, by step (a resumed
    run's later value wins)."""
    from tensorflow.core.util import event_pb2

    points = {}
    files = fileio.glob(tf.io.gfile.join(summary_dir, "events.out.tfevents.*"))
    for record in tf.data.TFRecordDataset(files) if files else ():
        event = event_pb2.Event.FromString(record.numpy())
        for value in event.summary.value:
            if value.tag == tag:
                points[event.step] = float(tf.make_ndarray(value.tensor))
    steps = sorted(points)
    return steps, [points[s] for s in steps]


def plot_losses(work: Pipeline, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = (("teacher: MLM + NSP loss", "teacher", "loss/loss"),
              ("student: PKT layer losses, then PD", "student", "loss/loss"),
              ("sentiment fine-tuning loss", "finetune", "loss/loss"))
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.6))
    plot_stage_ends(axes[3], work.results["student"].get("stage_ends", []),
                    work.results["teacher"].get("attention_kl"))
    for ax, (title, stage, tag) in zip(axes, panels):
        steps, values = scalar_series(tf.io.gfile.join(work.dir(stage), "summaries"), tag)
        if values:
            width = max(len(values) // 50, 1)  # moving average over ~2% of the run
            smooth = np.convolve(values, np.ones(width) / width, mode="valid")
            ax.plot(steps, values, color="#c0c0c0", linewidth=0.6)
            ax.plot(steps[width - 1:], smooth, color="#4c72b0")
        if stage == "student":  # the ends of the PKT stages
            for layer in range(1, work.config.num_layers + 1):
                ax.axvline(layer * work.config.transfer_steps, color="#dd8452",
                           linewidth=0.6, linestyle="--")
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
    fig.tight_layout()
    fileio.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def plot_stage_ends(ax, rows: list[dict], teacher_kl: list[float] | None) -> None:
    """Per student layer, the held-out AT loss at the end of every distillation stage (solid)
    against the teacher's attention KL from uniform (dotted: AT of a student whose attention
    is uniform), and FMT / 10 (dashed)."""
    colors = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
    steps = [row["step"] for row in rows]
    for layer in range(len(rows[0]["at"]) if rows else 0):
        color = colors[layer % len(colors)]
        ax.plot(steps, [row["at"][layer] for row in rows], "o-", color=color,
                label=f"layer {layer}")
        ax.plot(steps, [row["fmt"][layer] / 10 for row in rows], "s--", color=color,
                alpha=0.5)
        if teacher_kl:
            ax.axhline(teacher_kl[layer], color=color, linestyle=":", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_title("student at stage ends: AT (o), FMT/10 (s)")
    ax.set_xlabel("step")
    if rows:
        ax.legend(fontsize=7)


def stage_end_lines(student: dict, teacher: dict) -> list[str]:
    """The summary's table of where layer transfer stood at each stage end, and how the
    student before PD compares with the teacher."""
    rows = student.get("stage_ends")
    if not rows:
        return []
    lines = ["Layer transfer, held out, at the end of every distillation stage: the "
             "student's MLM accuracy, and per layer the feature-map (FMT) and attention "
             "(AT, KL(teacher || student)) losses against the teacher.", "",
             "| after stage | step | student MLM | FMT per layer | AT per layer |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['stage']} | {row['step']} | {row['mlm_accuracy']:.4f} | "
                     f"{_nats(row['fmt'])} | {_nats(row['at'])} |")
    before_pd = [row for row in rows if row["stage"].startswith("pkt_layer_")]
    if before_pd and teacher.get("attention_kl"):
        last = before_pd[-1]
        ratios = [at / max(kl, 1e-9) for at, kl in zip(last["at"], teacher["attention_kl"])]
        share = last["mlm_accuracy"] / max(teacher["mlm_accuracy"], 1e-9)
        lines += ["", f"Before PD the student's held-out MLM accuracy is {share:.2f}x the "
                  "teacher's, and "
                  f"each layer's AT is {_nats(ratios)} x the teacher's attention KL from "
                  "uniform (1 = the student's attention no closer to the teacher's than "
                  "uniform attention is)."]
    return lines + [""]


def word_order_lines(result: dict | None) -> list[str]:
    """The word-order task's line: the student beside naive Bayes on words and word pairs."""
    if not result:
        return []
    return [f"Word order (held-out sentences as written vs two adjacent words swapped: the "
            f"same words, so a bag of words is at chance), {result['train_examples']} train / "
            f"{result['dev_examples']} dev sentences: best dev accuracy while fine-tuning "
            f"{result['best_dev_accuracy']:.4f}; naive Bayes on word counts "
            f"{result['naive_bayes_1gram']:.4f}, on word pairs "
            f"{result['naive_bayes_2gram']:.4f}.", "", *word_order_probe_lines(result)]


def word_order_probe_lines(result: dict) -> list[str]:
    """The zero-shot word-order probe's line (absent from runs made before it existed)."""
    if "probe_accuracy" not in result:
        return []
    probe = result["probe_accuracy"]
    return [f"Word order without fine-tuning ({result['probe_sentences']} held-out sentences, "
            "two adjacent one-piece words masked; the MLM head must prefer their written order "
            "to the swapped one; chance and bag of words 0.5): teacher "
            f"{probe['teacher']:.4f}, student {probe['student']:.4f}.", ""]


def _nats(values: list[float] | None) -> str:
    """Per-layer values as `0.02 / 0.31 / ...`; `-` for a stage finished before they were
    measured."""
    from mobilebert_tf.run.experiment import per_layer

    return per_layer(values) if values else "-"


def _on_device(row: dict | None) -> str:
    """A runtime's "accuracy | agrees with Keras" cells (`runtimes.classifier_agreement`)."""
    if not row:
        return "- | -"
    if "error" in row:
        return "refused | -"
    return f"{row['accuracy']:.4f} | {row['agreement']:.2%}"


def write_summary(out: str, work: Pipeline) -> dict:
    """`summary.md` (every stage's numbers) and `losses.png` in `out`, from the results of
    `work`, a demo run with every stage done; returns their paths."""
    r = work.results
    teacher, student = r["teacher"], r["student"]
    accuracy, export, latency = r["accuracy"], r["export"], r["latency"]
    lines = ["# MobileBERT demo: summary", "",
             f"Corpus: {r['corpus']['documents']} documents, {r['corpus']['words']:,} words; "
             f"vocab {r['vocab']['size']} WordPiece tokens; "
             f"{r['records']['train']['examples']:,} train / "
             f"{r['records']['heldout']['examples']:,} held-out sequences of "
             f"{work.config.seq_length}.", "",
             "| model | parameters (with MLM/NSP heads) | held-out MLM accuracy | "
             "attention KL from uniform, per layer (nats) |",
             "|---|---|---|---|",
             f"| teacher ({work.config.teacher_preset}, {work.config.num_layers} layers) | "
             f"{teacher['params']['total']:,} | {teacher['mlm_accuracy']:.4f} | "
             f"{_nats(teacher.get('attention_kl'))} |",
             f"| student ({work.config.student_preset}, PKT) | {student['params']['total']:,} | "
             f"{student['mlm_accuracy']:.4f} | {_nats(student.get('attention_kl'))} |", "",
             *stage_end_lines(student, teacher),
             f"Sentiment (Rotten Tomatoes fresh/rotten), dev split of "
             f"{accuracy['examples']} snippets; best balanced-dev accuracy while fine-tuning "
             f"{r['finetune']['best_dev_accuracy']:.4f}.", "",
             *word_order_lines(r.get("word_order")),
             "Every `.tflite` is runtime-ready: it loads unchanged in MediaPipe's "
             "`TextClassifier` and the TFLite Task Library's `BertNLClassifier` (metadata: "
             "inputs `ids`/`mask`/`segment_ids`, output `probability`, vocab and labels "
             f"packed), tokenizing text as the device does (`{work.config.text_normalization}`"
             " normalization, also used to fine-tune); `export/saved_model` takes raw "
             "strings (`serving_text`).", "",
             "| model | dev accuracy | agrees with Keras | MediaPipe from raw text: accuracy "
             "| agrees with Keras | Task Library from raw text: accuracy | agrees with Keras "
             "| file MB | size / float32 |",
             "|---|---|---|---|---|---|---|---|---|"]
    float_bytes = export["bytes"].get("float32")
    for name, value in accuracy["accuracy"].items():
        size = export["bytes"].get(name)
        lines.append(f"| {name} | {value:.4f} | "
                     + (f"{accuracy['agreement'][name]:.2%}" if name in accuracy["agreement"]
                        else "-") + " | "
                     + " | ".join(_on_device(accuracy.get(runtime, {}).get(name))
                                  for runtime in ("mediapipe", "task_library")) + " | "
                     + (f"{size / 2**20:.2f} | {size / float_bytes:.2f}x" if size else "- | -")
                     + " |")
    if "task_library" not in accuracy:
        lines += ["", "(No Task Library columns: the accuracy stage ran without "
                  f"{TASK_LIBRARY_PYTHON_ENV}, which `make demo` sets.)"]
    lines += ["", f"Latency: LiteRT interpreter, XNNPACK, {latency['num_threads']} threads, "
              f"batch 1, {latency['rounds']} interleaved rounds (demo student at sequence "
              f"length {work.config.seq_length}; full-size models at 128, random weights).",
              "", "```", latency["table"], "```", "",
              "Real text, one dev text at a time (all "
              f"{accuracy['examples']}): the fixed files padded to {work.config.seq_length} "
              "vs their length-adaptive twins (`export/adaptive/`), resized to each text or "
              f"kept per length bucket {latency['real_text']['buckets']}:", "",
              latency["real_text"]["table"], "",
              "Plots: `summary/losses.png`, `latency/latency.png`."]
    text = "\n".join(lines) + "\n"
    summary = fileio.write_text(tf.io.gfile.join(out, "summary.md"), text)
    print("\n" + text)
    losses = plot_losses(work, tf.io.gfile.join(out, "losses.png"))
    return {"summary": summary, "losses_plot": losses}
