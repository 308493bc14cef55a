"""Every data reader and writer with its paths on `ram://`, which (like `gs://`) only
`tf.io.gfile` can open."""

import json

import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.data import corpus, documents, glue, sentiment, squad
from mobilebert_tf.data.create_pretraining_data import (PretrainingDataConfig,
                                                        create_pretraining_records)
from mobilebert_tf.data.vocab import Vocab
from mobilebert_tf.data.vocab_builder import build_wordpiece_vocab


def test_corpus_vocab_and_records_on_ram(ram_path, vocab_file):
    stats = corpus.build_corpus(f"{ram_path}/text/play.txt", max_plays=1)
    docs = documents.read_documents(documents.expand_patterns(f"{ram_path}/text/*.txt"))
    assert len(docs) == stats["documents"] and tf.io.gfile.listdir(f"{ram_path}/text") == [
        "play.txt"]  # no `.incomplete` left behind

    learned = build_wordpiece_vocab(f"{ram_path}/text/*.txt", f"{ram_path}/learned/vocab.txt",
                                    vocab_size=300, max_sentences=300)
    assert Vocab.load(f"{ram_path}/learned/vocab.txt").tokens == learned.tokens

    tf.io.gfile.copy(vocab_file, f"{ram_path}/vocab.txt")
    result = create_pretraining_records(
        f"{ram_path}/text/*.txt", f"{ram_path}/records", f"{ram_path}/vocab.txt",
        PretrainingDataConfig(seq_length=32, max_predictions_per_seq=4, dupe_factor=1,
                              num_shards=2),
        num_workers=1)  # ram:// lives in this process: one worker runs in it.
    assert result["num_examples"] > 0
    assert fileio.glob(f"{ram_path}/records/*.tfrecord") == result["files"]
    assert fileio.glob(f"{ram_path}/records/*.json") == [
        f"{ram_path}/records/pretraining_data.json"]


def test_task_readers_on_ram(ram_path):
    fileio.write_text(f"{ram_path}/SST-2/train.tsv", "sentence\tlabel\ngood film\t1\nbad\t0\n")
    examples = glue.read_glue_tsv("sst2", f"{ram_path}/SST-2", "train")
    assert [(e.text_a, e.label) for e in examples] == [("good film", 1), ("bad", 0)]

    context = "The Normans gave their name to Normandy, a region in France."
    fileio.write_text(f"{ram_path}/squad/dev-v1.1.json", json.dumps({"data": [{"paragraphs": [
        {"context": context, "qas": [{"id": "q1", "question": "Where is Normandy?",
                                      "answers": [{"text": "France",
                                                   "answer_start": context.index("France")}]}]}]}]}))
    [example] = squad.read_squad_json(f"{ram_path}/squad/dev-v1.1.json")
    assert example.answers == (("France", context.index("France")),)

    fileio.write_text(f"{ram_path}/rt.csv", "category,text,movie_name\nfresh,A joy.,Up\n"
                                            "rotten,A bore.,Down\nplot,Story.,Up\n")
    rows = sentiment.read_rotten_tomatoes("all", f"{ram_path}/rt.csv")
    assert [(e.text_a, e.label) for e in rows] == [("A joy.", 1), ("A bore.", 0)]
