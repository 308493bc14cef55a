"""The Apache Beam pipeline that turns a text corpus into pretraining record shards.

    files -> ReadDocuments (stream each file, tokenize in batches, documents into files of
             their hash bucket) -> (bucket, document file) -> GroupByKey
          -> CountInstances (plans only) -> offset of every bucket (side input)
          -> MakeInstances: the bucket's records into part files, one per shard they fall in
          -> (shard, part file) -> GroupByKey -> WriteShard (parts read, shuffled, written)
          -> `<prefix>-SSSSS-of-NNNNN.tfrecord.incomplete`

Nothing holds the corpus: a worker holds one file's pending sentences and tokenized documents
(`ReadDocuments.flush_mb`), one bucket of documents, or one output shard. Neither documents nor
records go through a shuffle, only the names of the files that hold them, so no runner holds
data in proportion to the corpus (the local FnApiRunner keeps every shuffle in memory: with
documents in it, its peak RSS grew 1.6x from 5 to 88 MB of text). The random next sentence of
NSP comes from the document's bucket (`PretrainingDataConfig.bucket_mb` of text), as it comes
from the one input file of each run of the reference scripts, which is how large corpora are
fed to them (one run per pre-split file).

Determinism: a document's key is (file index, document index in the file); its bucket, and
every random draw of its instances, are functions of that key, the dupe pass and the seed; a
bucket's documents are put in key order whatever files they came in.
Instances are numbered in one global order (bucket, dupe, document key, instance); shard `s`
of `S` takes the contiguous range `[s * N // S, (s + 1) * N // S)`, so shard sizes differ by
at most one (a deviation from hashing instances to shards, which would not balance them), and
its records are shuffled by a permutation seeded with (seed, s). The bytes are the same on any
runner, at any number of workers, with any retries.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
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


def encode_document(key: int, doc: Document) -> bytes:
    """A document and its key as one record: key (int64), sentence count (int32), int32
    bounds, int32 ids."""
    bounds = doc.bounds.astype(np.int32)
    return (struct.pack("<qi", key, len(bounds)) + bounds.tobytes()
            + doc.tokens.astype(np.int32).tobytes())


def decode_document(record: bytes) -> tuple[int, Document]:
    key, count = struct.unpack_from("<qi", record)
    bounds = np.frombuffer(record, np.int32, count, offset=12)
    tokens = np.frombuffer(record, np.int32, offset=12 + 4 * count)
    return key, Document(tokens, bounds)


def bucket_of(key: int, num_buckets: int, seed: int) -> int:
    return stable_hash(seed, key) % num_buckets


def documents_path(temp_dir: str, bucket: int, file_index: int, flush: int) -> str:
    return f"{temp_dir}/docs-{bucket:05d}-{file_index:05d}-{flush:05d}.tfrecord"


def read_records(files: list[str]) -> list[bytes]:
    """Every record of `files`, in order (read in batches: one eager step per record would
    cost ~60 us each, 20x the read)."""
    import tensorflow as tf

    return [r for batch in tf.data.TFRecordDataset(files).batch(4096).as_numpy_iterator()
            for r in batch] if files else []


class ReadDocuments(beam.DoFn):
    """`(file index, path)` -> `(bucket, (document file, its number of documents))`: every
    document of the file with at least one token, streamed: sentences are tokenized
    `batch_sentences` at a time (tensorflow-text WordPiece, in the worker), then written to a
    file of their bucket whenever the pending documents reach `flush_mb` and at the end."""

    def __init__(self, vocab_file: str, num_buckets: int, seed: int, temp_dir: str,
                 batch_sentences: int = 4096, flush_mb: float = 64.0):
        self._vocab_file = vocab_file
        self._num_buckets = num_buckets
        self._seed = seed
        self._temp_dir = temp_dir
        self._batch_sentences = batch_sentences
        self._flush_bytes = flush_mb * 2**20

    def setup(self):
        from mobilebert_tf.data.tokenizer import BertInputTokenizer
        from mobilebert_tf.data.vocab import Vocab

        self._tokenizer = BertInputTokenizer(Vocab.load(self._vocab_file))
        self._documents = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "documents")
        self._tokens = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "tokens")

    def process(self, element: tuple[int, str]) -> Iterator[tuple[int, tuple[str, int]]]:
        file_index, path = element
        self._pending: dict[int, list[bytes]] = {}
        self._pending_bytes, self._flushes = 0, 0
        keys, texts, sentences = [], [], 0
        for doc_index, doc in enumerate(documents_lib.iter_documents(path)):
            keys.append(document_key(file_index, doc_index))
            texts.append(doc)
            sentences += len(doc)
            if sentences >= self._batch_sentences:
                self._tokenized(keys, texts)
                keys, texts, sentences = [], [], 0
                if self._pending_bytes >= self._flush_bytes:
                    yield from self._flush(file_index)
        self._tokenized(keys, texts)
        yield from self._flush(file_index)

    def _tokenized(self, keys, texts):
        for key, doc in zip(keys, documents_lib.tokenize_documents(texts, self._tokenizer)):
            if doc is not None:
                self._documents.inc()
                self._tokens.inc(len(doc.tokens))
                record = encode_document(key, doc)
                self._pending.setdefault(bucket_of(key, self._num_buckets, self._seed),
                                         []).append(record)
                self._pending_bytes += len(record)

    def _flush(self, file_index: int):
        for bucket, records in sorted(self._pending.items()):
            path = documents_path(self._temp_dir, bucket, file_index, self._flushes)
            _write_atomically(path, records)
            yield bucket, (path, len(records))
        self._pending, self._pending_bytes = {}, 0
        self._flushes += 1


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
    def documents(values: Iterable[tuple[str, int]]) -> tuple[list[int], list[Document]]:
        """The bucket's documents in key order, read from its document files."""
        pairs = sorted((decode_document(r) for r in read_records(sorted(p for p, _ in values))),
                       key=lambda kv: kv[0])
        return [k for k, _ in pairs], [doc for _, doc in pairs]

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
        del num_documents  # A side input only so that no shard is written before the check.
        shard, parts = element
        records = read_records(sorted(p for p in parts if p is not None))
        order = np.random.default_rng([self._seed, shard]).permutation(len(records))
        _write_atomically(self._paths[shard] + pretraining_records.INCOMPLETE_SUFFIX,
                          (records[i] for i in order))
        self._examples.inc(len(records))
        yield shard, len(records)


def build(pipeline: beam.Pipeline, files: list[str], vocab_file: str, config,
          num_buckets: int, paths: list[str], temp_dir: str) -> None:
    """Adds the record pipeline to `pipeline`: `files` -> `paths` (their `.incomplete`
    names), `len(paths)` shards; document and part files go to `temp_dir` (the caller removes
    it)."""
    num_shards = len(paths)
    docs = (pipeline
            | "Files" >> beam.Create(list(enumerate(files)))
            | "Read" >> beam.ParDo(ReadDocuments(vocab_file, num_buckets, config.random_seed,
                                                 temp_dir)))
    num_documents = (docs
                     | "DocumentCounts" >> beam.Map(lambda kv: kv[1][1])
                     | "CountDocuments" >> beam.CombineGlobally(sum)
                     | "CheckDocuments" >> beam.Map(check_documents))
    buckets = docs | "GroupBuckets" >> beam.GroupByKey()
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
