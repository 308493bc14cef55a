"""Weights by name: the one way this project copies weights between models."""

from __future__ import annotations

import tf_keras as keras


def weight_name(variable, root: keras.layers.Layer | None = None) -> str:
    """`variable.name` without `:0`, and without `root`'s name prefix when it has one
    (weights created inside a model's own call carry it; a pre-built encoder's don't)."""
    name = variable.name.rsplit(":", 1)[0]
    if root is not None and name.startswith(root.name + "/"):
        name = name[len(root.name) + 1:]
    return name


def named_weights(model: keras.layers.Layer) -> dict:
    """`{name: variable}` for every weight of `model`, names as `weight_name(v, model)`."""
    named = {}
    for variable in model.weights:
        name = weight_name(variable, model)
        if name in named and named[name] is not variable:
            raise ValueError(f"Two weights of {model.name} share the name {name!r}.")
        named[name] = variable
    return named
