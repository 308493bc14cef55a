"""Reading pretraining text in the BERT convention: one sentence per line, blank line between
documents (google-research/bert `create_pretraining_data.py` input format)."""

from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator, Sequence

import numpy as np

from mobilebert_tf import fileio
from mobilebert_tf.errors import InputError


def expand_patterns(patterns: str | Sequence[str]) -> list[str]:
    """Comma-separated or listed glob patterns -> sorted, de-duplicated file paths.

    Raises:
        InputError: no pattern, or a pattern that matches no file.
    """
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",") if p.strip()]
    if not patterns:
        raise InputError("No input file pattern given.")
    files: list[str] = []
    for pattern in patterns:
        matched = fileio.glob(pattern.strip())
        if not matched:
            raise InputError(f"Input pattern {pattern!r} matches no file.")
        files.extend(matched)
    return sorted(set(files))


def iter_documents(path: str) -> Iterator[list[str]]:
    """The documents of one text file in the BERT pretraining format, streamed line by line.

    Lines are stripped; a blank line or the file's end ends a document.

    Yields:
        Documents in file order, each a non-empty list of sentences.

    Raises:
        InputError: the file is not valid UTF-8 (naming file, line and byte offset).
    """
    current: list[str] = []
    offset = 0
    with fileio.open_binary(path) as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{path} is not valid UTF-8: line {number}, byte offset {offset + e.start} "
                    f"({raw[e.start:e.start + 1]!r}). Re-encode the file as UTF-8.") from None
            offset += len(raw)
            if line:
                current.append(line)
            elif current:
                yield current
                current = []
    if current:
        yield current


def read_documents(paths: Iterable[str]) -> list[list[str]]:
    """Every document of `paths` (`iter_documents` of each, in order), in memory: for the
    small texts of the demo and the tests; record creation streams instead.

    Raises:
        InputError: a file is not valid UTF-8, or no file holds any text (an empty corpus).
    """
    paths = list(paths)
    documents = [doc for path in paths for doc in iter_documents(path)]
    if not documents:
        raise InputError(f"Empty corpus: no text in {paths}.")
    return documents


def write_documents(path: str, documents: Sequence[Sequence[str]]) -> str:
    """Writes documents (lists of sentences) to `path` in the BERT pretraining format, which
    `read_documents` reads back; returns `path`."""
    return fileio.write_text(path, "\n\n".join("\n".join(doc) for doc in documents) + "\n")


def split_heldout(documents: Sequence, every: int) -> tuple[list, list]:
    """(train, held-out) documents: every `every`th document (the `every`th, `2 * every`th,
    ...) held out, the rest kept in order for training."""
    heldout = list(documents[every - 1::every])
    train = [d for i, d in enumerate(documents) if (i + 1) % every]
    return train, heldout


def tokenize_documents(documents: Sequence[Sequence[str]], tokenizer,
                       batch_size: int = 4096) -> list[Document | None]:
    """Word-piece ids of every document, in batches of sentences through the in-graph
    tokenizer; sentences that yield no tokens are dropped.

    Args:
        documents: lists of sentences.
        tokenizer: a `BertInputTokenizer`.
        batch_size: sentences per tokenizer call.

    Returns:
        One `Document` per input document, None where no sentence had a token.
    """
    import tensorflow as tf  # Deferred: the readers above need no TF.

    sentences = [s for doc in documents for s in doc]
    flat, lengths = [], []
    for start in range(0, len(sentences), batch_size):
        ids = tokenizer.tokenize(tf.constant(sentences[start:start + batch_size], tf.string))
        flat.append(ids.flat_values.numpy().astype(np.int32))
        lengths.append(np.diff(ids.row_splits.numpy()))
    flat_ids = np.concatenate(flat) if flat else np.zeros(0, np.int32)
    lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    out: list[Document | None] = []
    sentence = token = 0
    for doc in documents:
        doc_lengths = lengths[sentence:sentence + len(doc)]
        sentence += len(doc)
        ids = flat_ids[token:token + int(doc_lengths.sum())]
        token += len(ids)
        kept = doc_lengths[doc_lengths > 0]
        out.append(Document(ids.copy(), np.concatenate([[0], np.cumsum(kept)]).astype(np.int64))
                   if kept.size else None)
    return out


@dataclasses.dataclass(frozen=True)
class Document:
    """One tokenized document: its sentences' ids back to back.

    Args:
        tokens: int32 ids of every sentence, concatenated.
        bounds: `[0, end of sentence 1, ..., len(tokens)]`, strictly increasing (no empty
            sentence).
    """

    tokens: np.ndarray
    bounds: np.ndarray

    @classmethod
    def from_sentences(cls, sentences: Sequence[np.ndarray]) -> "Document":
        lengths = [len(s) for s in sentences]
        return cls(np.concatenate(sentences).astype(np.int32),
                   np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def sentences(self) -> list[np.ndarray]:
        return [self.tokens[a:b] for a, b in zip(self.bounds[:-1], self.bounds[1:])]
