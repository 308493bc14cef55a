"""Port weights of tf-models-official's encoders (`MobileBERTEncoder`, `BertEncoderV2`) into a
`MobileBertEncoder`, by name. (TFMG: TensorFlow Model Garden's port, docs/mobilebert.md §0.)

TFMG keeps attention kernels as 3-D einsum kernels (`[in, heads, head_size]` and
`[heads, head_size, out]`); ours are 2-D dense kernels, so those are reshaped. Every other
weight keeps its shape.
"""

from __future__ import annotations

import re

import numpy as np

from mobilebert_tf.encoder import MobileBertEncoder
from mobilebert_tf.weights import named_weights

# (TFMG name pattern, our name template), for TFMG's MobileBERTEncoder.
_MOBILEBERT_RULES = [
    (r"mobile_bert_embedding/word_embedding/embeddings", "embeddings/word_embeddings"),
    (r"mobile_bert_embedding/type_embedding/embeddings", "embeddings/token_type_embeddings"),
    (r"mobile_bert_embedding/position_embedding/embeddings", "embeddings/position_embeddings"),
    (r"mobile_bert_embedding/embedding_projection/(kernel|bias)", r"embeddings/projection/\1"),
    (r"mobile_bert_embedding/embedding_norm/(gamma|beta)", r"embeddings/norm/\1"),
    (r"transformer_layer_(\d+)/attention/(query|key|value)/(kernel|bias)",
     r"layer_\1/attention/\2/\3"),
    (r"transformer_layer_(\d+)/attention/attention_output/(kernel|bias)",
     r"layer_\1/attention/output/\2"),
    (r"transformer_layer_(\d+)/attention/norm/(gamma|beta)", r"layer_\1/attention_norm/\2"),
    (r"transformer_layer_(\d+)/(bottleneck_input|bottleneck_output)/dense/(kernel|bias)",
     r"layer_\1/\2/\3"),
    (r"transformer_layer_(\d+)/(bottleneck_input|bottleneck_output)/norm/(gamma|beta)",
     r"layer_\1/\2_norm/\3"),
    (r"transformer_layer_(\d+)/kq_shared_bottleneck/dense/(kernel|bias)",
     r"layer_\1/kq_bottleneck/\2"),
    (r"transformer_layer_(\d+)/kq_shared_bottleneck/norm/(gamma|beta)",
     r"layer_\1/kq_bottleneck_norm/\2"),
    (r"transformer_layer_(\d+)/ffn_layer_(\d+)/intermediate_dense/(kernel|bias)",
     r"layer_\1/ffn_\2/intermediate/\3"),
    (r"transformer_layer_(\d+)/ffn_layer_(\d+)/output_dense/(kernel|bias)",
     r"layer_\1/ffn_\2/output/\3"),
    (r"transformer_layer_(\d+)/ffn_layer_(\d+)/norm/(gamma|beta)", r"layer_\1/ffn_\2/norm/\3"),
    (r"pooler/(kernel|bias)", r"pooler/dense/\1"),
]

# For TFMG's BertEncoderV2 (plain BERT: one FFN, no bottleneck).
_BERT_RULES = [
    (r"word_embeddings/embeddings", "embeddings/word_embeddings"),
    (r"type_embeddings/embeddings", "embeddings/token_type_embeddings"),
    (r"position_embedding/embeddings", "embeddings/position_embeddings"),
    (r"embeddings/layer_norm/(gamma|beta)", r"embeddings/norm/\1"),
    (r"transformer/layer_(\d+)/self_attention/(query|key|value)/(kernel|bias)",
     r"layer_\1/attention/\2/\3"),
    (r"transformer/layer_(\d+)/self_attention/attention_output/(kernel|bias)",
     r"layer_\1/attention/output/\2"),
    (r"transformer/layer_(\d+)/self_attention_layer_norm/(gamma|beta)",
     r"layer_\1/attention_norm/\2"),
    (r"transformer/layer_(\d+)/(intermediate|output)/(kernel|bias)", r"layer_\1/ffn_0/\2/\3"),
    (r"transformer/layer_(\d+)/output_layer_norm/(gamma|beta)", r"layer_\1/ffn_0/norm/\2"),
    (r"pooler_transform/(kernel|bias)", r"pooler/dense/\1"),
]


def tfmg_name_map(source_names, rules) -> dict[str, str]:
    """`{tfmg_name: our_name}` for every source name a rule matches."""
    mapping = {}
    for source in source_names:
        for pattern, template in rules:
            match = re.fullmatch(pattern, source)
            if match:
                mapping[source] = match.expand(template)
                break
    return mapping


def port_tfmg_encoder(source, target: MobileBertEncoder) -> None:
    """Copy every weight of a built TFMG encoder into `target`, by name.

    Raises:
        ValueError: listing the source weights no rule maps, the target weights nothing fills,
            or a shape that does not match even after the attention reshape.
    """
    rules = _MOBILEBERT_RULES if type(source).__name__ == "MobileBERTEncoder" else _BERT_RULES
    source_weights = named_weights(source)
    mapping = tfmg_name_map(source_weights, rules)
    targets = named_weights(target)
    unused = sorted(set(source_weights) - set(mapping))
    missing = sorted(set(targets) - set(mapping.values()))
    unknown = sorted(set(mapping.values()) - set(targets))
    if unused or missing or unknown:
        raise ValueError(f"Cannot port {source.name} into {target.name}: unmapped source "
                         f"weights {unused}, unfilled target weights {missing}, mapped names "
                         f"absent from the target {unknown}.")
    for source_name, target_name in mapping.items():
        value = source_weights[source_name].numpy()
        variable = targets[target_name]
        if value.size != np.prod(variable.shape) or (
                value.ndim == variable.shape.rank and value.shape != tuple(variable.shape)):
            raise ValueError(f"Shape mismatch porting {source_name} {value.shape} into "
                             f"{target_name} {tuple(variable.shape)}.")
        variable.assign(value.reshape(variable.shape))
