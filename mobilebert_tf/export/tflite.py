"""SavedModel and `.tflite` export of an encoder or task model, in four precisions.

The exported signature is TF-Hub BERT's: `input_word_ids`, `input_mask`, `input_type_ids`,
int32 `[batch_size, seq_length]` (fixed, `[1, seq_length]` by default, as phones run it), or
with `dynamic_length` `[batch_size, -1]`: the runtime resizes the inputs to each example's real
length (up to `seq_length`), so short texts cost less (see `trim_padding`).
Outputs depend on the model: an encoder gives `sequence_output` and `pooled_output`, a
classifier `logits`, a span labeler `start_logits` and `end_logits`.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.encoder import MobileBertEncoder
from mobilebert_tf.export import text_serving  # also registers tensorflow-text's ops
from mobilebert_tf.export.folded import LAYER_NORM_SCOPE, FoldedModel
from mobilebert_tf.layers.attention import MASK_BIAS, MASKED_LOGITS, SCALED_LOGITS
from mobilebert_tf.models import MobileBertClassifier, MobileBertSpanLabeler
from mobilebert_tf.signature import input_spec

PRECISIONS = ("float32", "float16", "dynamic_int8", "int8")

# TFLite op names the int8 conversion (and its tests) match.
SOFTMAX_OP = "SOFTMAX"
ATTENTION_MATMUL_OP = "BATCH_MATMUL"
DEQUANTIZE_OP = "DEQUANTIZE"
GELU_OP = "GELU"
# Full-integer int8 keeps each SOFTMAX and the additive mask in float: XNNPACK delegates no
# int8 SOFTMAX, and a quantized mask (-1e4) would force a scale so coarse that every real logit
# rounds to the same code (docs/mobilebert.md §5). Attention's two BATCH_MATMULs are int8: XNNPACK
# takes an int8 BATCH_MATMUL only when its right-hand operand has zero point 0, which
# `_make_symmetric` arranges. GELU (teacher, BERT-base) stays float as well: XNNPACK takes it
# only in float. So the whole graph is one XNNPACK partition.
FLOAT_OPS_IN_INT8 = (SOFTMAX_OP, GELU_OP)
# Graph ops kept float in int8 by name (named so in `mobilebert_tf.layers.attention`, which
# both the Keras model and `FoldedModel` use): the logit scale and the mask ADD before each
# softmax, and the additive mask itself (`MASK_BIAS`): quantized, its output range [-1e4, 0]
# gets the scale of the MUL after it, so `1 - mask` rounds to 0 and padding is attended to.
FLOAT_NODES_IN_INT8 = (SCALED_LOGITS, MASKED_LOGITS, MASK_BIAS)
# And every op in these name scopes: a LayerNorm's (teacher, BERT-base; `folded.LayerNormPlan`),
# which XNNPACK does not take in int8. A 2-layer `ib_bert_mini` in full int8 ran in 21 XNNPACK
# partitions; with its LayerNorms in float 3, with GELU in float too 1.
FLOAT_SCOPES_IN_INT8 = (LAYER_NORM_SCOPE,)


def serving_outputs(model: keras.Model, inputs: dict, training: bool = False) -> dict:
    """The exported outputs of `model` on `inputs`: see the module docstring."""
    if isinstance(model, MobileBertEncoder):
        outputs = model(inputs, training=training)
        return {"sequence_output": outputs["sequence_output"],
                "pooled_output": outputs["pooled_output"]}
    if isinstance(model, MobileBertClassifier):
        return {"logits": model(inputs, training=training)}
    if isinstance(model, MobileBertSpanLabeler):
        return dict(model(inputs, training=training))
    raise TypeError("Export takes a MobileBertEncoder, MobileBertClassifier or "
                    f"MobileBertSpanLabeler, got {type(model).__name__}.")


def folded_model(model: keras.Model) -> FoldedModel:
    """The inference graph of `model` with norms folded and dense layers merged."""
    if isinstance(model, MobileBertEncoder):
        return FoldedModel(model)
    if isinstance(model, MobileBertClassifier):
        return FoldedModel(model.encoder, ("logits", model.classifier))
    if isinstance(model, MobileBertSpanLabeler):
        return FoldedModel(model.encoder, ("span", model.span_logits))
    raise TypeError("Export takes a MobileBertEncoder, MobileBertClassifier or "
                    f"MobileBertSpanLabeler, got {type(model).__name__}.")


def _signature(model: keras.Model, batch_size: int, seq_length: int,
               dynamic_length: bool = False) -> dict:
    encoder = model if isinstance(model, MobileBertEncoder) else model.encoder
    max_position = encoder.config.max_position
    if not 0 < seq_length <= max_position:
        raise ValueError(f"seq_length {seq_length} is outside 1..{max_position}, the model's "
                         "position table (max_position).")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    return input_spec(batch_size, None if dynamic_length else seq_length)


def save_saved_model(model: keras.Model, export_dir: str, batch_size: int = 1,
                     seq_length: int = 128, fold: bool = True, tokenizer=None,
                     postprocess: Callable[[dict], dict] | None = None,
                     dynamic_length: bool = False) -> str:
    """Write a SavedModel whose `serving_default` has the TF-Hub BERT signature: of the
    folded graph (`FoldedModel`) with `fold`, else of the Keras model as it trains. With
    `tokenizer` (a `BertInputTokenizer` of the model's vocab) a task model also gets the
    text-in signatures of `text_serving`. `postprocess` maps `serving_default`'s output dict
    inside the graph (e.g. logits to probabilities; the text-in signatures read logits). The
    sequence dimension is `seq_length`, or with `dynamic_length` -1 (any length up to the
    model's `max_position`; `seq_length` is still checked against it)."""
    if dynamic_length and not fold:
        raise ValueError("dynamic_length needs the folded graph (fold=True): the Keras graph "
                         "is not checked at dynamic lengths.")
    spec = _signature(model, batch_size, seq_length, dynamic_length)
    module = tf.Module()
    module.graph = folded_model(model) if fold else model  # tracks the variables to save

    @tf.function(input_signature=[spec])
    def serve(inputs):
        return module.graph(inputs) if fold else serving_outputs(model, inputs)

    module.serve = serve
    if postprocess is not None:
        module.serve = tf.function(lambda inputs: postprocess(serve(inputs)),
                                   input_signature=[spec])
    signatures = {"serving_default": module.serve}
    if tokenizer is not None:
        signatures.update(text_serving.text_signatures(module, model, serve, tokenizer,
                                                       seq_length))
    tf.saved_model.save(module, export_dir, signatures=signatures)
    return export_dir


def convert(saved_model_dir: str, precision: str,
            calibration: Callable[[], Iterable[dict]] | None = None) -> bytes:
    """Convert a SavedModel from `save_saved_model` to a `.tflite` flatbuffer.

    Args:
        saved_model_dir: The SavedModel.
        precision: One of `PRECISIONS`: float32; float16 weights; dynamic_int8 (int8 weights,
            one scale per dense layer; activations quantized on the fly); int8 (weights and
            activations, calibrated on `calibration`; softmax, the attention mask, LayerNorm
            and GELU stay float, see `FLOAT_OPS_IN_INT8`).
        calibration: For int8: a callable returning an iterable of input dicts (numpy arrays
            of the signature's shape), e.g. 100 real examples.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; expected one of {PRECISIONS}.")
    # Only the ids signature: text-in signatures (`text_serving`) are not for TFLite.
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                         signature_keys=["serving_default"])
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # One weight scale per dense layer: per-output-channel scales make a hybrid
        # FULLY_CONNECTED of op version 12, which the TFLite Task Library's runtime
        # (tflite-support 0.4.4) refuses (benchmarks/export/dynamic_int8_weights.py).
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    elif precision == "int8":
        if calibration is None:
            raise ValueError("int8 export needs calibration examples.")
        samples = list(calibration())
        if not samples:
            raise ValueError("The int8 calibration set is empty: give at least one example.")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        return _convert_int8(converter, samples)
    content = converter.convert()
    return _dequantize_where_used(content) if precision == "float16" else content


def op_versions(content: bytes) -> dict[str, set[int]]:
    """{TFLite op name: the op versions a `.tflite` uses}: a runtime older than a version
    refuses the file."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    versions = {}
    for code_index, code in enumerate(model.operatorCodes):
        name = flatbuffer_utils.opcode_to_name(model, code_index)
        versions.setdefault(name, set()).add(int(code.version))
    return versions


def _dequantize_where_used(content: bytes) -> bytes:
    """`content` with each DEQUANTIZE of a constant (float16 weights to float32) moved to just
    before its first reader: the same graph in another valid order. The converter puts them
    all first, and the delegate's partitioner then makes them an XNNPACK partition of their own
    ahead of the embeddings' GATHERs, which XNNPACK does not take: two partitions, the second
    fed every weight as a runtime input. Placed where used, the table DEQUANTIZEs run with the
    GATHERs (once: TFLite dequantizes a constant at preparation) and the rest join the one
    partition."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    for graph in model.subgraphs:
        def is_constant(tensor_index):
            buffer = model.buffers[graph.tensors[tensor_index].buffer]
            return buffer.data is not None and len(buffer.data) > 0

        pending = {int(op.outputs[0]): op for op in graph.operators
                   if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) == DEQUANTIZE_OP
                   and is_constant(op.inputs[0])}
        moved = {id(op) for op in pending.values()}
        order = []
        for op in graph.operators:
            if id(op) not in moved:
                order += [pending.pop(int(i)) for i in op.inputs if int(i) in pending]
                order.append(op)
        graph.operators = order + list(pending.values())  # unread ones (none expected) last
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _convert_int8(converter: tf.lite.TFLiteConverter, samples: list[dict],
                  float_ops: Iterable[str] = FLOAT_OPS_IN_INT8,
                  float_scopes: Iterable[str] = FLOAT_SCOPES_IN_INT8) -> bytes:
    """Full-integer conversion with `float_ops`, the `FLOAT_NODES_IN_INT8` ops and the ops in
    `float_scopes` left in float (found by name: the converter's tensor names follow our op
    names). Between calibration and quantization, attention's matmuls get their outputs'
    ranges measured and their right-hand operands made symmetric."""
    from tensorflow.lite.python import convert as lite_convert  # as QuantizationDebugger does
    from tensorflow.lite.tools import flatbuffer_utils

    converter._experimental_calibrate_only = True  # a float model with calibrated ranges
    calibrated = converter.convert()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    matmuls = [op for op in model.subgraphs[0].operators
               if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) == ATTENTION_MATMUL_OP]
    _measure_ranges(model, calibrated, samples, [op.outputs[0] for op in matmuls])
    _make_symmetric(model, [op.inputs[1] for op in matmuls])
    # A tensor named after one of `FLOAT_NODES_IN_INT8`, or inside one of `float_scopes` (TF
    # uniquifies repeated names and scopes with `_<n>`).
    float_node = re.compile(rf"(^|/)({'|'.join(FLOAT_NODES_IN_INT8)})(_\d+)?$"
                            + "".join(rf"|(^|/){scope}(_\d+)?/" for scope in float_scopes))
    float_nodes = [t.name.decode() for t in model.subgraphs[0].tensors
                   if float_node.search(t.name.decode())]
    return lite_convert.mlir_quantize(
        bytes(flatbuffer_utils.convert_object_to_bytearray(model)),
        denylisted_ops=list(float_ops), denylisted_nodes=float_nodes)


# Ops whose int8 output shares its input's scale and zero point (the data input's index).
_SAME_SCALE_OPS = {"RESHAPE": 0, "TRANSPOSE": 0, "SPLIT": 1, "SPLIT_V": 0, "SQUEEZE": 0,
                   "EXPAND_DIMS": 0}


def _calibrated_ranges(model) -> dict[int, object]:
    """Tensor index -> the quantization field (one min and max) the calibrator filled."""
    return {i: t.quantization for i, t in enumerate(model.subgraphs[0].tensors)
            if t.quantization is not None and t.quantization.min is not None
            and len(t.quantization.min) == 1}


def _measure_ranges(model, calibrated: bytes, samples: list[dict], indices: list[int]) -> None:
    """Set the ranges of the tensors at `indices` to the min and max the float model computes
    on `samples`. The calibrator's can be far off: on a tiny encoder it gave the logits before
    the mask ADD [-1e4, 2e-4] (int8 step 39: every logit 0), not the [-8e-5, 2e-4] they span;
    apparently it logs an op's inputs after the op, and this ADD runs in place."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    wanted = set(indices)
    ranges = {i: q for i, q in _calibrated_ranges(model).items() if i in wanted}
    interpreter = Interpreter(
        model_content=calibrated, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    runner = interpreter.get_signature_runner()
    for n, sample in enumerate(samples):
        runner(**{k: np.asarray(v, np.int32) for k, v in sample.items()})
        for i, q in ranges.items():
            value = interpreter.get_tensor(i)
            q.min[0] = value.min() if n == 0 else min(q.min[0], value.min())
            q.max[0] = value.max() if n == 0 else max(q.max[0], value.max())


def _make_symmetric(model, indices: list[int]) -> None:
    """Give the tensors at `indices`, and every tensor that must share an int8 scale with one
    (linked by `_SAME_SCALE_OPS`), the range [-a, a * 127 / 128], `a` the largest magnitude in
    its group: the converter then quantizes them with zero point exactly 0 (-128 - min / scale
    = 0; [-a, a] would give -0.5, rounded to -1), as XNNPACK's int8 BATCH_MATMUL needs of its
    right-hand operand."""
    from tensorflow.lite.tools import flatbuffer_utils

    graph = model.subgraphs[0]
    group = list(range(len(graph.tensors)))  # union-find over tensors sharing one scale

    def root(i):
        while group[i] != i:
            group[i] = i = group[group[i]]
        return i

    for op in graph.operators:
        data_input = _SAME_SCALE_OPS.get(flatbuffer_utils.opcode_to_name(model, op.opcodeIndex))
        if data_input is not None:
            for output in op.outputs:
                group[root(output)] = root(op.inputs[data_input])
    ranges = _calibrated_ranges(model)
    for operand_root in {root(i) for i in indices}:
        shared = [q for i, q in ranges.items() if root(i) == operand_root]
        bound = max(max(-q.min[0], q.max[0]) for q in shared)
        for q in shared:
            q.min[0], q.max[0] = -bound, bound * 127 / 128


def run_tflite(model_content: bytes, examples: Iterable[dict], num_threads: int = 2,
               ) -> list[dict[str, np.ndarray]]:
    """Run a `.tflite` model's `serving_default` on each input dict, with XNNPACK."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=model_content,
                         num_threads=num_threads).get_signature_runner("serving_default")
    return [runner(**{k: np.asarray(v, np.int32) for k, v in example.items()})
            for example in examples]


def trim_padding(example: dict) -> dict:
    """An input dict cut to its real length (the longest row's mask), as an adaptive-length
    (`dynamic_length`) file is run: its outputs at real tokens equal the padded input's."""
    length = max(int(np.asarray(example["input_mask"]).sum(axis=-1).max()), 1)
    return {key: np.asarray(value)[:, :length] for key, value in example.items()}
