"""Fixtures: an independent numpy forward pass of MobileBERT written against Hugging Face state-dict
names (the data flow of transformers' `modeling_mobilebert.py`, `nn.Linear` weights
`[out, in]`), and Hugging Face's own TF1 -> PyTorch renaming rules. Neither uses our name
maps, so a round trip through a wrong map cannot pass unnoticed."""

import re

import numpy as np
import pytest
from scipy.special import erf


def _linear(sd, prefix, x):
    return x @ sd[prefix + ".weight"].T + sd[prefix + ".bias"]


def _norm(sd, prefix, x, kind):
    if kind == "no_norm":
        return x * sd[prefix + ".weight"] + sd[prefix + ".bias"]
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * sd[prefix + ".weight"] + sd[prefix + ".bias"]


def _act(x, kind):
    return np.maximum(x, 0.0) if kind == "relu" else 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def hf_forward(sd, config, ids, types, mask, positions):
    """`(sequence_output, pooled_output, mlm_logits at positions, nsp_logits)` in float64."""
    sd = {k: np.asarray(v, np.float64) for k, v in sd.items()}
    c, m = config, "mobilebert."
    e = sd[m + "embeddings.word_embeddings.weight"][ids]
    if c.use_trigram:
        zero = np.zeros_like(e[:, :1])
        e = np.concatenate([np.concatenate([e[:, 1:], zero], 1), e,
                            np.concatenate([zero, e[:, :-1]], 1)], -1)
    if c.has_embedding_projection:
        e = _linear(sd, m + "embeddings.embedding_transformation", e)
    seq = ids.shape[1]
    h = (e + sd[m + "embeddings.position_embeddings.weight"][:seq]
         + sd[m + "embeddings.token_type_embeddings.weight"][types])
    h = _norm(sd, m + "embeddings.LayerNorm", h, c.norm)
    adder = (1.0 - mask[:, None, None, :]) * -1e9
    for i in range(c.num_layers):
        p = f"{m}encoder.layer.{i}."
        x = h
        if c.use_bottleneck:
            layer_input = _norm(sd, p + "bottleneck.input.LayerNorm",
                                _linear(sd, p + "bottleneck.input.dense", x), c.norm)
            if c.qkv_source == "bottleneck":
                q = k = v = layer_input
            elif c.qkv_source == "shared_bottleneck":
                q = k = _norm(sd, p + "bottleneck.attention.LayerNorm",
                              _linear(sd, p + "bottleneck.attention.dense", x), c.norm)
                v = x
            else:
                q = k = v = x
        else:
            layer_input = q = k = v = x

        def heads(t):
            b, s, _ = t.shape
            return t.reshape(b, s, c.num_heads, c.head_size).transpose(0, 2, 1, 3)

        qh, kh, vh = (heads(_linear(sd, p + f"attention.self.{n}", t))
                      for n, t in (("query", q), ("key", k), ("value", v)))
        scores = qh @ kh.transpose(0, 1, 3, 2) / np.sqrt(c.head_size) + adder
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ vh).transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[1], -1)
        a = _norm(sd, p + "attention.output.LayerNorm",
                  _linear(sd, p + "attention.output.dense", ctx) + layer_input, c.norm)
        for j in range(c.num_ffn - 1):
            f = p + f"ffn.{j}."
            inner = _act(_linear(sd, f + "intermediate.dense", a), c.activation)
            a = _norm(sd, f + "output.LayerNorm", _linear(sd, f + "output.dense", inner) + a,
                      c.norm)
        inner = _act(_linear(sd, p + "intermediate.dense", a), c.activation)
        out = _norm(sd, p + "output.LayerNorm", _linear(sd, p + "output.dense", inner) + a,
                    c.norm)
        if c.use_bottleneck:
            out = _norm(sd, p + "output.bottleneck.LayerNorm",
                        _linear(sd, p + "output.bottleneck.dense", out) + x, c.norm)
        h = out
    pooled = (np.tanh(_linear(sd, m + "pooler.dense", h[:, 0])) if c.use_pooler else h[:, 0])
    t = h[np.arange(h.shape[0])[:, None], positions]
    t = _norm(sd, "cls.predictions.transform.LayerNorm",
              _act(_linear(sd, "cls.predictions.transform.dense", t), c.activation), "layer_norm")
    output_embedding = sd[m + "embeddings.word_embeddings.weight"].T
    if "cls.predictions.dense.weight" in sd:
        output_embedding = np.concatenate([output_embedding, sd["cls.predictions.dense.weight"]])
    mlm = t @ output_embedding + sd["cls.predictions.bias"]
    nsp = _linear(sd, "cls.seq_relationship", pooled)
    return h, pooled, mlm, nsp


def tf1_to_hf(arrays):
    """The authors' TF1 variables renamed and laid out as Hugging Face's
    `load_tf_weights_in_mobilebert` does (ffn_layer -> ffn, FakeLayerNorm -> LayerNorm,
    extra_output_weights -> dense kernel, kernels transposed, bert -> mobilebert)."""
    out = {}
    for name, value in arrays.items():
        name = (name.replace("ffn_layer_", "ffn/").replace("FakeLayerNorm", "LayerNorm")
                .replace("extra_output_weights", "dense/kernel"))
        name = re.sub(r"^bert/", "mobilebert/", name)
        name = re.sub(r"layer_(\d+)", r"layer/\1", name)
        *scope, last = name.split("/")
        if last == "kernel":
            assert value.ndim == 2, f"{name}: Hugging Face's converter takes 2-D kernels only"
            value, last = value.T, "weight"
        elif last in ("gamma", "output_weights"):
            last = "weight"
        elif last in ("beta", "output_bias"):
            last = "bias"
        elif last.endswith("_embeddings"):
            scope, last = scope + [last], "weight"
        out[".".join(scope + [last])] = np.ascontiguousarray(value)
    return out


@pytest.fixture
def reference_forward():
    return hf_forward


@pytest.fixture
def hf_renaming():
    return tf1_to_hf
