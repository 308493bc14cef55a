"""Weights by name: the one place that names a model's weights, so that they are copied,
ported, counted and given learning rates by name, never by position."""

from __future__ import annotations

import re

import numpy as np
import tf_keras as keras


def weight_name(variable, root: keras.layers.Layer | None = None) -> str:
    """`variable.name` without `:0` and without a distribution `/replica_N` suffix; with
    `root`, relative to it: the path up to and including `root`'s name is dropped when the
    name holds it (weights created inside a model's own call carry the model's name, as in
    "pretrainer/mlm_head/dense/kernel"; a pre-built encoder's don't)."""
    name = re.sub(r"(/replica_\d+)?:\d+$", "", variable.name)
    parts = name.split("/")
    if root is not None and root.name in parts[:-1]:
        name = "/".join(parts[parts.index(root.name) + 1:])
    return name


def named_weights(layer: keras.layers.Layer) -> dict:
    """`{name: variable}` for every weight of `layer`, names as `weight_name(v, layer)`, so
    the same weight of two models gets the same key ("word_embeddings", "dense/kernel")."""
    named = {}
    for variable in layer.weights:
        name = weight_name(variable, layer)
        if name in named and named[name] is not variable:
            raise ValueError(f"Two weights of {layer.name} share the name {name!r}.")
        named[name] = variable
    return named


def randomize_norms(model: keras.layers.Layer, low: float = 0.5, high: float = 1.5,
                    signed: bool = False, seed: int = 0) -> None:
    """Give every norm a random gamma in [low, high] (random sign with `signed`) and beta.

    Fresh NoNorms are the identity, which the TFLite converter deletes (so untrained models
    time too fast, docs/mobilebert.md §5) and which hides mistakes in any code that moves or
    folds them; trained norms are not the identity.
    """
    rng = np.random.default_rng(seed)
    for w in model.weights:
        leaf = w.name.split("/")[-1]
        if leaf.startswith("gamma"):
            gamma = rng.uniform(low, high, w.shape)
            w.assign(gamma * rng.choice([-1.0, 1.0], w.shape) if signed else gamma)
        elif leaf.startswith("beta"):
            w.assign(rng.normal(0.0, 0.1, w.shape))
