"""The Apache Beam pipeline that turns a text corpus into pretraining record shards.

    files -> ReadDocuments (stream each file, tokenize in batches) -> (doc key, document)
          -> hash bucket of documents -> GroupByKey
          -> CountInstances (plans only) -> offset of every bucket (side input)
          -> MakeInstances -> (shard, chunk of (sort key, serialized example))
          -> GroupByKey -> WriteShard (sorted by key)
          -> `<prefix>-SSSSS-of-NNNNN.tfrecord.incomplete`

Nothing holds the corpus: a worker holds one file's pending batch of sentences, one bucket of
documents, or one output shard. The random next sentence of NSP comes from the document's
bucket (`PretrainingDataConfig.bucket_mb` of text), as it comes from the one input file of
each run of the reference scripts, which is how large corpora are fed to them (one run per
pre-split file).

Determinism: a document's key is (file index, document index in the file); its bucket, and
every random draw of its instances, are functions of that key, the dupe pass and the seed.
Instance `g` in the global order (bucket, dupe, document key, instance) goes to shard
`g % num_shards`, so shard sizes differ by at most one (a deviation from hashing instances to
shards, which would not balance them); within a shard, records are sorted by a hash of their
key. The bytes are the same on any runner, at any number of workers, with any retries.

Records travel to their shard in chunks of `CHUNK_RECORDS`, each three byte strings: a runner
that holds a shuffle in memory (the local FnApiRunner) then holds about the records' bytes,
not a Python object per record (which took ~5x as much).
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Iterator

import apache_beam as beam
import numpy as np

from mobilebert_tf.data import documents as documents_lib
from mobilebert_tf.data import pretraining_records
from mobilebert_tf.data.documents import Document
from mobilebert_tf.data.pretraining_instances import build_instance, plan_pairs
from mobilebert_tf.errors import InputError

METRICS_NAMESPACE = "mobilebert_tf.pretraining_data"
# Records per element on their way to a shard.
CHUNK_RECORDS = 1024


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


def encode_chunk(keys: list[int], records: list[bytes]) -> tuple[bytes, bytes, bytes]:
    """Records and their sort keys as (int64 keys, int32 lengths, the records joined)."""
    lengths = np.fromiter(map(len, records), np.int32, len(records))
    return np.array(keys, np.int64).tobytes(), lengths.tobytes(), b"".join(records)


def decode_chunk(chunk: tuple[bytes, bytes, bytes]) -> list[tuple[int, bytes]]:
    keys, lengths, blob = chunk
    ends = np.cumsum(np.frombuffer(lengths, np.int32)).tolist()
    starts = [0] + ends[:-1]
    return [(k, blob[a:b]) for k, a, b in zip(np.frombuffer(keys, np.int64).tolist(), starts,
                                              ends)]


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


def bucket_offsets(counts: list[tuple[int, int]]) -> dict[int, int]:
    """Each bucket's first global instance index: buckets in ascending order."""
    offsets, total = {}, 0
    for bucket, count in sorted(counts):
        offsets[bucket] = total
        total += count
    return offsets


class MakeInstances(_BucketFn):
    """`(bucket, documents)` -> `(shard, chunk)`: every instance of the bucket, serialized,
    in chunks of up to `CHUNK_RECORDS` per shard (`encode_chunk`)."""

    def __init__(self, config, vocab_file: str, num_shards: int):
        super().__init__(config, vocab_file)
        self._num_shards = num_shards

    def process(self, element, offsets: dict[int, int]):
        bucket, values = element
        keys, docs = self.documents(values)
        config = self._config
        serialize = pretraining_records.ExampleSerializer(
            config.seq_length, None if config.dynamic_masking else config.max_predictions_per_seq)
        pending = {}  # shard -> (sort keys, records)
        index = offsets[bucket]
        for dupe, key, pairs in self.plans(keys, docs):
            rng = np.random.default_rng([config.random_seed, dupe, key, 1])
            for j, pair in enumerate(pairs):
                instance = build_instance(docs, pair, config.seq_length, self._cls_id,
                                          self._sep_id, self._masking, rng)
                shard = index % self._num_shards
                sort_keys, records = pending.setdefault(shard, ([], []))
                sort_keys.append(stable_hash(config.random_seed, key, dupe, j))
                records.append(serialize(instance))
                if len(records) == CHUNK_RECORDS:
                    yield shard, encode_chunk(*pending.pop(shard))
                index += 1
        for shard, chunk in sorted(pending.items()):
            yield shard, encode_chunk(*chunk)


class WriteShard(beam.DoFn):
    """`(shard, records)` -> the shard's file, records sorted by key, written under its
    `.incomplete` name (the caller renames every shard once all are written)."""

    def __init__(self, paths: list[str]):
        self._paths = paths

    def setup(self):
        self._examples = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "examples")

    def process(self, element, num_documents: int):
        import tensorflow as tf

        del num_documents  # A side input only so that no shard is written before the check.
        shard, chunks = element
        records = sorted(r for chunk in chunks if chunk is not None for r in decode_chunk(chunk))
        path = self._paths[shard] + pretraining_records.INCOMPLETE_SUFFIX
        with tf.io.TFRecordWriter(path) as writer:
            for _, record in records:
                writer.write(record)
        self._examples.inc(len(records))
        yield shard, len(records)


def build(pipeline: beam.Pipeline, files: list[str], vocab_file: str, config,
          num_buckets: int, paths: list[str]) -> None:
    """Adds the record pipeline to `pipeline`: `files` -> `paths` (their `.incomplete`
    names), `len(paths)` shards."""
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
    instances = buckets | "Instances" >> beam.ParDo(
        MakeInstances(config, vocab_file, num_shards), beam.pvalue.AsSingleton(offsets))
    # Every shard is written, even one no instance went to.
    every_shard = pipeline | "Shards" >> beam.Create([(s, None) for s in range(num_shards)])
    _ = ((instances, every_shard)
         | "Flatten" >> beam.Flatten()
         | "GroupShards" >> beam.GroupByKey()
         | "Write" >> beam.ParDo(WriteShard(paths), beam.pvalue.AsSingleton(num_documents)))
