"""Read a checkpoint's architecture off its variable names and shapes, and say clearly how it
differs from the config it is being loaded into (a BERT-base checkpoint given as MobileBERT,
a different vocabulary, depth or bottleneck size, ...)."""

from __future__ import annotations

import re

from mobilebert_tf.config import MobileBertConfig
from mobilebert_tf.convert.sources import Source


class ArchitectureMismatchError(ValueError):
    """The checkpoint holds a model of another shape than the requested config."""


# Per format: where to look. `{l}` is a layer index; kernels of "hf" are [out, in].
_PROBES = {
    "tf1": dict(
        word=["bert/embeddings/word_embeddings"],
        position="bert/embeddings/position_embeddings",
        token_type="bert/embeddings/token_type_embeddings",
        projection="bert/embeddings/embedding_transformation/kernel",
        layer=r"bert/encoder/layer_(\d+)/",
        bottleneck="bert/encoder/layer_0/bottleneck/input/dense/kernel",
        kq="bert/encoder/layer_0/bottleneck/attention/dense/kernel",
        value="bert/encoder/layer_0/attention/self/value/kernel",
        ffn=r"bert/encoder/layer_0/ffn_layer_(\d+)/",
        ffn_offset=1,  # the last FFN is un-numbered
        intermediate="bert/encoder/layer_0/intermediate/dense/kernel",
        pooler="bert/pooler/dense/kernel"),
    "tfmg": dict(
        word=["encoder/layer_with_weights-0/word_embedding/embeddings",
              "masked_lm/embedding_table"],
        position="encoder/layer_with_weights-0/pos_embedding/embeddings",
        token_type="encoder/layer_with_weights-0/type_embedding/embeddings",
        projection="encoder/layer_with_weights-0/word_embedding_proj/kernel",
        layer=r"encoder/layer_with_weights-(\d+)/block_layers/",
        bottleneck="encoder/layer_with_weights-1/block_layers/bottleneck_input/0/kernel",
        kq="encoder/layer_with_weights-1/block_layers/kq_shared_bottleneck/0/kernel",
        value="encoder/layer_with_weights-1/block_layers/attention/0/_value_dense/kernel",
        ffn=r"encoder/layer_with_weights-1/block_layers/ffn/(\d+)/",
        ffn_offset=0,
        intermediate="encoder/layer_with_weights-1/block_layers/ffn/0/0/kernel",
        pooler="encoder/layer_with_weights-{after}/kernel"),
    "hf": dict(
        word=["mobilebert.embeddings.word_embeddings.weight"],
        position="mobilebert.embeddings.position_embeddings.weight",
        token_type="mobilebert.embeddings.token_type_embeddings.weight",
        projection="mobilebert.embeddings.embedding_transformation.weight",
        layer=r"mobilebert\.encoder\.layer\.(\d+)\.",
        bottleneck="mobilebert.encoder.layer.0.bottleneck.input.dense.weight",
        kq="mobilebert.encoder.layer.0.bottleneck.attention.dense.weight",
        value="mobilebert.encoder.layer.0.attention.self.value.weight",
        ffn=r"mobilebert\.encoder\.layer\.0\.ffn\.(\d+)\.",
        ffn_offset=1,
        intermediate="mobilebert.encoder.layer.0.intermediate.dense.weight",
        pooler="mobilebert.pooler.dense.weight"),
}


def describe(source: Source) -> dict:
    """The `MobileBertConfig` fields the checkpoint reveals (those it does not are absent)."""
    probes, shapes = _PROBES[source.format], source.shapes
    transposed = source.format == "hf"

    def in_out(name):  # (in, out) widths of a dense kernel (2-D, or 3-D einsum), or None
        shape = shapes.get(name)
        if shape is None:
            return None
        return (shape[1], shape[0]) if transposed else (shape[0], _prod(shape[1:]))

    found = {}
    word = next((shapes[n] for n in probes["word"] if n in shapes), None)
    if word is not None:
        found["vocab_size"], found["embedding_size"] = word
    if probes["position"] in shapes:
        found["max_position"], found["hidden_size"] = shapes[probes["position"]]
    if probes["token_type"] in shapes:
        found["type_vocab_size"] = shapes[probes["token_type"]][0]
    layers = {int(m[1]) for n in shapes for m in [re.match(probes["layer"], n)] if m}
    if source.format == "tfmg":
        layers = {i - 1 for i in layers}  # layer_with_weights-0 is the embedding
    if layers:
        found["num_layers"] = max(layers) + 1
    projection = in_out(probes["projection"])
    if projection and "embedding_size" in found:
        found["use_trigram"] = projection[0] == 3 * found["embedding_size"]
    bottleneck = in_out(probes["bottleneck"])
    if layers:
        found["use_bottleneck"] = bottleneck is not None
        if bottleneck is not None:
            found["intra_size"] = bottleneck[1]
        elif "hidden_size" in found:
            found["intra_size"] = found["hidden_size"]
        value = in_out(probes["value"])
        if in_out(probes["kq"]) is not None:
            found["qkv_source"] = "shared_bottleneck"
        elif value is not None and bottleneck is not None and value[0] == bottleneck[1] \
                and value[0] != found.get("hidden_size"):
            found["qkv_source"] = "bottleneck"
        elif value is not None:
            found["qkv_source"] = "block_input"
        ffns = {int(m[1]) for n in shapes for m in [re.match(probes["ffn"], n)] if m}
        found["num_ffn"] = (max(ffns) + 1 if ffns else 0) + probes["ffn_offset"]
        intermediate = in_out(probes["intermediate"])
        if intermediate is not None:
            found["intermediate_size"] = intermediate[1]
        pooler = probes["pooler"].format(after=found["num_layers"] + 1)
        found["use_pooler"] = pooler in shapes
    if source.format == "tf1" and layers:  # the other formats name both norms alike
        encoder_names = [n for n in shapes if n.startswith("bert/")]
        if any("/FakeLayerNorm/" in n for n in encoder_names):
            found["norm"] = "no_norm"
        elif any("/LayerNorm/" in n for n in encoder_names):
            found["norm"] = "layer_norm"
    return found


def _prod(values) -> int:
    result = 1
    for v in values:
        result *= int(v)
    return result


def check_architecture(source: Source, config: MobileBertConfig) -> dict:
    """`describe(source)`, or an `ArchitectureMismatchError` naming every field in which the
    checkpoint differs from `config`."""
    found = describe(source)
    if "num_layers" not in found and "vocab_size" not in found:
        sample = sorted(source.shapes)[:8]
        raise ArchitectureMismatchError(
            f"{source.path} does not look like a {source.format!r} MobileBERT/BERT checkpoint: "
            f"none of its {len(source.shapes)} variables has the expected names (first few: "
            f"{sample}). Is --source_format right?")
    wanted = config.to_dict()
    diffs = {field: (value, wanted[field]) for field, value in found.items()
             if wanted[field] != value}
    if not diffs:
        return found
    lines = [f"  {field}: checkpoint {got!r}, config {want!r}"
             for field, (got, want) in sorted(diffs.items())]
    hint = ""
    if found.get("use_bottleneck") is False and config.use_bottleneck:
        hint = (f"\nThe checkpoint is a plain BERT (no bottlenecks, hidden "
                f"{found.get('hidden_size')}, {found.get('num_layers')} layers"
                f"{', i.e. BERT-base' if found.get('hidden_size') == 768 else ''}), not "
                "MobileBERT; load it with a plain-BERT config (e.g. --preset=bert_base).")
    elif set(diffs) == {"vocab_size"}:
        hint = ("\nOnly the vocabulary differs: pass the vocabulary the checkpoint was "
                "trained with (--config_override=vocab_size=N and its vocab file).")
    raise ArchitectureMismatchError(
        f"{source.path} holds a different architecture than the requested config:\n"
        + "\n".join(lines) + hint)
