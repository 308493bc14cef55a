"""`MobileBertConfig`: one frozen config for every encoder in the family, and the presets.

The teacher (IB-BERT_LARGE), MobileBERT, MobileBERT_TINY and plain BERT-base are the same
bottleneck encoder with different numbers; `PRESETS` holds them and `get_preset` reads them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

NORMS = ("layer_norm", "no_norm")
ACTIVATIONS = ("relu", "gelu")
# Where the attention's query, key and value come from (paper table 1, docs/mobilebert.md §1):
#   "block_input":       Q, K, V all read the 512-wide block input (IB-BERT, BERT-base).
#   "shared_bottleneck": Q and K read their own shared 512->intra bottleneck, V the block
#                        input (MobileBERT).
#   "bottleneck":        Q, K, V all read the block's input bottleneck (MobileBERT_TINY).
QKV_SOURCES = ("block_input", "shared_bottleneck", "bottleneck")


@dataclasses.dataclass(frozen=True)
class MobileBertConfig:
    """Shape and behaviour of a bottleneck BERT encoder.

    Args:
        vocab_size: WordPiece vocabulary size.
        embedding_size: Width of the word-embedding table (128 in MobileBERT).
        hidden_size: Inter-block width: the residual stream between blocks (512).
        intra_size: Intra-block width inside the bottleneck ("true hidden": 128 or 1024).
        num_layers: Number of transformer blocks.
        num_heads: Attention heads; `intra_size` must be divisible by it.
        intermediate_size: Inner width of each feed-forward network.
        num_ffn: Feed-forward networks stacked after each attention (F).
        qkv_source: One of `QKV_SOURCES`.
        norm: "layer_norm" or "no_norm" (element-wise `x * gamma + beta`, paper eq. 1).
        activation: "relu" or "gelu" (exact erf form, as BERT).
        use_trigram: Concatenate the embeddings of tokens t+1, t, t-1 before projecting to
            `hidden_size` (the kernel-3 convolution of the paper).
        use_bottleneck: Wrap each block in hidden->intra and intra->hidden dense layers. False
            gives a plain BERT block, which requires `intra_size == hidden_size`.
        use_pooler: Dense+tanh on the first token for `pooled_output`; else the first token.
        hidden_dropout: Dropout on the embeddings and each block's output.
        attention_dropout: Dropout on attention probabilities.
        max_position: Rows of the position-embedding table: the longest sequence accepted.
        type_vocab_size: Number of segment (token type) ids.
        initializer_range: Stddev of the truncated-normal initializer.
        layer_norm_epsilon: Epsilon of every LayerNorm.
    """

    vocab_size: int = 30522
    embedding_size: int = 128
    hidden_size: int = 512
    intra_size: int = 128
    num_layers: int = 24
    num_heads: int = 4
    intermediate_size: int = 512
    num_ffn: int = 4
    qkv_source: str = "shared_bottleneck"
    norm: str = "no_norm"
    activation: str = "relu"
    use_trigram: bool = True
    use_bottleneck: bool = True
    use_pooler: bool = False
    hidden_dropout: float = 0.0
    attention_dropout: float = 0.1
    max_position: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_epsilon: float = 1e-12

    def __post_init__(self):
        for name in ("vocab_size", "embedding_size", "hidden_size", "intra_size",
                     "num_layers", "num_heads", "intermediate_size", "num_ffn",
                     "max_position", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"MobileBertConfig.{name} must be a positive int, got {value!r}.")
        for name in ("hidden_dropout", "attention_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"MobileBertConfig.{name} must be in [0, 1), got {value!r}.")
        if self.initializer_range <= 0 or self.layer_norm_epsilon <= 0:
            raise ValueError("MobileBertConfig.initializer_range and layer_norm_epsilon must be "
                             f"positive, got {self.initializer_range!r} and "
                             f"{self.layer_norm_epsilon!r}.")
        if self.norm not in NORMS:
            raise ValueError(f"MobileBertConfig.norm must be one of {NORMS}, got {self.norm!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"MobileBertConfig.activation must be one of {ACTIVATIONS}, "
                             f"got {self.activation!r}.")
        if self.qkv_source not in QKV_SOURCES:
            raise ValueError(f"MobileBertConfig.qkv_source must be one of {QKV_SOURCES}, "
                             f"got {self.qkv_source!r}.")
        if self.intra_size % self.num_heads:
            raise ValueError(f"MobileBertConfig.intra_size ({self.intra_size}) must be divisible "
                             f"by num_heads ({self.num_heads}).")
        if not self.use_bottleneck:
            if self.intra_size != self.hidden_size:
                raise ValueError(f"MobileBertConfig.intra_size ({self.intra_size}) must equal "
                                 f"hidden_size ({self.hidden_size}) when use_bottleneck=False.")
            if self.qkv_source != "block_input":
                raise ValueError("MobileBertConfig.qkv_source must be 'block_input' when "
                                 f"use_bottleneck=False, got {self.qkv_source!r}.")
        if self.embedding_size > self.hidden_size:
            raise ValueError(f"MobileBertConfig.embedding_size ({self.embedding_size}) must not "
                             f"exceed hidden_size ({self.hidden_size}): the MLM head's output "
                             "embedding is [word table | extra columns up to hidden_size].")

    @property
    def head_size(self) -> int:
        return self.intra_size // self.num_heads

    @property
    def has_embedding_projection(self) -> bool:
        """Whether the (3-gram) word embedding is projected to `hidden_size`."""
        return self.use_trigram or self.embedding_size != self.hidden_size

    def replace(self, **changes: Any) -> "MobileBertConfig":
        """A copy with `changes` applied, validated again."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"Unknown MobileBertConfig field(s): {unknown}.")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "MobileBertConfig":
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"Unknown MobileBertConfig field(s): {unknown}.")
        return cls(**values)


_TEACHER = dict(intra_size=1024, intermediate_size=4096, num_ffn=1, qkv_source="block_input",
                norm="layer_norm", activation="gelu", use_pooler=True, hidden_dropout=0.1)
_TINY = dict(num_ffn=2, qkv_source="bottleneck")
# Small shapes that keep the paper's structure (teacher and students share hidden size, depth,
# heads and embedding size, so layer-wise transfer and embedding copy work): the demo and tests.
_MINI = dict(vocab_size=30522, embedding_size=32, hidden_size=128, num_layers=4, num_heads=4,
             max_position=512)

PRESETS: dict[str, MobileBertConfig] = {
    "ib_bert_large": MobileBertConfig(**_TEACHER),
    "mobilebert": MobileBertConfig(),
    "mobilebert_tiny": MobileBertConfig(**_TINY),
    "bert_base": MobileBertConfig(
        embedding_size=768, hidden_size=768, intra_size=768, num_layers=12, num_heads=12,
        intermediate_size=3072, num_ffn=1, qkv_source="block_input", norm="layer_norm",
        activation="gelu", use_trigram=False, use_bottleneck=False, use_pooler=True,
        hidden_dropout=0.1),
    "ib_bert_mini": MobileBertConfig(**{**_MINI, **_TEACHER, "intra_size": 256,
                                        "intermediate_size": 1024}),
    "mobilebert_mini": MobileBertConfig(**_MINI, intra_size=32, intermediate_size=128),
    "mobilebert_tiny_mini": MobileBertConfig(**_MINI, **_TINY, intra_size=32,
                                             intermediate_size=128),
    "bert_mini": MobileBertConfig(
        **{**_MINI, "embedding_size": 128, "num_layers": 2}, intra_size=128,
        intermediate_size=512, num_ffn=1, qkv_source="block_input", norm="layer_norm",
        activation="gelu", use_trigram=False, use_bottleneck=False, use_pooler=True,
        hidden_dropout=0.1),
}


def get_preset(name: str, **overrides: Any) -> MobileBertConfig:
    """The preset config called `name`, with any field overridden (e.g. `num_layers=2`)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; known presets: {sorted(PRESETS)}.")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """`["num_layers=2", "norm=no_norm"]` -> `{"num_layers": 2, "norm": "no_norm"}`, each value
    of its `MobileBertConfig` field's type (the one parser of every `--overrides`).

    Raises:
        ValueError: not `field=value`, an unknown field, or a value of the wrong type.
    """
    types = {f.name: type(f.default) for f in dataclasses.fields(MobileBertConfig)}
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in types:
            raise ValueError(f"Bad override {pair!r}; expected field=value with a "
                             f"MobileBertConfig field ({sorted(types)}).")
        kind = types[key]
        try:
            overrides[key] = _parse_bool(value) if kind is bool else kind(value)
        except ValueError:
            takes = {bool: "true/false/1/0/yes/no", int: "an integer", float: "a number"}.get(
                kind, f"a {kind.__name__}")
            raise ValueError(f"Bad override {pair!r}: {key} takes {takes}.") from None
    return overrides


_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _parse_bool(value: str) -> bool:
    """Exactly true/false/1/0/yes/no (any case): `ture` is an error, not False."""
    try:
        return _BOOLS[value.lower()]
    except KeyError:
        raise ValueError(value) from None
