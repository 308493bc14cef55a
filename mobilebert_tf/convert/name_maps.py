"""Explicit weight-name maps between our models and three foreign checkpoint formats.

Every map is a table of `Entry`s built from a `MobileBertConfig`: one per weight of our
encoder (and, with heads, of `MobileBertPretrainer`'s MLM and NSP heads), each naming the
foreign variable that holds it, how its array is laid out there, and the exact shape to expect.
The same table drives import (foreign -> ours) and export (ours -> foreign).

Formats:
- "tf1":  the authors' TF1 checkpoints (google-research `mobilebert/modeling.py` and
          `run_pretraining.py`): `bert/embeddings/...`, `bert/encoder/layer_N/...`,
          `cls/predictions/...`, `cls/seq_relationship/...`. NoNorm is `FakeLayerNorm`.
          Their FFNs are `ffn_layer_0..F-2` then the un-numbered `intermediate`/`output`, i.e.
          the last FFN; attention kernels are stored 2-D, but 3-D `[in, heads, head]` (BERT's
          einsum variant) is accepted too.
- "tfmg": tf-models-official's object-based TF2 checkpoints of `MobileBERTEncoder` (written
          by `tf.train.Checkpoint(encoder=...)` or `BertPretrainerV2.checkpoint_items`). The
          keys are object paths: the encoder's weighted layers are numbered
          (`layer_with_weights-0` the embedding, `-1..L` the blocks, `-L+1` the pooler) and a
          block's sublayers are list positions (`bottleneck_output/2` is its norm, 1 being
          dropout). Attention kernels are 3-D einsum kernels.
- "hf":   Hugging Face `MobileBertForPreTraining` state-dict names; `nn.Linear` weights are
          `[out, in]` (transposed), NoNorm and LayerNorm both `LayerNorm.{weight,bias}`, and the
          extra output embedding `cls.predictions.dense.weight` is `[hidden - embedding, vocab]`.
"""

from __future__ import annotations

import dataclasses
import re

from mobilebert_tf.config import MobileBertConfig

FORMATS = ("tf1", "tfmg", "hf")

# How a foreign array becomes ours (and back):
COPY = "copy"            # same layout
TRANSPOSE = "transpose"  # 2-D, transposed
RESHAPE = "reshape"      # same values row-major, other shape (einsum head split)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One weight: `target` (our name, as `named_weights` gives it) <- `source`.

    `source_shape` is the shape the source must have; `alt_shapes` are other accepted layouts
    of the same row-major values (TF1 attention kernels, 2-D or 3-D). `aliases` are other
    source names that hold the same tied variable (e.g. Hugging Face's decoder weight is the
    word table).
    """

    target: str
    source: str
    transform: str
    target_shape: tuple
    source_shape: tuple
    alt_shapes: tuple = ()
    aliases: tuple = ()

    @property
    def is_head(self) -> bool:
        return self.target.startswith(("mlm_head/", "nsp_head/"))


def target_shapes(config: MobileBertConfig, with_heads: bool = False) -> dict[str, tuple]:
    """`{our weight name: shape}` of the encoder (and heads) `config` builds, in model order."""
    c = config
    H, B, I, E, V = c.hidden_size, c.intra_size, c.intermediate_size, c.embedding_size, c.vocab_size
    shapes = {
        "embeddings/word_embeddings": (V, E),
        "embeddings/position_embeddings": (c.max_position, H),
        "embeddings/token_type_embeddings": (c.type_vocab_size, H),
    }
    if c.has_embedding_projection:
        shapes["embeddings/projection/kernel"] = (E * (3 if c.use_trigram else 1), H)
        shapes["embeddings/projection/bias"] = (H,)
    shapes["embeddings/norm/gamma"] = shapes["embeddings/norm/beta"] = (H,)
    qk_in = B if c.qkv_source in ("bottleneck", "shared_bottleneck") else H
    v_in = B if c.qkv_source == "bottleneck" else H
    for i in range(c.num_layers):
        p = f"layer_{i}/"
        block = {}
        if c.use_bottleneck:
            block.update({"bottleneck_input/kernel": (H, B), "bottleneck_input/bias": (B,),
                          "bottleneck_input_norm/gamma": (B,), "bottleneck_input_norm/beta": (B,)})
        if c.qkv_source == "shared_bottleneck":
            block.update({"kq_bottleneck/kernel": (H, B), "kq_bottleneck/bias": (B,),
                          "kq_bottleneck_norm/gamma": (B,), "kq_bottleneck_norm/beta": (B,)})
        block.update({
            "attention/query/kernel": (qk_in, B), "attention/query/bias": (B,),
            "attention/key/kernel": (qk_in, B), "attention/key/bias": (B,),
            "attention/value/kernel": (v_in, B), "attention/value/bias": (B,),
            "attention/output/kernel": (B, B), "attention/output/bias": (B,),
            "attention_norm/gamma": (B,), "attention_norm/beta": (B,)})
        for j in range(c.num_ffn):
            f = f"ffn_{j}/"
            block.update({f + "intermediate/kernel": (B, I), f + "intermediate/bias": (I,),
                          f + "output/kernel": (I, B), f + "output/bias": (B,),
                          f + "norm/gamma": (B,), f + "norm/beta": (B,)})
        if c.use_bottleneck:
            block.update({"bottleneck_output/kernel": (B, H), "bottleneck_output/bias": (H,),
                          "bottleneck_output_norm/gamma": (H,),
                          "bottleneck_output_norm/beta": (H,)})
        shapes.update({p + name: shape for name, shape in block.items()})
    if c.use_pooler:
        shapes["pooler/dense/kernel"], shapes["pooler/dense/bias"] = (H, H), (H,)
    if with_heads:
        shapes.update({"mlm_head/dense/kernel": (H, H), "mlm_head/dense/bias": (H,),
                       "mlm_head/layer_norm/gamma": (H,), "mlm_head/layer_norm/beta": (H,)})
        if H > E:
            shapes["mlm_head/extra_output_weights"] = (V, H - E)
        shapes["mlm_head/output_bias"] = (V,)
        shapes["nsp_head/kernel"], shapes["nsp_head/bias"] = (H, 2), (2,)
    return shapes


def _heads_split(config: MobileBertConfig, name: str, shape: tuple) -> tuple | None:
    """The einsum layout of an attention projection: `[in, heads, head]` kernels and
    `[heads, head]` biases for query/key/value, `[heads, head, out]` for the output kernel."""
    n, h = config.num_heads, config.head_size
    if re.search(r"attention/(query|key|value)/kernel$", name):
        return (shape[0], n, h)
    if re.search(r"attention/(query|key|value)/bias$", name):
        return (n, h)
    if name.endswith("attention/output/kernel"):
        return (n, h, shape[1])
    return None


# ------------------------------------------------------------------------------------ tf1
def _tf1_name(config: MobileBertConfig, name: str) -> tuple[str, str]:
    norm = "FakeLayerNorm" if config.norm == "no_norm" else "LayerNorm"
    last_ffn = config.num_ffn - 1
    fixed = {
        "embeddings/word_embeddings": "bert/embeddings/word_embeddings",
        "embeddings/position_embeddings": "bert/embeddings/position_embeddings",
        "embeddings/token_type_embeddings": "bert/embeddings/token_type_embeddings",
        "mlm_head/dense/kernel": "cls/predictions/transform/dense/kernel",
        "mlm_head/dense/bias": "cls/predictions/transform/dense/bias",
        "mlm_head/layer_norm/gamma": "cls/predictions/transform/LayerNorm/gamma",
        "mlm_head/layer_norm/beta": "cls/predictions/transform/LayerNorm/beta",
        "mlm_head/extra_output_weights": "cls/predictions/extra_output_weights",
        "mlm_head/output_bias": "cls/predictions/output_bias",
        "nsp_head/bias": "cls/seq_relationship/output_bias",
        "pooler/dense/kernel": "bert/pooler/dense/kernel",
        "pooler/dense/bias": "bert/pooler/dense/bias",
    }
    if name in fixed:
        return fixed[name], COPY
    if name == "nsp_head/kernel":  # stored [2, hidden] and multiplied transposed
        return "cls/seq_relationship/output_weights", TRANSPOSE
    match = re.fullmatch(r"embeddings/(projection|norm)/(\w+)", name)
    if match:
        scope = "embedding_transformation" if match[1] == "projection" else norm
        return f"bert/embeddings/{scope}/{match[2]}", COPY
    layer, rest = re.fullmatch(r"layer_(\d+)/(.+)", name).groups()
    var = rest.rsplit("/", 1)[1]
    scopes = {
        "bottleneck_input": "bottleneck/input/dense", "bottleneck_input_norm":
        f"bottleneck/input/{norm}", "kq_bottleneck": "bottleneck/attention/dense",
        "kq_bottleneck_norm": f"bottleneck/attention/{norm}",
        "attention/query": "attention/self/query", "attention/key": "attention/self/key",
        "attention/value": "attention/self/value", "attention/output": "attention/output/dense",
        "attention_norm": f"attention/output/{norm}",
        "bottleneck_output": "output/bottleneck/dense",
        "bottleneck_output_norm": f"output/bottleneck/{norm}",
    }
    scope = rest.rsplit("/", 1)[0]
    if scope not in scopes:
        ffn, part = re.fullmatch(r"ffn_(\d+)/(\w+)", scope).groups()
        prefix = "" if int(ffn) == last_ffn else f"ffn_layer_{ffn}/"
        part = {"intermediate": "intermediate/dense", "output": "output/dense",
                "norm": f"output/{norm}"}[part]
        return f"bert/encoder/layer_{layer}/{prefix}{part}/{var}", COPY
    return f"bert/encoder/layer_{layer}/{scopes[scope]}/{var}", COPY


# ----------------------------------------------------------------------------------- tfmg
_TFMG_VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"


def _tfmg_name(config: MobileBertConfig, name: str) -> tuple[str, str]:
    enc = "encoder/layer_with_weights-"
    fixed = {
        "embeddings/word_embeddings": f"{enc}0/word_embedding/embeddings",
        "embeddings/position_embeddings": f"{enc}0/pos_embedding/embeddings",
        "embeddings/token_type_embeddings": f"{enc}0/type_embedding/embeddings",
        "embeddings/projection/kernel": f"{enc}0/word_embedding_proj/kernel",
        "embeddings/projection/bias": f"{enc}0/word_embedding_proj/bias",
        "embeddings/norm/gamma": f"{enc}0/layer_norm/gamma",
        "embeddings/norm/beta": f"{enc}0/layer_norm/beta",
        "pooler/dense/kernel": f"{enc}{config.num_layers + 1}/kernel",
        "pooler/dense/bias": f"{enc}{config.num_layers + 1}/bias",
        "mlm_head/dense/kernel": "masked_lm/dense/kernel",
        "mlm_head/dense/bias": "masked_lm/dense/bias",
        "mlm_head/layer_norm/gamma": "masked_lm/layer_norm/gamma",
        "mlm_head/layer_norm/beta": "masked_lm/layer_norm/beta",
        "mlm_head/extra_output_weights": "masked_lm/extra_output_weights",
        "mlm_head/output_bias": "masked_lm/output_bias.Sbias",
        # BertPretrainerV2 has no NSP head; these names never occur and are reported missing.
        "nsp_head/kernel": "next_sentence/kernel", "nsp_head/bias": "next_sentence/bias",
    }
    if name in fixed:
        return fixed[name], COPY
    layer, scope, var = re.fullmatch(r"layer_(\d+)/(.+)/(\w+)", name).groups()
    scopes = {
        "bottleneck_input": "bottleneck_input/0", "bottleneck_input_norm": "bottleneck_input/1",
        "kq_bottleneck": "kq_shared_bottleneck/0", "kq_bottleneck_norm": "kq_shared_bottleneck/1",
        "attention/query": "attention/0/_query_dense", "attention/key": "attention/0/_key_dense",
        "attention/value": "attention/0/_value_dense",
        "attention/output": "attention/0/_output_dense", "attention_norm": "attention/1",
        "bottleneck_output": "bottleneck_output/0", "bottleneck_output_norm":
        "bottleneck_output/2",
    }
    if scope in scopes:
        path = scopes[scope]
    else:
        ffn, part = re.fullmatch(r"ffn_(\d+)/(\w+)", scope).groups()
        path = f"ffn/{ffn}/" + {"intermediate": "0", "output": "1", "norm": "2"}[part]
    transform = RESHAPE if scope.startswith("attention/") and not (
        scope == "attention/output" and var == "bias") else COPY
    return f"{enc}{int(layer) + 1}/block_layers/{path}/{var}", transform


# ------------------------------------------------------------------------------------- hf
def _hf_name(config: MobileBertConfig, name: str) -> tuple[str, str]:
    last_ffn = config.num_ffn - 1
    fixed = {
        "embeddings/word_embeddings": ("mobilebert.embeddings.word_embeddings.weight", COPY),
        "embeddings/position_embeddings":
            ("mobilebert.embeddings.position_embeddings.weight", COPY),
        "embeddings/token_type_embeddings":
            ("mobilebert.embeddings.token_type_embeddings.weight", COPY),
        "mlm_head/extra_output_weights": ("cls.predictions.dense.weight", TRANSPOSE),
        "mlm_head/output_bias": ("cls.predictions.bias", COPY),
        "nsp_head/kernel": ("cls.seq_relationship.weight", TRANSPOSE),
        "nsp_head/bias": ("cls.seq_relationship.bias", COPY),
    }
    if name in fixed:
        return fixed[name]
    scope, var = name.rsplit("/", 1)
    hf_var = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}[var]
    transform = TRANSPOSE if var == "kernel" else COPY
    scopes = {
        "embeddings/projection": "mobilebert.embeddings.embedding_transformation",
        "embeddings/norm": "mobilebert.embeddings.LayerNorm",
        "pooler/dense": "mobilebert.pooler.dense",
        "mlm_head/dense": "cls.predictions.transform.dense",
        "mlm_head/layer_norm": "cls.predictions.transform.LayerNorm",
    }
    if scope in scopes:
        return f"{scopes[scope]}.{hf_var}", transform
    layer, rest = re.fullmatch(r"layer_(\d+)/(.+)", scope).groups()
    block = {
        "bottleneck_input": "bottleneck.input.dense",
        "bottleneck_input_norm": "bottleneck.input.LayerNorm",
        "kq_bottleneck": "bottleneck.attention.dense",
        "kq_bottleneck_norm": "bottleneck.attention.LayerNorm",
        "attention/query": "attention.self.query", "attention/key": "attention.self.key",
        "attention/value": "attention.self.value", "attention/output": "attention.output.dense",
        "attention_norm": "attention.output.LayerNorm",
        "bottleneck_output": "output.bottleneck.dense",
        "bottleneck_output_norm": "output.bottleneck.LayerNorm",
    }
    if rest in block:
        path = block[rest]
    else:
        ffn, part = re.fullmatch(r"ffn_(\d+)/(\w+)", rest).groups()
        if int(ffn) == last_ffn:  # the last FFN is the layer's own intermediate/output
            path = {"intermediate": "intermediate.dense", "output": "output.dense",
                    "norm": "output.LayerNorm"}[part]
        else:
            path = f"ffn.{ffn}." + {"intermediate": "intermediate.dense",
                                    "output": "output.dense", "norm": "output.LayerNorm"}[part]
    return f"mobilebert.encoder.layer.{layer}.{path}.{hf_var}", transform


_NAMERS = {"tf1": _tf1_name, "tfmg": _tfmg_name, "hf": _hf_name}


def name_map(source_format: str, config: MobileBertConfig,
             with_heads: bool = False) -> list[Entry]:
    """The explicit table for `source_format`, one `Entry` per weight of our model."""
    if source_format not in FORMATS:
        raise ValueError(f"Unknown checkpoint format {source_format!r}; known: {FORMATS}.")
    if source_format == "tfmg" and not config.use_bottleneck:
        raise ValueError("tf-models-official's MobileBERTEncoder always has bottlenecks; a "
                         "plain BERT config (use_bottleneck=False) has no tfmg name map.")
    entries = []
    for target, shape in target_shapes(config, with_heads).items():
        source, transform = _NAMERS[source_format](config, target)
        split = _heads_split(config, target, shape)
        alt_shapes, aliases = (), ()
        if transform == TRANSPOSE:
            source_shape = shape[::-1]
        elif transform == RESHAPE:
            source_shape = split
        else:
            source_shape = shape
            if source_format == "tf1" and split is not None and len(split) == 3:
                alt_shapes = (split,)  # BERT's einsum checkpoints keep 3-D kernels
        if source_format == "hf" and target == "embeddings/word_embeddings":
            aliases = ("cls.predictions.decoder.weight",)
        if source_format == "hf" and target == "mlm_head/output_bias":
            aliases = ("cls.predictions.decoder.bias",)
        if source_format == "tfmg" and target == "embeddings/word_embeddings":
            # Object checkpoints store a shared variable once, under the path met first; the
            # masked LM's `embedding_table` is the encoder's word table.
            aliases = ("masked_lm/embedding_table",)
        entries.append(Entry(target, source, transform, tuple(shape), tuple(source_shape),
                             alt_shapes, aliases))
    return entries


def tfmg_key(name: str) -> str:
    """The checkpoint key of a tfmg object path (`.../.ATTRIBUTES/VARIABLE_VALUE`)."""
    return name + _TFMG_VALUE


def tfmg_path(key: str) -> str:
    """Inverse of `tfmg_key`; other keys pass through unchanged."""
    return key[:-len(_TFMG_VALUE)] if key.endswith(_TFMG_VALUE) else key
