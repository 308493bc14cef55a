"""The Apache Beam pipeline that turns a text corpus into pretraining record shards.

    files -> ReadDocuments (stream each file, tokenize in batches) -> (doc key, document)
          -> hash bucket of documents -> GroupByKey
          -> CountInstances (plans only) -> offset of every bucket (side input)
          -> MakeInstances: the bucket's records into part files, one per shard they fall in
          -> (shard, part file) -> GroupByKey -> WriteShard (parts read, shuffled, written)
          -> `<prefix>-SSSSS-of-NNNNN.tfrecord.incomplete`

Nothing holds the corpus: a worker holds one file's pending batch of sentences, one bucket of
documents, or one output shard; records never go through a shuffle (only part-file names do),
so a runner that keeps shuffles in memory (the local FnApiRunner) holds the tokenized
documents, 4 bytes per word piece, and no records. The random next sentence of NSP comes from
the document's bucket (`PretrainingDataConfig.bucket_mb` of text), as it comes from the one
input file of each run of the reference scripts, which is how large corpora are fed to them
(one run per pre-split file).

Determinism: a document's key is (file index, document index in the file); its bucket, and
every random draw of its instances, are functions of that key, the dupe pass and the seed.
Instances are numbered in one global order (bucket, dupe, document key, instance); shard `s`
of `S` takes the contiguous range `[s * N // S, (s + 1) * N // S)`, so shard sizes differ by
at most one (a deviation from hashing instances to shards, which would not balance them), and
its records are shuffled by a permutation seeded with (seed, s). The bytes are the same on any
runner, at any number of workers, with any retries.
"""

from __future__ import annotations

import bisect
import hashlib
import uuid
from typing import Iterable, Iterator

import apache_beam as beam
import numpy as np

from mobilebert_tf.data import documents as documents_lib
from mobilebert_tf.data import pretraining_records
from mobilebert_tf.data.documents import Document
from mobilebert_tf.data.pretraining_instances import build_instance, plan_pairs
from mobilebert_tf.errors import InputError

METRICS_NAMESPACE = "mobilebert_tf.pretraining_data"


def stable_hash(*values: int) -> int:
    """A 63-bit hash of integers, the same in every process (unlike Python's `hash`)."""
    data = np.array(values, np.int64).tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


def document_key(file_index: int, doc_index: int) -> int:
    return (file_index << 32) | doc_index


def encode_document(doc: Document) -> tuple[bytes, bytes]:
    """A document as two byte strings (int32 bounds, int32 ids): compact in any shuffle."""
    return doc.bounds.astype(np.int32).tobytes(), doc.tokens.astype(np.int32).tobytes()


def decode_document(value: tuple[bytes, bytes]) -> Document:
    bounds, tokens = value
    return Document(np.frombuffer(tokens, np.int32), np.frombuffer(bounds, np.int32))


class ReadDocuments(beam.DoFn):
    """`(file index, path)` -> `(document key, encoded document)` for every document of the
    file with at least one token, streamed: sentences are tokenized `batch_sentences` at a
    time (tensorflow-text WordPiece, in the worker)."""

    def __init__(self, vocab_file: str, batch_sentences: int = 4096):
        self._vocab_file = vocab_file
        self._batch_sentences = batch_sentences

    def setup(self):
        from mobilebert_tf.data.tokenizer import BertInputTokenizer
        from mobilebert_tf.data.vocab import Vocab

        self._tokenizer = BertInputTokenizer(Vocab.load(self._vocab_file))
        self._documents = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "documents")
        self._tokens = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "tokens")

    def process(self, element: tuple[int, str]) -> Iterator[tuple[int, tuple[bytes, bytes]]]:
        file_index, path = element
        keys, pending, sentences = [], [], 0
        for doc_index, doc in enumerate(documents_lib.iter_documents(path)):
            keys.append(document_key(file_index, doc_index))
            pending.append(doc)
            sentences += len(doc)
            if sentences >= self._batch_sentences:
                yield from self._tokenized(keys, pending)
                keys, pending, sentences = [], [], 0
        yield from self._tokenized(keys, pending)

    def _tokenized(self, keys, pending):
        for key, doc in zip(keys, documents_lib.tokenize_documents(pending, self._tokenizer)):
            if doc is not None:
                self._documents.inc()
                self._tokens.inc(len(doc.tokens))
                yield key, encode_document(doc)


def bucket_of(key: int, num_buckets: int, seed: int) -> int:
    return stable_hash(seed, key) % num_buckets


def check_documents(count: int) -> int:
    """The corpus's document count, refused below 2 (NSP needs another document)."""
    if count < 2:
        raise InputError(f"The input holds {count} document(s) with text; next-sentence "
                         "prediction needs at least 2 (a blank line between documents).")
    return count


class _BucketFn(beam.DoFn):
    """Shared by the two passes over a bucket: its documents in key order, and the random
    streams of every (dupe, document)."""

    def __init__(self, config, vocab_file: str):
        self._config = config
        self._vocab_file = vocab_file

    def setup(self):
        from mobilebert_tf.data.vocab import Vocab

        vocab = Vocab.load(self._vocab_file)
        self._cls_id, self._sep_id = vocab.cls_id, vocab.sep_id
        self._masking = None if self._config.dynamic_masking else self._config.masking(vocab)

    @staticmethod
    def documents(values: Iterable) -> tuple[list[int], list[Document]]:
        pairs = sorted(values, key=lambda kv: kv[0])
        return [k for k, _ in pairs], [decode_document(v) for _, v in pairs]

    def plans(self, keys: list[int], docs: list[Document]):
        """`(dupe, key, plans)` in the global order, dupe pass by dupe pass."""
        config = self._config
        for dupe in range(config.dupe_factor):
            for d, key in enumerate(keys):
                plan_rng = np.random.default_rng([config.random_seed, dupe, key, 0])
                pairs = plan_pairs(docs, d, config.seq_length, config.short_seq_prob, plan_rng)
                yield dupe, key, pairs


class CountInstances(_BucketFn):
    """`(bucket, documents)` -> `(bucket, number of instances)`: plans only, no tokens."""

    def process(self, element):
        bucket, values = element
        keys, docs = self.documents(values)
        yield bucket, sum(len(pairs) for _, _, pairs in self.plans(keys, docs))


def bucket_offsets(counts: list[tuple[int, int]]) -> dict:
    """Each bucket's first global instance index (buckets in ascending order), and under
    "total" the number of instances."""
    offsets, total = {}, 0
    for bucket, count in sorted(counts):
        offsets[bucket] = total
        total += count
    offsets["total"] = total
    return offsets


def shard_ranges(total: int, num_shards: int) -> list[int]:
    """Shard boundaries: shard s holds global instances `[bounds[s], bounds[s + 1])`."""
    return [s * total // num_shards for s in range(num_shards + 1)]


def part_path(temp_dir: str, shard: int, bucket: int) -> str:
    return f"{temp_dir}/part-{shard:05d}-{bucket:05d}.tfrecord"


def _write_atomically(path: str, records: Iterable[bytes]) -> None:
    """Writes `records` under a temporary name, then renames: a retried or duplicated
    worker replaces the file with the same bytes, never leaves half of one."""
    import tensorflow as tf

    temp = f"{path}.{uuid.uuid4().hex}"
    try:
        with tf.io.TFRecordWriter(temp) as writer:
            for record in records:
                writer.write(record)
        tf.io.gfile.rename(temp, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(temp):
            tf.io.gfile.remove(temp)
        raise


class MakeInstances(_BucketFn):
    """`(bucket, documents)` -> `(shard, part file)`: every instance of the bucket, serialized
    in the global order into one part file per shard its range overlaps."""

    def __init__(self, config, vocab_file: str, num_shards: int, temp_dir: str):
        super().__init__(config, vocab_file)
        self._num_shards = num_shards
        self._temp_dir = temp_dir

    def process(self, element, offsets: dict):
        bucket, values = element
        keys, docs = self.documents(values)
        config = self._config
        serialize = pretraining_records.ExampleSerializer(
            config.seq_length, None if config.dynamic_masking else config.max_predictions_per_seq)
        bounds = shard_ranges(offsets["total"], self._num_shards)
        index = offsets[bucket]
        shard = min(bisect.bisect_right(bounds, index) - 1, self._num_shards - 1)
        records = []
        for dupe, key, pairs in self.plans(keys, docs):
            rng = np.random.default_rng([config.random_seed, dupe, key, 1])
            for pair in pairs:
                while index >= bounds[shard + 1]:
                    yield from self._flush(shard, bucket, records)
                    shard += 1
                records.append(serialize(build_instance(
                    docs, pair, config.seq_length, self._cls_id, self._sep_id, self._masking,
                    rng)))
                index += 1
        yield from self._flush(shard, bucket, records)

    def _flush(self, shard: int, bucket: int, records: list[bytes]):
        if records:
            path = part_path(self._temp_dir, shard, bucket)
            _write_atomically(path, records)
            records.clear()
            yield shard, path


class WriteShard(beam.DoFn):
    """`(shard, part files)` -> the shard's file: its parts read in order, the records
    shuffled by a permutation seeded with (seed, shard), written under the `.incomplete` name
    (the caller renames every shard once all are written)."""

    def __init__(self, paths: list[str], seed: int):
        self._paths = paths
        self._seed = seed

    def setup(self):
        self._examples = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "examples")

    def process(self, element, num_documents: int):
        import tensorflow as tf

        del num_documents  # A side input only so that no shard is written before the check.
        shard, parts = element
        files = sorted(p for p in parts if p is not None)
        # Read in batches: one eager step per record would cost ~60 us each, 20x the read.
        records = [r for batch in tf.data.TFRecordDataset(files).batch(4096).as_numpy_iterator()
                   for r in batch] if files else []
        order = np.random.default_rng([self._seed, shard]).permutation(len(records))
        _write_atomically(self._paths[shard] + pretraining_records.INCOMPLETE_SUFFIX,
                          (records[i] for i in order))
        self._examples.inc(len(records))
        yield shard, len(records)


def build(pipeline: beam.Pipeline, files: list[str], vocab_file: str, config,
          num_buckets: int, paths: list[str], temp_dir: str) -> None:
    """Adds the record pipeline to `pipeline`: `files` -> `paths` (their `.incomplete`
    names), `len(paths)` shards; part files go to `temp_dir` (the caller removes it)."""
    num_shards = len(paths)
    docs = (pipeline
            | "Files" >> beam.Create(list(enumerate(files)))
            | "Read" >> beam.ParDo(ReadDocuments(vocab_file)))
    num_documents = (docs
                     | "CountDocuments" >> beam.combiners.Count.Globally()
                     | "CheckDocuments" >> beam.Map(check_documents))
    buckets = (docs
               | "Bucket" >> beam.Map(lambda kv, n, seed: (bucket_of(kv[0], n, seed), kv),
                                      num_buckets, config.random_seed)
               | "GroupBuckets" >> beam.GroupByKey())
    offsets = (buckets
               | "Count" >> beam.ParDo(CountInstances(config, vocab_file))
               | "Counts" >> beam.combiners.ToList()
               | "Offsets" >> beam.Map(bucket_offsets))
    parts = buckets | "Instances" >> beam.ParDo(
        MakeInstances(config, vocab_file, num_shards, temp_dir),
        beam.pvalue.AsSingleton(offsets))
    # Every shard is written, even one no instance went to.
    every_shard = pipeline | "Shards" >> beam.Create([(s, None) for s in range(num_shards)])
    _ = ((parts, every_shard)
         | "Flatten" >> beam.Flatten()
         | "GroupShards" >> beam.GroupByKey()
         | "Write" >> beam.ParDo(WriteShard(paths, config.random_seed),
                                 beam.pvalue.AsSingleton(num_documents)))
