"""The demo's stages, in order (`STAGES`): each `stage(out, config, done)` reads what earlier
stages returned (`done`, by stage name), calls the library and returns what it made (paths,
numbers), which `Pipeline` keeps in `<work_dir>/<stage>/done.json`.

To add a stage: write its function here and list it in `STAGES` where it runs; the
`DemoConfig` fields it reads first name it (`setting(stage, default)`); its numbers go into
the report in `report.py`.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.demo.config import (DemoConfig, finetune_config, student_config,
                                       teacher_config, word_order_config)


def build_corpus(out: str, config: DemoConfig, done: dict) -> dict:
    """Shakespeare's plays + the sentiment set's *train* snippets as unlabelled text (one
    document per scene / per movie); every `heldout_every`th document held out."""
    from mobilebert_tf.data import corpus, sentiment
    from mobilebert_tf.data.documents import split_heldout, write_documents

    plays = [doc for path in corpus.play_files()[:config.max_plays]
             for doc in corpus.play_documents(path)]
    reviews = sentiment.review_documents("train")[:config.max_review_movies]
    documents = plays + reviews
    train, heldout = split_heldout(documents, config.heldout_every)
    files = {name: write_documents(tf.io.gfile.join(out, f"{name}.txt"), docs)
             for name, docs in (("train", train), ("heldout", heldout))}
    words = sum(len(s.split()) for d in documents for s in d)
    print(f"{len(plays)} scenes + {len(reviews)} movies' reviews = {len(documents)} documents, "
          f"{words:,} words; {len(heldout)} documents held out.")
    return {"files": files, "documents": len(documents), "words": words,
            "heldout_documents": len(heldout)}


def build_vocab(out: str, config: DemoConfig, done: dict) -> dict:
    """A WordPiece vocab learned from the train text (tensorflow-text)."""
    from mobilebert_tf.data.vocab_builder import build_wordpiece_vocab

    path = tf.io.gfile.join(out, "vocab.txt")
    vocab = build_wordpiece_vocab(done["corpus"]["files"]["train"], path, config.vocab_size)
    print(f"{len(vocab)} WordPiece tokens -> {path}")
    return {"file": path, "size": len(vocab)}


def build_records(out: str, config: DemoConfig, done: dict) -> dict:
    """MLM + NSP TFRecords on Beam's local runner: train (`dupe_factor` maskings, 4 shards)
    and held-out (one masking, one shard); Beam's log goes to `beam-<name>.log`."""
    from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                            create_pretraining_records)

    result = {}
    for name, dupe, shards in (("train", config.dupe_factor, 4), ("heldout", 1, 1)):
        data = PretrainingDataConfig(seq_length=config.seq_length,
                                     max_predictions_per_seq=config.max_predictions,
                                     dupe_factor=dupe, num_shards=shards)
        written = create_pretraining_records(
            done["corpus"]["files"][name], tf.io.gfile.join(out, name), done["vocab"]["file"],
            data, num_workers=config.record_workers, overwrite=True,
            runner_log=tf.io.gfile.join(out, f"beam-{name}.log"))
        result[name] = {"pattern": tf.io.gfile.join(out, name, "*.tfrecord"),
                        "examples": written["num_examples"]}
        print(f"{name}: {written['num_examples']:,} sequences of {config.seq_length} "
              f"({written['seconds']:.0f} s)")
    return result


def train_teacher(out: str, config: DemoConfig, done: dict) -> dict:
    """`run.pretrain` of `teacher_config`, then its held-out MLM accuracy and attention KL."""
    from mobilebert_tf.run.experiment import train_pretrainer

    records = done["records"]
    return train_pretrainer("teacher", teacher_config(
        out, records["train"]["pattern"], done["vocab"]["size"], config),
        records["heldout"]["pattern"])


def train_student(out: str, config: DemoConfig, done: dict) -> dict:
    """`run.distill` of `student_config` (PKT from the teacher, then PD), then as the
    teacher's; plus `stage_ends`: where layer transfer stood at the end of every stage."""
    from mobilebert_tf.run.experiment import (per_layer, read_stage_ends,
                                              stage_end_diagnostics, train_pretrainer)

    records = done["records"]
    distill = student_config(out, records["train"]["pattern"], done["vocab"]["size"],
                             done["teacher"]["checkpoint"], config)
    heldout = records["heldout"]["pattern"]
    result = train_pretrainer("student", distill, heldout,
                              hooks=stage_end_diagnostics(distill, heldout))
    result["stage_ends"] = read_stage_ends(out)
    for row in result["stage_ends"]:
        print(f"after {row['stage']}: held-out MLM {row['mlm_accuracy']:.4f}, per layer FMT "
              f"{per_layer(row['fmt'])}, AT {per_layer(row['at'])}")
    return result


def finetune(out: str, config: DemoConfig, done: dict) -> dict:
    """`run.finetune` of `finetune_config` (sentiment, from the student)."""
    from mobilebert_tf.run.experiment import run_training

    result = run_training(finetune_config(out, done["student"]["checkpoint"], done["vocab"],
                                          config))
    print(f"best balanced-dev accuracy {result.best_score:.4f} at step {result.best_step}")
    return {"model": result.files["keras"], "best_dev_accuracy": result.best_score,
            "best_step": result.best_step}


def word_order_data(data_dir: str, heldout_text: str) -> dict:
    """The word-order task's files in `data_dir`, from the held-out documents in
    `heldout_text` (`data.word_order`; every 3rd document to dev), and naive Bayes on word
    counts (bag of words: chance) and on word pairs, trained on the same examples."""
    from mobilebert_tf.data.documents import read_documents
    from mobilebert_tf.data.word_order import (naive_bayes_accuracy, word_order_examples,
                                               write_word_order_data)

    examples = word_order_examples(read_documents([heldout_text]), dev_every=3)
    write_word_order_data(examples, data_dir)
    train, dev = examples["train"], examples["validation"]
    return {"data_dir": data_dir, "train_examples": len(train), "dev_examples": len(dev),
            **{f"naive_bayes_{n}gram": naive_bayes_accuracy(train, dev, n) for n in (1, 2)}}


def word_order_probe_data(heldout_text: str, vocab_file: str, config: DemoConfig) -> dict:
    """`data.word_order.order_probe_inputs` of the held-out documents in `heldout_text`,
    tokenized as the pretraining records were."""
    from mobilebert_tf.data.documents import read_documents
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    from mobilebert_tf.data.word_order import order_probe_inputs

    return order_probe_inputs(read_documents([heldout_text]), BertInputTokenizer(vocab_file),
                              config.seq_length)


def finetune_word_order(out: str, config: DemoConfig, done: dict) -> dict:
    """The word-order task (`word_order_data`), fine-tuned from the student; and the
    zero-shot word-order probe of the teacher's and the student's MLM heads."""
    from mobilebert_tf.run.experiment import run_training, word_order_probe

    heldout_text, vocab = done["corpus"]["files"]["heldout"], done["vocab"]
    data = word_order_data(tf.io.gfile.join(out, "data"), heldout_text)
    result = run_training(word_order_config(out, done["student"]["checkpoint"], vocab,
                                            data["data_dir"], config))
    print(f"word order: {data['train_examples']} train / {data['dev_examples']} dev sentences;"
          f" best dev accuracy {result.best_score:.4f} at step {result.best_step}; naive Bayes "
          f"on words {data['naive_bayes_1gram']:.4f}, on word pairs "
          f"{data['naive_bayes_2gram']:.4f}")
    inputs = word_order_probe_data(heldout_text, vocab["file"], config)
    train_files, teacher = done["records"]["train"]["pattern"], done["teacher"]["checkpoint"]
    probe = {
        "teacher": word_order_probe(teacher_config(teacher, train_files, vocab["size"], config),
                                    inputs),
        "student": word_order_probe(student_config(done["student"]["checkpoint"], train_files,
                                                   vocab["size"], teacher, config), inputs)}
    print(f"zero-shot word-order probe on {len(inputs['masked_lm_ids'])} held-out sentences: "
          f"teacher {probe['teacher']:.4f}, student {probe['student']:.4f}")
    return {**data, "best_dev_accuracy": result.best_score, "best_step": result.best_step,
            "probe_sentences": len(inputs["masked_lm_ids"]), "probe_accuracy": probe}


def sentiment_inputs(split: str, vocab_file: str, config: DemoConfig):
    """(inputs {key: [n, seq]}, labels, texts) of the sentiment split, tokenized as in
    training."""
    import numpy as np

    from mobilebert_tf.data.classification import tokenize_examples
    from mobilebert_tf.data.sentiment import read_rotten_tomatoes
    from mobilebert_tf.data.tokenizer import BertInputTokenizer

    examples = read_rotten_tomatoes(split)
    tokenizer = BertInputTokenizer(vocab_file, seq_length=config.seq_length,
                                   normalization=config.text_normalization)
    inputs = tokenize_examples(examples, tokenizer, config.seq_length)
    return inputs, np.array([e.label for e in examples]), [e.text_a for e in examples]


def export_model(out: str, config: DemoConfig, done: dict) -> dict:
    """SavedModel + float32 / float16 / dynamic-int8 / int8 `.tflite` of the fine-tuned model,
    fidelity-checked, and their length-adaptive twins in `adaptive/`."""
    import tf_keras as keras

    from mobilebert_tf.data import sentiment
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    from mobilebert_tf.export import exporter

    vocab_file = done["vocab"]["file"]
    print(f"Converting (converter logs: {out}/convert.log) ...", flush=True)
    model = keras.models.load_model(done["finetune"]["model"])
    calibration, fidelity = (
        exporter.examples_from_task("sentiment", split, vocab_file, count, 1,
                                    config.seq_length, model.encoder.config.vocab_size,
                                    normalization=config.text_normalization)
        for split, count in (("train", config.num_calibration),
                             ("validation", config.num_fidelity)))
    tokenizer = BertInputTokenizer(vocab_file, seq_length=config.seq_length,
                                   normalization=config.text_normalization)
    # Fixed [1, seq_length] files (what the Task Library runs), then their length-adaptive
    # [1, -1] twins (MediaPipe runs them too) in adaptive/.
    with fileio.native_logs_to(tf.io.gfile.join(out, "convert.log")):
        results, adaptive = (exporter.export(
            model, directory, seq_length=config.seq_length, calibration=calibration,
            fidelity_examples=fidelity, num_threads=config.num_threads,
            labels=sentiment.LABELS, tokenizer=tokenizer, dynamic_length=dynamic, log=log)
            for directory, dynamic, log in ((out, False, print),
                                            (tf.io.gfile.join(out, "adaptive"), True,
                                             lambda _: None)))
    keras.backend.clear_session()
    return {"files": {p: r["path"] for p, r in results.items()},
            "bytes": {p: r["bytes"] for p, r in results.items()},
            "adaptive_files": {p: r["path"] for p, r in adaptive.items()}}


def dev_accuracy(out: str, config: DemoConfig, done: dict) -> dict:
    """Dev accuracy of the Keras model and of every `.tflite`, in LiteRT, in MediaPipe from
    raw text and, when `runtimes.TASK_LIBRARY_PYTHON_ENV` names a Python with it (`make demo`
    makes one), in the TFLite Task Library from raw text, with each one's agreement with Keras
    (`runtimes.classifier_agreement`) on the whole dev split."""
    import tf_keras as keras

    from mobilebert_tf.data.sentiment import LABELS
    from mobilebert_tf.export import runtimes

    inputs, labels, texts = sentiment_inputs("validation", done["vocab"]["file"], config)
    files = {p: fileio.read_bytes(path) for p, path in done["export"]["files"].items()}
    result = runtimes.classifier_agreement(keras.models.load_model(done["finetune"]["model"]),
                                           files, inputs, labels, texts, LABELS,
                                           config.num_threads,
                                           os.environ.get(runtimes.TASK_LIBRARY_PYTHON_ENV))
    for name, value in result["accuracy"].items():
        line = f"{name:>14}: dev accuracy {value:.4f}"
        if name in result["agreement"]:
            line += f", agrees with Keras on {result['agreement'][name]:.2%}"
            for runtime in ("mediapipe", "task_library"):
                row = result.get(runtime, {}).get(name)
                if row:
                    line += (f"; {runtime}: refused ({row['error']})" if "error" in row else
                             f"; {runtime} from raw text {row['accuracy']:.4f}, agrees with "
                             f"Keras on {row['agreement']:.2%}")
        print(line)
    keras.backend.clear_session()
    return result


def time_real_text(export: dict, vocab_file: str, config: DemoConfig) -> dict:
    """Per-text latency of the demo student over the whole dev set at the texts' real
    lengths: fixed files (padded) vs adaptive ones (resized per text, or per length bucket)."""
    from mobilebert_tf.export import benchmark, exporter

    inputs, _, _ = sentiment_inputs("validation", vocab_file, config)
    files = {p: (fileio.read_bytes(path), fileio.read_bytes(export["adaptive_files"][p]))
             for p, path in export["files"].items()}
    buckets = [b for b in (16, 32, 64, 128) if b < config.seq_length] + [config.seq_length]
    latencies = benchmark.time_real_text(files, exporter.batches(inputs, 1), buckets,
                                         config.num_threads)
    table = benchmark.format_real_text(latencies)
    print(table)
    return {"buckets": buckets, "latencies": [dataclasses.asdict(l) for l in latencies],
            "table": table}


def time_latency(out: str, config: DemoConfig, done: dict) -> dict:
    """The demo files timed side by side (with full-size MobileBERT and BERT-base if
    `full_size_latency`), then on real text (`time_real_text`)."""
    from mobilebert_tf.export import benchmark
    from mobilebert_tf.export.reference import reference_suite

    export = done["export"]
    models = {}
    for precision, path in export["files"].items():
        models[f"demo student {precision}"] = fileio.read_bytes(path)
    if config.full_size_latency:
        print("Converting full-size MobileBERT (ours) and BERT-base (tf-models-official), "
              "random weights, sequence length 128 ...", flush=True)
        with fileio.native_logs_to(tf.io.gfile.join(out, "convert.log")):
            full = reference_suite("mobilebert", ["float32", "dynamic_int8", "int8"], 128,
                                   out, include=("ours", "tfmg bert_base"))
        models.update({name.replace("ours", "MobileBERT").replace("tfmg bert_base",
                                                                  "BERT-base"): content
                       for name, content in full.items()})
    latencies = benchmark.time_models(models, config.num_threads, rounds=config.latency_rounds)
    baseline = "BERT-base float32" if config.full_size_latency else None
    table = benchmark.format_table(latencies, baseline)
    print(table)
    plot = benchmark.plot(latencies, tf.io.gfile.join(out, "latency.png"))
    return {"num_threads": config.num_threads, "rounds": config.latency_rounds,
            "latencies": [dataclasses.asdict(l) for l in latencies], "table": table,
            "plot": plot, "real_text": time_real_text(export, done["vocab"]["file"], config)}


# In order: a stage's result is in `done` for the stages after it. The summary (report.py)
# follows them, rewritten on every run.
STAGES = {"corpus": build_corpus, "vocab": build_vocab, "records": build_records,
          "teacher": train_teacher, "student": train_student, "finetune": finetune,
          "word_order": finetune_word_order, "export": export_model, "accuracy": dev_accuracy,
          "latency": time_latency}
