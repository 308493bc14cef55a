"""An inference-only graph of a trained encoder (and head) for TFLite, algebraically equal to
the Keras model but with fewer, larger ops:

- every NoNorm (`g * y + b`) is folded into neighbouring dense layers. NoNorms after a
  residual ADD cannot be folded forward into one dense layer, so the residual stream is kept
  divided by a known per-channel scale `c` (the true tensor is `c * stored`): the norm's
  `g` goes into `c`, its `b / (g c)` into the bias of the dense layer before the ADD, and `c`
  into the rows of every dense layer that reads the stream. `c` is materialized (one MUL)
  only where it would stretch the stream's channels too far apart for int8, and at the end;
- dense layers that read the same tensor are one matmul: the input bottleneck, the shared
  Q/K bottleneck and V (all read the block input), then Q and K (both read the bottleneck);
- the `1/sqrt(head_size)` logit scale is folded into the query kernel;
- Q and K (and V where one matmul makes it too) go head-major in one TRANSPOSE, then SPLIT.

LayerNorm (teacher, BERT-base) is kept as it is; the merges and the logit scale still apply.
The fidelity check compares this graph with the Keras model on every export.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.encoder import MobileBertEncoder
from mobilebert_tf.layers.attention import MASK_LOGIT
from mobilebert_tf.layers.no_norm import NoNorm

# Materialize the residual stream's scale when its channels' scales spread wider than this
# (int8 activations share one scale per tensor, so stored channels must stay comparable).
MAX_SCALE_SPREAD = 8.0


@dataclasses.dataclass
class _Affine:
    """`y = x @ kernel + bias`, in float64 while folding."""
    kernel: np.ndarray
    bias: np.ndarray

    @classmethod
    def of(cls, dense: keras.layers.Dense) -> "_Affine":
        kernel, bias = dense.get_weights()
        return cls(kernel.astype(np.float64), bias.astype(np.float64))

    def rows(self, scale) -> "_Affine":
        """The same map on an input stored divided by `scale`."""
        return self if scale is None else _Affine(self.kernel * scale[:, None], self.bias)

    def then(self, gamma, beta) -> "_Affine":
        """Followed by the element-wise `gamma * y + beta`."""
        return _Affine(self.kernel * gamma, self.bias * gamma + beta)

    def times(self, factor) -> "_Affine":
        return _Affine(self.kernel * factor, self.bias * factor)


def _no_norm(layer):
    if isinstance(layer, NoNorm):
        gamma, beta = (w.astype(np.float64) for w in layer.get_weights())
        return gamma, beta
    return None


def _spread(scale) -> float:
    magnitudes = np.abs(scale)
    return float(magnitudes.max() / max(magnitudes.min(), 1e-30))


class FoldedModel(tf.Module):
    """`serving_outputs`-compatible inference graph of a `MobileBertEncoder`, optionally with
    a dense head on its pooled output (`"logits"`) or on every token (`"span"`).

    Args:
        encoder: The trained encoder.
        head: None, ("logits", dense layer) or ("span", dense layer).
        max_scale_spread: Materialize the residual stream's scale where its channels'
            scales spread wider than this; `math.inf` never does (float graphs need not).
    """

    def __init__(self, encoder: MobileBertEncoder, head=None, name="folded",
                 max_scale_spread: float = MAX_SCALE_SPREAD):
        super().__init__(name=name)
        self.config = encoder.config
        self.max_scale_spread = max_scale_spread
        self._head_kind = None if head is None else head[0]
        self._weights = {}
        self._recipe = self._fold(encoder, head)

    # -- folding (numpy, once) -------------------------------------------------------------

    def _constant(self, name, value) -> str:
        self._weights[name] = tf.Variable(np.asarray(value, np.float32), trainable=False,
                                          name=name)
        return name

    def _affine(self, name, affine: _Affine) -> tuple[str, str]:
        return (self._constant(name + "/kernel", affine.kernel),
                self._constant(name + "/bias", affine.bias))

    def _layer_norm(self, name, layer):
        gamma, beta = layer.get_weights()
        return (self._constant(name + "/gamma", gamma), self._constant(name + "/beta", beta),
                layer.epsilon)

    def _fold(self, encoder, head):
        embedding = encoder.embedding
        recipe = {"embedding": {}, "blocks": []}
        emb = recipe["embedding"]
        emb["words"] = self._constant("embeddings/words", embedding.word_embeddings.numpy())
        positions = embedding.position_embeddings.numpy().astype(np.float64)
        types = embedding.token_type_embeddings.numpy().astype(np.float64)
        projection = _Affine.of(embedding.projection) if embedding.projection else None
        norm = _no_norm(embedding.norm_layer)
        scale = None
        emb["scale"] = None
        if norm is not None:  # stored = pre-norm sum + beta / gamma; true = gamma * stored
            gamma, beta = norm
            positions = positions + beta / gamma
            scale = gamma
            if _spread(scale) > self.max_scale_spread:
                emb["scale"], scale = self._constant("embeddings/scale", scale), None
        else:
            emb["layer_norm"] = self._layer_norm("embeddings/norm", embedding.norm_layer)
        # One table of every (position, type) sum, read by one GATHER (see `_position_types`).
        emb["type_vocab_size"] = len(types)
        emb["position_types"] = self._constant("embeddings/position_types", (
            positions[:, None] + types[None]).reshape(-1, positions.shape[-1]))
        emb["projection"] = projection and self._affine("embeddings/projection", projection)

        for block in encoder.blocks:
            step, scale = self._fold_block(block, scale)
            recipe["blocks"].append(step)
        recipe["final_scale"] = None if scale is None else self._constant("final_scale", scale)

        # The stream is multiplied by its final scale, so the heads read true values.
        pooler = encoder.pooler.dense
        recipe["pooler"] = pooler and self._affine("pooler", _Affine.of(pooler))
        if head is not None:
            recipe["head"] = self._affine("head", _Affine.of(head[1]))
        return recipe

    def _fold_block(self, block, scale):
        """Fold one block whose input is stored divided by `scale`; returns (step, scale of
        the stored output)."""
        name = block.name
        step = {"qkv_source": block.qkv_source, "heads": block.num_heads,
                "head_size": block.intra_size // block.num_heads}
        attention = block.attention
        logit_scale = 1.0 / math.sqrt(step["head_size"])
        query = _Affine.of(attention.query_dense).times(logit_scale)
        key, value = _Affine.of(attention.key_dense), _Affine.of(attention.value_dense)

        # Dense layers reading the block input x, merged into one matmul.
        readers = []  # (name, affine, LayerNorm applied after the split or None)
        if block.use_bottleneck:
            readers.append(("bottleneck", *self._norm_into(
                _Affine.of(block.bottleneck_input), block.bottleneck_input_norm,
                f"{name}/bottleneck_input_norm")))
        if block.qkv_source == "shared_bottleneck":
            readers.append(("shared", *self._norm_into(
                _Affine.of(block.kq_bottleneck), block.kq_bottleneck_norm,
                f"{name}/kq_bottleneck_norm")))
            readers.append(("value", value, None))
        elif block.qkv_source == "block_input":
            readers += [("query", query, None), ("key", key, None), ("value", value, None)]
        step["input_readers"] = [(n, norm) for n, _, norm in readers]
        step["input_dense"] = self._affine(f"{name}/input", _Affine(
            np.concatenate([a.rows(scale).kernel for _, a, _ in readers], axis=1),
            np.concatenate([a.bias for _, a, _ in readers])))
        # Q and K (and V for TINY) from a bottleneck output, merged.
        if block.qkv_source != "block_input":
            inner = [query, key] + ([value] if block.qkv_source == "bottleneck" else [])
            step["inner_dense"] = self._affine(f"{name}/qk", _Affine(
                np.concatenate([a.kernel for a in inner], axis=1),
                np.concatenate([a.bias for a in inner])))

        # The residual chain inside the block: attention output, then each FFN. Its first
        # residual is the input bottleneck (stored unscaled), or x itself in a plain block.
        chain_scale = None if block.use_bottleneck else scale
        step["attention_output"], step["attention_norm"], chain_scale, step[
            "attention_scale"] = self._residual(
            f"{name}/attention_output", _Affine.of(attention.output_dense),
            block.attention_norm, chain_scale)
        step["ffns"] = []
        for ffn in block.ffns:
            intermediate = self._affine(f"{name}/{ffn.name}/intermediate",
                                        _Affine.of(ffn.intermediate).rows(chain_scale))
            output, norm, chain_scale, materialize = self._residual(
                f"{name}/{ffn.name}/output", _Affine.of(ffn.output_dense), ffn.norm_layer,
                chain_scale)
            step["ffns"].append({"intermediate": intermediate, "activation": ffn.activation,
                                 "output": output, "norm": norm, "scale": materialize})
        if not block.use_bottleneck:
            return step, chain_scale
        bottleneck = _Affine.of(block.bottleneck_output).rows(chain_scale)
        step["bottleneck_output"], step["output_norm"], scale, step[
            "output_scale"] = self._residual(f"{name}/bottleneck_output", bottleneck,
                                             block.bottleneck_output_norm, scale)
        return step, scale

    def _norm_into(self, affine, norm_layer, name):
        """A dense layer followed by a norm: NoNorm folds in; LayerNorm stays an op."""
        norm = _no_norm(norm_layer)
        if norm is None:
            return affine, self._layer_norm(name, norm_layer)
        return affine.then(*norm), None

    def _residual(self, name, affine, norm_layer, scale):
        """`norm(affine(y) + residual)` with the residual stored divided by `scale`.

        Returns (folded affine, LayerNorm or None, scale of the stored result, the name of a
        scale to multiply the result by right away or None)."""
        norm = _no_norm(norm_layer)
        if norm is None:  # LayerNorm: only after an unscaled residual (LN resets any scale)
            if scale is not None:
                raise ValueError(f"{name}: LayerNorm after a NoNorm-scaled residual.")
            return (self._affine(name, affine), self._layer_norm(name + "_norm", norm_layer),
                    None, None)
        gamma, beta = norm
        residual_scale = np.ones_like(gamma) if scale is None else scale
        # true = gamma * (affine(y) + residual_scale * stored) + beta
        #      = gamma * residual_scale * (affine(y) / residual_scale + stored
        #                                  + beta / (gamma * residual_scale))
        folded = _Affine(affine.kernel / residual_scale,
                         (affine.bias + beta / gamma) / residual_scale)
        scale = gamma * residual_scale
        if _spread(scale) <= self.max_scale_spread:
            return self._affine(name, folded), None, scale, None
        return self._affine(name, folded), None, None, self._constant(name + "/scale", scale)

    # -- the graph (TF ops) ----------------------------------------------------------------

    def _dense(self, x, names):
        kernel, bias = (self._weights[n] for n in names)
        return tf.matmul(x, kernel) + bias

    def _norm(self, x, layer_norm):
        if layer_norm is None:
            return x
        gamma, beta, epsilon = layer_norm
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return ((x - mean) * tf.math.rsqrt(variance + epsilon) * self._weights[gamma]
                + self._weights[beta])

    def __call__(self, inputs):
        ids, mask, types = (inputs[k] for k in ("input_word_ids", "input_mask",
                                                 "input_type_ids"))
        # The batch is fixed; the length may be dynamic (None, a `[batch, -1]` signature):
        # every reshape names all dimensions but the tokens', so it follows the length.
        batch = ids.shape[0]
        emb = self._recipe["embedding"]
        float_mask = tf.cast(mask, tf.float32)
        words = tf.gather(self._weights[emb["words"]], ids)
        if self.config.use_trigram:
            words *= float_mask[:, :, None]
            words = tf.concat([tf.pad(words[:, 1:], [[0, 0], [0, 1], [0, 0]]), words,
                               tf.pad(words[:, :-1], [[0, 0], [1, 0], [0, 0]])], axis=-1)
        x = tf.reshape(words, [-1, words.shape[-1]])
        if emb["projection"]:
            x = self._dense(x, emb["projection"])
        x += tf.reshape(self._position_types(types), [-1, x.shape[-1]])
        x = self._norm(x, emb.get("layer_norm"))
        if emb["scale"] is not None:
            x = x * self._weights[emb["scale"]]
        mask_adder = tf.multiply(tf.subtract(1.0, tf.reshape(float_mask, [batch, 1, 1, -1]),
                                             name="mask_bias"), MASK_LOGIT, name="mask_bias")
        for step in self._recipe["blocks"]:
            x = self._block(x, step, mask_adder, batch)
        if self._recipe["final_scale"] is not None:
            x = x * self._weights[self._recipe["final_scale"]]
        sequence = tf.reshape(x, [batch, -1, x.shape[-1]])
        first = tf.reshape(sequence[:, :1], [batch, -1])  # no shrink_axis: int8 XNNPACK takes it
        pooled = tf.tanh(self._dense(first, self._recipe["pooler"])) if self._recipe[
            "pooler"] else first
        if self._head_kind == "logits":
            return {"logits": self._dense(pooled, self._recipe["head"])}
        if self._head_kind == "span":
            logits = tf.reshape(self._dense(x, self._recipe["head"]), [batch, -1, 2])
            return {"start_logits": logits[:, :, 0], "end_logits": logits[:, :, 1]}
        return {"sequence_output": sequence, "pooled_output": pooled}

    def _position_types(self, types):
        """Position plus token-type embeddings of every token, one GATHER at `position *
        type_vocab_size + type`, positions counted by a CUMSUM. TFLite then knows every shape
        before running at a dynamic length too (a slice to a computed length made every later
        op's shape dynamic, re-planned on each call), and the quantized tensor is the same in
        fixed and adaptive files (a constant-folded slice got another int8 scale). Position-
        major, so a text longer than `max_position` fails (GATHER out of range) instead of
        reading another type's rows."""
        emb = self._recipe["embedding"]
        positions = tf.cumsum(tf.ones_like(types), axis=1, exclusive=True)
        return tf.gather(self._weights[emb["position_types"]],
                         positions * emb["type_vocab_size"] + types)

    def _heads(self, x, batch, heads, size, num=None):
        """`[batch * seq, heads * size]` -> `[batch, heads, seq, size]`; with `num`, `x` holds
        `num` such tensors side by side and a list of them is returned."""
        x = tf.transpose(tf.reshape(x, [batch, -1, (num or 1) * heads, size]), [0, 2, 1, 3])
        return x if num is None else tf.split(x, num, axis=1)

    def _block(self, x, step, mask_adder, batch):
        heads, size = step["heads"], step["head_size"]
        parts = {}
        # Every reader is intra_size wide: an even SPLIT (XNNPACK takes it; not SPLIT_V).
        for (name, layer_norm), part in zip(step["input_readers"], tf.split(
                self._dense(x, step["input_dense"]), len(step["input_readers"]), axis=-1)):
            parts[name] = self._norm(part, layer_norm)
        block_input = parts.get("bottleneck", x)
        # Q, K (and V) from one matmul go into head-major layout with one TRANSPOSE.
        if step["qkv_source"] == "block_input":
            query, key, value = (self._heads(parts[n], batch, heads, size)
                                 for n in ("query", "key", "value"))
        elif step["qkv_source"] == "shared_bottleneck":
            query, key = self._heads(self._dense(parts["shared"], step["inner_dense"]), batch,
                                     heads, size, num=2)
            value = self._heads(parts["value"], batch, heads, size)
        else:
            query, key, value = self._heads(self._dense(block_input, step["inner_dense"]),
                                            batch, heads, size, num=3)
        context = self._attention(query, key, value, mask_adder)
        hidden = self._residual_op(context, block_input, step["attention_output"],
                                   step["attention_norm"], step["attention_scale"])
        for ffn in step["ffns"]:
            hidden = self._ffn(hidden, ffn)
        if "bottleneck_output" not in step:
            return hidden
        return self._residual_op(hidden, x, step["bottleneck_output"], step["output_norm"],
                                 step["output_scale"])

    def _attention(self, query, key, value, mask_adder):
        """Scaled dot-product attention (the scale is in `query`) of `[batch, heads, seq,
        size]` tensors; returns `[batch * seq, heads * size]`. In full int8 both matmuls are
        int8 and the mask ADD and softmax float (`tflite.FLOAT_OPS_IN_INT8`)."""
        logits = tf.matmul(query, key, transpose_b=True)
        probs = tf.nn.softmax(tf.add(logits, mask_adder, name="masked_logits"), axis=-1)
        context = tf.transpose(tf.matmul(probs, value), [0, 2, 1, 3])
        return tf.reshape(context, [-1, query.shape[1] * value.shape[-1]])

    def _ffn(self, hidden, ffn):
        activation = keras.activations.get(ffn["activation"])
        inner = activation(self._dense(hidden, ffn["intermediate"]))
        return self._residual_op(inner, hidden, ffn["output"], ffn["norm"], ffn["scale"])

    def _residual_op(self, y, residual, dense, layer_norm, scale):
        out = self._norm(self._dense(y, dense) + residual, layer_norm)
        return out if scale is None else out * self._weights[scale]
