"""Reading pretraining text in the BERT convention: one sentence per line, blank line between
documents (google-research/bert `create_pretraining_data.py` input format)."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from mobilebert_tf import fileio


def expand_patterns(patterns: str | Sequence[str]) -> list[str]:
    """Comma-separated or listed glob patterns -> sorted, de-duplicated file paths.

    Raises:
        ValueError: a pattern matches no file.
    """
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",") if p.strip()]
    if not patterns:
        raise ValueError("No input file pattern given.")
    files: list[str] = []
    for pattern in patterns:
        matched = fileio.glob(pattern.strip())
        if not matched:
            raise ValueError(f"Input pattern {pattern!r} matches no file.")
        files.extend(matched)
    return sorted(set(files))


def read_documents(paths: Iterable[str]) -> list[list[str]]:
    """Reads documents from text files in the BERT pretraining format.

    Lines are stripped; a blank line ends a document; a file's end also ends one. Documents are
    returned in file order, so the result is deterministic.

    Args:
        paths: text files, UTF-8.

    Returns:
        A list of documents, each a non-empty list of sentences.

    Raises:
        ValueError: a file is not valid UTF-8 (naming file, line and byte), or no file holds
            any text (an empty corpus).
    """
    documents: list[list[str]] = []
    paths = list(paths)
    for path in paths:
        raw = fileio.read_bytes(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
            raise ValueError(f"{path} is not valid UTF-8: line {line}, byte offset {e.start} "
                             f"({raw[e.start:e.start + 1]!r}). Re-encode the file as UTF-8.") from e
        current: list[str] = []
        for line in text.splitlines():
            line = line.strip()
            if line:
                current.append(line)
            elif current:
                documents.append(current)
                current = []
        if current:
            documents.append(current)
    if not documents:
        raise ValueError(f"Empty corpus: no text in {paths}.")
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
                       batch_size: int = 4096) -> list[list[np.ndarray]]:
    """Word-piece ids for every sentence, in batches through the in-graph tokenizer.

    Sentences that yield no tokens are dropped, then documents left empty.

    Args:
        documents: lists of sentences.
        tokenizer: a `BertInputTokenizer`.
        batch_size: sentences per tokenizer call.

    Returns:
        Documents as lists of int32 id arrays.
    """
    import tensorflow as tf  # Deferred: the readers above need no TF.

    sentences = [s for doc in documents for s in doc]
    pieces: list[np.ndarray] = []
    for start in range(0, len(sentences), batch_size):
        ids = tokenizer.tokenize(tf.constant(sentences[start:start + batch_size], tf.string))
        flat = ids.flat_values.numpy().astype(np.int32)
        splits = ids.row_splits.numpy()
        pieces.extend(flat[splits[i]:splits[i + 1]] for i in range(len(splits) - 1))
    out: list[list[np.ndarray]] = []
    k = 0
    for doc in documents:
        tokenized = [p for p in pieces[k:k + len(doc)] if p.size]
        k += len(doc)
        if tokenized:
            out.append(tokenized)
    return out
