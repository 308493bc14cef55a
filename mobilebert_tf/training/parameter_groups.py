"""The parameter groups of a `MobileBertPretrainer` that stages address by name."""

from __future__ import annotations

import tf_keras as keras

from mobilebert_tf.models import MobileBertPretrainer


def all_groups(num_layers: int) -> list[str]:
    """"embeddings", "layer_0" ... "layer_{L-1}", "pooler", "mlm_head", "nsp_head"."""
    return (["embeddings"] + [f"layer_{i}" for i in range(num_layers)]
            + ["pooler", "mlm_head", "nsp_head"])


def group_layers(pretrainer: MobileBertPretrainer) -> dict[str, keras.layers.Layer]:
    """`{group: layer}` for every group of `all_groups`."""
    encoder = pretrainer.encoder
    groups = {"embeddings": encoder.embedding}
    groups.update({f"layer_{i}": block for i, block in enumerate(encoder.blocks)})
    groups.update(pooler=encoder.pooler, mlm_head=pretrainer.mlm_head,
                  nsp_head=pretrainer.nsp_head)
    return groups


def parameter_groups(pretrainer: MobileBertPretrainer) -> dict[str, list]:
    """`{group: [trainable variables]}`; every trainable variable is in exactly one group."""
    groups = {name: list(layer.trainable_weights)
              for name, layer in group_layers(pretrainer).items()}
    grouped = {v.ref() for variables in groups.values() for v in variables}
    stray = [v.name for v in pretrainer.trainable_weights if v.ref() not in grouped]
    if stray:
        raise ValueError(f"Trainable weights outside every parameter group: {stray}.")
    return groups
