r"""Pretraining record creation side by side: our Beam pipeline (Beam's local FnApiRunner:
1 worker in this process, or 2 worker processes) against tf-models-official's
`create_pretraining_data.py` (one process), on the demo corpus and on that corpus repeated
4 times, same settings; ours also at 16 times (`--scaling_copies`), where the fixed start-up of
each worker process weighs less against the work.

    TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/data/records_side_by_side.py

Every run is a fresh process (imports included, as a user runs the command), timed wall to
wall; peak RSS is polled every 0.1 s over the process and its children: the largest single
process, and the sum over the tree (our workers are separate processes). Our rows also give
the marginal rate from the previous size, e.g. (examples at 4x - at 1x) / (seconds at 4x - at
1x), which leaves out the fixed start-up (TensorFlow imported by the runner and by each worker).
Prints a Markdown table and the ratios the issue asks for; compare rows of one run only.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import psutil
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("seq_length", 64, "Sequence length (both tools).")
flags.DEFINE_integer("max_predictions_per_seq", 10, "Masked-LM targets (both tools).")
flags.DEFINE_integer("dupe_factor", 2, "Maskings (both tools).")
flags.DEFINE_float("bucket_mb", 2.0, "Our bucket size: a few buckets at 1x, ~4x as many at "
                   "4x.")
flags.DEFINE_string("work_dir", None, "Scratch directory [a new temporary one].")
flags.DEFINE_list("tools", ["tfmg", "ours-1", "ours-2"], "Runs (all three for the ratios).")
flags.DEFINE_integer("scaling_copies", 16, "Copies of the corpus for ours alone (1 and 2 "
                     "workers); 0: none.")


def demo_corpus(path: str) -> dict:
    """The demo's text: the 38 plays (one document per scene) and the sentiment set's train
    snippets (one document per movie)."""
    from mobilebert_tf.data import corpus, sentiment
    from mobilebert_tf.data.documents import write_documents

    plays = [doc for path in corpus.play_files() for doc in corpus.play_documents(path)]
    documents = plays + sentiment.review_documents("train")
    write_documents(path, documents)
    return {"documents": len(documents), "bytes": os.path.getsize(path)}


def _tree_rss(process: psutil.Process) -> tuple[int, int]:
    """(largest process RSS, sum over the tree) in bytes."""
    rss = []
    for p in [process] + process.children(recursive=True):
        try:
            rss.append(p.memory_info().rss)
        except psutil.Error:
            pass
    return max(rss, default=0), sum(rss)


def measure(command: list[str], env: dict) -> dict:
    start = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak_one = peak_sum = 0
    while process.poll() is None:
        one, total = _tree_rss(process)
        peak_one, peak_sum = max(peak_one, one), max(peak_sum, total)
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    output = process.stdout.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{output[-3000:]}")
    return {"seconds": seconds, "peak_one": peak_one, "peak_sum": peak_sum}


def count_records(pattern: str) -> int:
    import tensorflow as tf
    return sum(1 for f in tf.io.gfile.glob(pattern) for _ in tf.data.TFRecordDataset(f))


def main(argv):
    del argv
    from mobilebert_tf.data.vocab import default_vocab_file

    work = FLAGS.work_dir or tempfile.mkdtemp(prefix="records_bench_")
    os.makedirs(work, exist_ok=True)
    vocab = default_vocab_file()
    base = os.path.join(work, "corpus-0.txt")
    stats = demo_corpus(base)
    for i in range(1, 4):
        shutil.copy(base, os.path.join(work, f"corpus-{i}.txt"))
    for i in range(4, FLAGS.scaling_copies):
        shutil.copy(base, os.path.join(work, f"corpus-{i}.txt"))
    corpora = {f"{n}x": [os.path.join(work, f"corpus-{i}.txt") for i in range(n)]
               for n in (1, 4, FLAGS.scaling_copies) if n}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    common = [f"--vocab_file={vocab}", f"--dupe_factor={FLAGS.dupe_factor}",
              f"--max_predictions_per_seq={FLAGS.max_predictions_per_seq}"]
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())

    rows = {}
    for size, files in corpora.items():
        for tool in FLAGS.tools:
            if tool == "tfmg" and size not in ("1x", "4x"):
                continue
            out = os.path.join(work, f"{tool}-{size}")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            if tool == "tfmg":
                command = [sys.executable, "-m", "official.nlp.data.create_pretraining_data",
                           f"--input_file={','.join(files)}",
                           f"--output_file={out}/records.tfrecord",
                           f"--max_seq_length={FLAGS.seq_length}", "--do_lower_case"] + common
            else:
                command = [sys.executable, "-m", "mobilebert_tf.cli.create_pretraining_data",
                           f"--input_file={','.join(files)}", f"--output_dir={out}",
                           f"--seq_length={FLAGS.seq_length}", f"--bucket_mb={FLAGS.bucket_mb}",
                           f"--num_workers={tool[-1]}", "--num_shards=4"] + common
            result = measure(command, env)
            result["examples"] = count_records(f"{out}/*.tfrecord")
            rows[tool, size] = result
            print(f"{tool} {size}: {result}", flush=True)

    print(f"\nCorpus: the demo's, {stats['documents']:,} documents, {stats['bytes'] / 2**20:.1f} "
          f"MB (1x), and copies of it (4x, 16x: one file each); seq {FLAGS.seq_length}, "
          f"max_predictions {FLAGS.max_predictions_per_seq}, dupe {FLAGS.dupe_factor}, BERT uncased vocab; ours "
          f"--bucket_mb={FLAGS.bucket_mb} --num_shards=4. Machine: "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; load "
          f"average before: {load}.\n")
    names = {"tfmg": "tf-models-official, 1 process", "ours-1": "ours, 1 worker",
             "ours-2": "ours, 2 workers"}
    if len(FLAGS.tools) < 3:
        return
    print("| tool | corpus | examples | wall s | examples/s | marginal examples/s | "
          "peak RSS, largest process | peak RSS, all processes |")
    print("|---|---|---|---|---|---|---|---|")
    previous = {}
    for (tool, size), r in rows.items():  # marginal: from the tool's previous corpus size
        last, previous[tool] = previous.get(tool), r
        marginal = (f"{(r['examples'] - last['examples']) / (r['seconds'] - last['seconds']):,.0f}"
                    if last else "-")
        print(f"| {names[tool]} | {size} | {r['examples']:,} | {r['seconds']:.1f} | "
              f"{r['examples'] / r['seconds']:,.0f} | {marginal} | "
              f"{r['peak_one'] / 2**20:,.0f} MB | {r['peak_sum'] / 2**20:,.0f} MB |")

    def rate(tool, size):
        return rows[tool, size]["examples"] / rows[tool, size]["seconds"]

    print("\nRatios (target):")
    for size in corpora:
        if ("tfmg", size) in rows:
            print(f"- {size}: ours 1 worker / theirs, examples/s: "
                  f"{rate('ours-1', size) / rate('tfmg', size):.2f} (>= 1.5)")
        print(f"- {size}: ours 2 workers / 1 worker, whole runs: "
              f"{rate('ours-2', size) / rate('ours-1', size):.2f} (>= 1.7)")
    for tool in names:
        for size in [s for s in corpora if s != "1x" and (tool, s) in rows]:
            print(f"- {names[tool]}: peak RSS {size} / 1x, largest process "
                  f"{rows[tool, size]['peak_one'] / rows[tool, '1x']['peak_one']:.2f}, all "
                  f"processes {rows[tool, size]['peak_sum'] / rows[tool, '1x']['peak_sum']:.2f}"
                  " (<= 1.2 for ours)")


if __name__ == "__main__":
    app.run(main)
