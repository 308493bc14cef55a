r"""Data-layer throughput: the tokenizer and the pretraining input pipeline, on the real demo
corpus (record creation against tf-models-official: `records_side_by_side.py`).

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/data/throughput.py --max_plays=38 --dupe_factor=2

Prints a Markdown table (the one in README.md beside this file). Each stage is timed after a
warm-up; "per core" divides by the worker processes used.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time

import tensorflow as tf
from absl import app, flags

from mobilebert_tf.data import corpus, documents
from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                        create_pretraining_records)
from mobilebert_tf.data.pretraining_dataset import pretraining_dataset
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.data.vocab import Vocab, default_vocab_file

FLAGS = flags.FLAGS
LOAD = ""
flags.DEFINE_integer("max_plays", 38, "Plays of the corpus to use.")
flags.DEFINE_integer("dupe_factor", 2, "Maskings of the records the input pipeline reads.")
flags.DEFINE_integer("seq_length", 128, "Sequence length.")
flags.DEFINE_integer("reference_sentences", 5000, "Sentences for the pure-Python reference.")


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main(argv):
    del argv
    rows = []
    global LOAD
    LOAD = " ".join(f"{x:.1f}" for x in os.getloadavg())
    work = tempfile.mkdtemp(prefix="mbert_bench_")
    corpus_file = tf.io.gfile.join(work, "corpus.txt")
    stats = corpus.build_corpus(corpus_file, FLAGS.max_plays)
    sentences = [s for d in documents.read_documents([corpus_file]) for s in d]
    vocab = Vocab.load(default_vocab_file())
    tok = BertInputTokenizer(vocab, seq_length=FLAGS.seq_length)

    # Tokenizer: in-graph FastBertTokenizer, batches of 1024, eager calls.
    batches = [tf.constant(sentences[i:i + 1024]) for i in range(0, len(sentences), 1024)]
    tok.tokenize(batches[0])
    n_tokens, seconds = _timed(lambda: sum(int(tok.tokenize(b).flat_values.shape[0])
                                           for b in batches))
    rows.append(("WordPiece tokenize (FastBertTokenizer, batch 1024)", "1",
                 f"{len(sentences) / seconds:,.0f} sentences/s", f"{n_tokens / seconds:,.0f} tokens/s"))

    # Tokenize + pack into model inputs inside tf.data (what fine-tuning runs).
    ds = (tf.data.Dataset.from_tensor_slices(sentences).batch(256)
          .map(lambda t: tok(t), num_parallel_calls=tf.data.AUTOTUNE))
    for _ in ds.take(1):
        pass
    _, seconds = _timed(lambda: [None for _ in ds])
    rows.append(("tokenize + pack in tf.data (seq 128, batch 256)", "tf.data",
                 f"{len(sentences) / seconds:,.0f} texts/s", ""))

    # The pure-Python reference, for scale.
    from official.nlp.tools import tokenization
    ref = tokenization.FullTokenizer(default_vocab_file(), do_lower_case=True)
    subset = sentences[:FLAGS.reference_sentences]
    _, seconds = _timed(lambda: [ref.convert_tokens_to_ids(ref.tokenize(s)) for s in subset])
    rows.append(("reference FullTokenizer (tf-models-official, Python)", "1",
                 f"{len(subset) / seconds:,.0f} sentences/s", ""))

    # Records for the input pipeline (their creation is timed in records_side_by_side.py).
    config = PretrainingDataConfig(seq_length=FLAGS.seq_length, dupe_factor=FLAGS.dupe_factor,
                                   num_shards=8)
    result = create_pretraining_records(corpus_file, tf.io.gfile.join(work, "records"),
                                        vocab.path, config,
                                        beam_args=["--direct_running_mode=in_memory"])
    files = result["files"]
    ds = pretraining_dataset(files, FLAGS.seq_length, config.max_predictions_per_seq, 256,
                             seed=0, repeat=False)
    for _ in ds.take(1):
        pass
    count, seconds = _timed(lambda: sum(1 for _ in ds))
    rows.append(("pretraining_dataset read (batch 256)", "tf.data",
                 f"{count * 256 / seconds:,.0f} examples/s", ""))

    print(f"Corpus: {stats}. Load average before: {LOAD}. Machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, TF {tf.__version__}.\n")
    print("| stage | workers | throughput | per core / note |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    app.run(main)
