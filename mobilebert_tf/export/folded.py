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

LayerNorm (teacher, BERT-base) is kept as it is, its ops in one name scope (full int8 runs
them in float); the merges and the logit scale still apply.
The fidelity check compares this graph with the Keras model on every export.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.encoder import MobileBertEncoder
from mobilebert_tf.layers.attention import additive_mask, masked_logits, weighted_values
from mobilebert_tf.layers.embedding import trigram_window
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
    def of(cls, dense: keras.layers.DensePlan) -> "_Affine":
        return cls(dense.kernel.numpy().astype(np.float64), dense.bias.numpy().astype(np.float64))

    @classmethod
    def side_by_side(cls, affines: list["_Affine"]) -> "_Affine":
        """One map computing every one of `affines` (same input), outputs concatenated."""
        return cls(np.concatenate([a.kernel for a in affines], axis=1),
                   np.concatenate([a.bias for a in affines]))

    def rows(self, scale) -> "_Affine":
        """The same map on an input stored divided by `scale`."""
        return self if scale is None else _Affine(self.kernel * scale[:, None], self.bias)

    def then(self, gamma, beta) -> "_Affine":
        """Followed by the element-wise `gamma * y + beta`."""
        return _Affine(self.kernel * gamma, self.bias * gamma + beta)

    def times(self, factor) -> "_Affine":
        return _Affine(self.kernel * factor, self.bias * factor)


def _no_norm(layer):
    """A NoNorm's (gamma, beta) in float64; None for a LayerNorm."""
    if isinstance(layer, NoNorm):
        return layer.gamma.numpy().astype(np.float64), layer.beta.numpy().astype(np.float64)
    return None


def _spread(scale) -> float:
    magnitudes = np.abs(scale)
    return float(magnitudes.max() / max(magnitudes.min(), 1e-30))


# -- the plan: what each part of the graph computes, with its folded constants -------------

@dataclasses.dataclass(frozen=True, eq=False)
class DensePlan:
    """`x @ kernel + bias` on `[tokens, width]`: one FULLY_CONNECTED in TFLite."""
    kernel: tf.Variable
    bias: tf.Variable

    def __call__(self, x):
        return tf.matmul(x, self.kernel) + self.bias


# Name scope of every op of a kept LayerNorm: full int8 runs them in float (`tflite`).
LAYER_NORM_SCOPE = "layer_norm"


@dataclasses.dataclass(frozen=True, eq=False)
class LayerNormPlan:
    """A LayerNorm (teacher, BERT-base), kept as ops: nothing folds through its statistics."""
    gamma: tf.Variable
    beta: tf.Variable
    epsilon: float

    def __call__(self, x):
        with tf.name_scope(LAYER_NORM_SCOPE):
            mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
            return (x - mean) * tf.math.rsqrt(variance + self.epsilon) * self.gamma + self.beta


def _norm(x, layer_norm: LayerNormPlan | None):
    return x if layer_norm is None else layer_norm(x)


@dataclasses.dataclass(frozen=True, eq=False)
class ResidualPlan:
    """`norm(dense(y) + residual)`, then times `scale` where the stream's scale is
    materialized. A NoNorm is folded into `dense` (`norm` None); a LayerNorm stays."""
    dense: DensePlan
    norm: LayerNormPlan | None = None
    scale: tf.Variable | None = None

    def __call__(self, y, residual):
        out = _norm(self.dense(y) + residual, self.norm)
        return out if self.scale is None else out * self.scale


@dataclasses.dataclass(frozen=True, eq=False)
class EmbeddingPlan:
    """`MobileBertEmbedding`'s parts, its norm folded into `position_types` and the scale."""
    words: tf.Variable
    use_trigram: bool
    projection: DensePlan | None
    position_types: tf.Variable  # every (position, type) sum, position-major
    type_vocab_size: int
    layer_norm: LayerNormPlan | None
    scale: tf.Variable | None  # multiplied in: the stream's scale is too wide to carry


@dataclasses.dataclass(frozen=True, eq=False)
class InputReader:
    """A dense layer reading the block input: one slice of `BlockPlan.input_dense`."""
    name: str  # "bottleneck", "shared" (the Q/K bottleneck), "query", "key" or "value"
    layer_norm: LayerNormPlan | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class FeedForwardPlan:
    """One `FeedForward`: `output(activation(intermediate(x)), x)`."""
    intermediate: DensePlan
    activation: str
    output: ResidualPlan


@dataclasses.dataclass(frozen=True, eq=False)
class BlockPlan:
    """One `TransformerBlock`, its NoNorms folded and its dense layers merged."""
    qkv_source: str
    num_heads: int
    head_size: int
    readers: tuple[InputReader, ...]
    input_dense: DensePlan  # every reader's dense layer, side by side
    inner_dense: DensePlan | None  # Q | K (| V) from a bottleneck output; None: from the input
    attention_output: ResidualPlan
    ffns: tuple[FeedForwardPlan, ...]
    bottleneck_output: ResidualPlan | None


@dataclasses.dataclass(frozen=True, eq=False)
class Plan:
    """The whole folded graph, part by part."""
    embedding: EmbeddingPlan
    blocks: tuple[BlockPlan, ...]
    final_scale: tf.Variable | None  # the stream's scale, multiplied in before any output
    pooler: DensePlan | None
    head_kind: str | None  # None, "logits" (on the pooled output) or "span" (every token)
    head: DensePlan | None


# -- folding (numpy, once) -----------------------------------------------------------------

class _Folder:
    """Folds a trained encoder (and head) into a `Plan`, creating its constants by name."""

    def __init__(self, max_scale_spread: float):
        self.max_scale_spread = max_scale_spread
        self.constants: dict[str, tf.Variable] = {}

    def constant(self, name, value) -> tf.Variable:
        self.constants[name] = tf.Variable(np.asarray(value, np.float32), trainable=False,
                                           name=name)
        return self.constants[name]

    def dense(self, name, affine: _Affine) -> DensePlan:
        return DensePlan(self.constant(name + "/kernel", affine.kernel),
                         self.constant(name + "/bias", affine.bias))

    def layer_norm(self, name, layer) -> LayerNormPlan:
        return LayerNormPlan(self.constant(name + "/gamma", layer.gamma.numpy()),
                             self.constant(name + "/beta", layer.beta.numpy()), layer.epsilon)

    def plan(self, encoder: MobileBertEncoder, head) -> Plan:
        embedding, scale = self.embedding(encoder.embedding)
        blocks = []
        for block in encoder.blocks:
            step, scale = self.block(block, scale)
            blocks.append(step)
        final_scale = None if scale is None else self.constant("final_scale", scale)
        # The stream is multiplied by its final scale, so the heads read true values.
        pooler = encoder.pooler.dense
        return Plan(embedding, tuple(blocks), final_scale,
                    None if pooler is None else self.dense("pooler", _Affine.of(pooler)),
                    None if head is None else head[0],
                    None if head is None else self.dense("head", _Affine.of(head[1])))

    def embedding(self, embedding) -> tuple[EmbeddingPlan, np.ndarray | None]:
        """The embedding's plan, and the scale its output is stored divided by."""
        words = self.constant("embeddings/words", embedding.word_embeddings.numpy())
        positions = embedding.position_embeddings.numpy().astype(np.float64)
        types = embedding.token_type_embeddings.numpy().astype(np.float64)
        norm = _no_norm(embedding.norm_layer)
        scale = materialized = layer_norm = None
        if norm is not None:  # stored = pre-norm sum + beta / gamma; true = gamma * stored
            gamma, beta = norm
            positions = positions + beta / gamma
            scale = gamma
            if _spread(scale) > self.max_scale_spread:
                materialized, scale = self.constant("embeddings/scale", scale), None
        else:
            layer_norm = self.layer_norm("embeddings/norm", embedding.norm_layer)
        # One table of every (position, type) sum, read by one GATHER (see `_position_types`).
        position_types = self.constant("embeddings/position_types", (
            positions[:, None] + types[None]).reshape(-1, positions.shape[-1]))
        projection = None if embedding.projection is None else self.dense(
            "embeddings/projection", _Affine.of(embedding.projection))
        return EmbeddingPlan(words, embedding.use_trigram, projection, position_types,
                             len(types), layer_norm, materialized), scale

    def block(self, block, scale) -> tuple[BlockPlan, np.ndarray | None]:
        """Fold one block whose input is stored divided by `scale`; returns its plan and the
        scale of its stored output."""
        name, attention = block.name, block.attention
        readers, input_dense, inner_dense = self.attention_inputs(block, scale)
        # The residual chain inside the block: attention output, then each FFN. Its first
        # residual is the input bottleneck (stored unscaled), or x itself in a plain block.
        attention_output, chain_scale = self.residual(
            f"{name}/attention_output", _Affine.of(attention.output_dense),
            block.attention_norm, None if block.use_bottleneck else scale)
        ffns = []
        for ffn in block.ffns:
            intermediate = self.dense(f"{name}/{ffn.name}/intermediate",
                                      _Affine.of(ffn.intermediate).rows(chain_scale))
            output, chain_scale = self.residual(f"{name}/{ffn.name}/output",
                                                _Affine.of(ffn.output_dense), ffn.norm_layer,
                                                chain_scale)
            ffns.append(FeedForwardPlan(intermediate, ffn.activation, output))
        bottleneck_output = None
        if block.use_bottleneck:
            bottleneck_output, chain_scale = self.residual(
                f"{name}/bottleneck_output",
                _Affine.of(block.bottleneck_output).rows(chain_scale),
                block.bottleneck_output_norm, scale)
        return BlockPlan(block.qkv_source, attention.num_heads, attention.head_size, readers,
                         input_dense, inner_dense, attention_output, tuple(ffns),
                         bottleneck_output), chain_scale

    def attention_inputs(self, block, scale) -> tuple[tuple[InputReader, ...], DensePlan,
                                                      DensePlan | None]:
        """The dense layers reading the block input (stored divided by `scale`) merged into
        one matmul, and Q and K (and V for TINY) from a bottleneck output merged into one."""
        name, attention = block.name, block.attention
        query = _Affine.of(attention.query_dense).times(1.0 / math.sqrt(attention.head_size))
        key, value = _Affine.of(attention.key_dense), _Affine.of(attention.value_dense)
        readers = []  # (InputReader, its affine map)
        if block.use_bottleneck:
            readers.append(self.reader("bottleneck", block.bottleneck_input,
                                       block.bottleneck_input_norm,
                                       f"{name}/bottleneck_input_norm"))
        if block.qkv_source == "shared_bottleneck":
            readers += [self.reader("shared", block.kq_bottleneck, block.kq_bottleneck_norm,
                                    f"{name}/kq_bottleneck_norm"),
                        (InputReader("value"), value)]
        elif block.qkv_source == "block_input":
            readers += [(InputReader(n), a) for n, a in (("query", query), ("key", key),
                                                          ("value", value))]
        input_dense = self.dense(f"{name}/input", _Affine.side_by_side(
            [affine.rows(scale) for _, affine in readers]))
        inner_dense = None
        if block.qkv_source != "block_input":
            inner = [query, key] + ([value] if block.qkv_source == "bottleneck" else [])
            inner_dense = self.dense(f"{name}/qk", _Affine.side_by_side(inner))
        return tuple(reader for reader, _ in readers), input_dense, inner_dense

    def reader(self, name, dense, norm_layer, norm_name) -> tuple[InputReader, _Affine]:
        """A dense layer followed by a norm: NoNorm folds in; LayerNorm stays an op."""
        norm = _no_norm(norm_layer)
        if norm is None:
            return InputReader(name, self.layer_norm(norm_name, norm_layer)), _Affine.of(dense)
        return InputReader(name), _Affine.of(dense).then(*norm)

    def residual(self, name, affine, norm_layer, scale) -> tuple[ResidualPlan, np.ndarray | None]:
        """`norm(affine(y) + residual)` with the residual stored divided by `scale`: its plan
        and the scale of the stored result."""
        norm = _no_norm(norm_layer)
        if norm is None:  # LayerNorm: only after an unscaled residual (LN resets any scale)
            if scale is not None:
                raise ValueError(f"{name}: LayerNorm after a NoNorm-scaled residual.")
            return ResidualPlan(self.dense(name, affine),
                                self.layer_norm(name + "_norm", norm_layer)), None
        gamma, beta = norm
        residual_scale = np.ones_like(gamma) if scale is None else scale
        # true = gamma * (affine(y) + residual_scale * stored) + beta
        #      = gamma * residual_scale * (affine(y) / residual_scale + stored
        #                                  + beta / (gamma * residual_scale))
        folded = self.dense(name, _Affine(affine.kernel / residual_scale,
                                          (affine.bias + beta / gamma) / residual_scale))
        scale = gamma * residual_scale
        if _spread(scale) <= self.max_scale_spread:
            return ResidualPlan(folded), scale
        return ResidualPlan(folded, scale=self.constant(name + "/scale", scale)), None


# -- the graph (TF ops) --------------------------------------------------------------------

class FoldedModel(tf.Module):
    """`serving_outputs`-compatible inference graph of a `MobileBertEncoder`, optionally with
    a dense head on its pooled output (`"logits"`) or on every token (`"span"`).

    Args:
        encoder: The trained encoder.
        head: None, ("logits", dense layer) or ("span", dense layer).
        max_scale_spread: Materialize the residual stream's scale where its channels'
            scales spread wider than this; `math.inf` never does (float graphs need not).

    Attributes:
        plan: The folded `Plan`, part by part.
        constants: Its constants (`tf.Variable`s) by name; tracked, so SavedModels hold them.
    """

    def __init__(self, encoder: MobileBertEncoder, head=None, name="folded",
                 max_scale_spread: float = MAX_SCALE_SPREAD):
        super().__init__(name=name)
        folder = _Folder(max_scale_spread)
        self.plan = folder.plan(encoder, head)
        self.constants = folder.constants

    def __call__(self, inputs):
        ids, mask, types = (inputs[k] for k in ("input_word_ids", "input_mask",
                                                 "input_type_ids"))
        # The batch is fixed; the length may be dynamic (None, a `[batch, -1]` signature):
        # every reshape names all dimensions but the tokens', so it follows the length.
        batch = ids.shape[0]
        float_mask = tf.cast(mask, tf.float32)
        x = self._embed(ids, float_mask, types)
        # A RESHAPE, not `AttentionMask`'s `[:, None, None, :]`: that converts to RESHAPE and a
        # STRIDED_SLICE, one more op in every file (measured, TFLite converter of TF 2.20).
        mask_adder = additive_mask(tf.reshape(float_mask, [batch, 1, 1, -1]))
        for block in self.plan.blocks:
            x = self._block(x, block, mask_adder, batch)
        if self.plan.final_scale is not None:
            x = x * self.plan.final_scale
        return self._outputs(x, batch)

    def _outputs(self, x, batch):
        """The signature's outputs from the last block's `[batch * seq, width]`."""
        plan = self.plan
        sequence = tf.reshape(x, [batch, -1, x.shape[-1]])
        first = tf.reshape(sequence[:, :1], [batch, -1])  # no shrink_axis: int8 XNNPACK takes it
        pooled = first if plan.pooler is None else tf.tanh(plan.pooler(first))
        if plan.head_kind == "logits":
            return {"logits": plan.head(pooled)}
        if plan.head_kind == "span":
            logits = tf.reshape(plan.head(x), [batch, -1, 2])
            return {"start_logits": logits[:, :, 0], "end_logits": logits[:, :, 1]}
        return {"sequence_output": sequence, "pooled_output": pooled}

    def _embed(self, ids, float_mask, types):
        """`MobileBertEmbedding` on `[batch * seq, width]`, stored divided by its scale."""
        embedding = self.plan.embedding
        words = tf.gather(embedding.words, ids)
        if embedding.use_trigram:
            words = trigram_window(words, float_mask)
        x = tf.reshape(words, [-1, words.shape[-1]])
        if embedding.projection is not None:
            x = embedding.projection(x)
        x += tf.reshape(self._position_types(types), [-1, x.shape[-1]])
        x = _norm(x, embedding.layer_norm)
        return x if embedding.scale is None else x * embedding.scale

    def _position_types(self, types):
        """Position plus token-type embeddings of every token, one GATHER at `position *
        type_vocab_size + type`, positions counted by a CUMSUM. TFLite then knows every shape
        before running at a dynamic length too (a slice to a computed length made every later
        op's shape dynamic, re-planned on each call), and the quantized tensor is the same in
        fixed and adaptive files (a constant-folded slice got another int8 scale). Position-
        major, so a text longer than `max_position` fails (GATHER out of range) instead of
        reading another type's rows."""
        positions = tf.cumsum(tf.ones_like(types), axis=1, exclusive=True)
        embedding = self.plan.embedding
        return tf.gather(embedding.position_types,
                         positions * embedding.type_vocab_size + types)

    def _heads(self, x, batch, heads, size, num=None):
        """`[batch * seq, heads * size]` -> `[batch, heads, seq, size]`; with `num`, `x` holds
        `num` such tensors side by side and a list of them is returned."""
        # Not the attention layer's head split: here Q | K (| V) share one TRANSPOSE.
        x = tf.transpose(tf.reshape(x, [batch, -1, (num or 1) * heads, size]), [0, 2, 1, 3])
        return x if num is None else tf.split(x, num, axis=1)

    def _block(self, x, block: BlockPlan, mask_adder, batch):
        heads, size = block.num_heads, block.head_size
        # Every reader is intra_size wide: an even SPLIT (XNNPACK takes it; not SPLIT_V).
        parts = {reader.name: _norm(part, reader.layer_norm) for reader, part in zip(
            block.readers, tf.split(block.input_dense(x), len(block.readers), axis=-1))}
        block_input = parts.get("bottleneck", x)
        # Q, K (and V) from one matmul go into head-major layout with one TRANSPOSE.
        if block.qkv_source == "block_input":
            query, key, value = (self._heads(parts[n], batch, heads, size)
                                 for n in ("query", "key", "value"))
        elif block.qkv_source == "shared_bottleneck":
            query, key = self._heads(block.inner_dense(parts["shared"]), batch, heads, size,
                                     num=2)
            value = self._heads(parts["value"], batch, heads, size)
        else:
            query, key, value = self._heads(block.inner_dense(block_input), batch, heads, size,
                                            num=3)
        hidden = block.attention_output(self._attention(query, key, value, mask_adder),
                                        block_input)
        for ffn in block.ffns:
            hidden = self._ffn(hidden, ffn)
        if block.bottleneck_output is None:
            return hidden
        return block.bottleneck_output(hidden, x)

    def _attention(self, query, key, value, mask_adder):
        """Scaled dot-product attention (the scale is in `query`) of `[batch, heads, seq,
        size]` tensors; returns `[batch * seq, heads * size]`. In full int8 both matmuls are
        int8 and the mask ADD and softmax float (`tflite.FLOAT_OPS_IN_INT8`)."""
        logits = masked_logits(query, key, mask_adder)  # no logit scale: it is in `query`
        context = weighted_values(tf.nn.softmax(logits, axis=-1), value)
        return tf.reshape(context, [-1, query.shape[1] * value.shape[-1]])

    def _ffn(self, hidden, ffn: FeedForwardPlan):
        inner = keras.activations.get(ffn.activation)(ffn.intermediate(hidden))
        return ffn.output(inner, hidden)
