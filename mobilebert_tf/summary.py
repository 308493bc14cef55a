"""Parameter counts of built models and analytic FLOPs of configs.

    python -m mobilebert_tf.summary [--seq_length=128] [--presets=mobilebert,mobilebert_tiny]

prints every preset's built parameter counts next to the paper's, with encoder GFLOPs.
"""

from __future__ import annotations

import tf_keras as keras
from absl import app, flags

from mobilebert_tf.config import PRESETS, MobileBertConfig
from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.models import MobileBertPretrainer
from mobilebert_tf.weights import named_weights

# The paper's parameter figures (table 1 and section 4); BERT-base from the BERT paper.
PAPER_PARAMS = {"ib_bert_large": 293e6, "mobilebert": 25.3e6, "mobilebert_tiny": 15.1e6,
                "bert_base": 110e6}

_GROUPS = (("embeddings/", "embeddings"), ("layer_", "encoder"), ("pooler/", "pooler"),
           ("mlm_head/", "mlm_head"), ("nsp_head/", "nsp_head"))


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """Parameters of a built encoder or task model, grouped: `embeddings`, `encoder` (the
    transformer blocks), `pooler`, `mlm_head`, `nsp_head`, `task_head` (anything else) and
    `total`."""
    counts = {group: 0 for _, group in _GROUPS} | {"task_head": 0}
    for name, variable in named_weights(model).items():
        group = next((g for prefix, g in _GROUPS if name.startswith(prefix)), "task_head")
        counts[group] += int(variable.shape.num_elements())
    counts["total"] = sum(counts.values())
    return counts


def encoder_flops(config: MobileBertConfig, seq_length: int) -> int:
    """Floating-point operations (2 per multiply-add) of the encoder's matrix products for one
    sequence: embedding projection, every dense layer of every block, and the two attention
    matmuls. Norms, activations, softmax and the heads are left out (they are <1%)."""
    macs_per_token = 0
    if config.has_embedding_projection:
        width = 3 * config.embedding_size if config.use_trigram else config.embedding_size
        macs_per_token += width * config.hidden_size
    hidden, intra = config.hidden_size, config.intra_size
    block = 0
    if config.use_bottleneck:
        block += 2 * hidden * intra  # input and output bottlenecks
    qk_width = {"block_input": hidden, "shared_bottleneck": intra, "bottleneck": intra}
    v_width = {"block_input": hidden, "shared_bottleneck": hidden, "bottleneck": intra}
    if config.qkv_source == "shared_bottleneck":
        block += hidden * intra  # the shared Q/K bottleneck
    block += 2 * qk_width[config.qkv_source] * intra + v_width[config.qkv_source] * intra
    block += intra * intra  # attention output
    block += config.num_ffn * 2 * intra * config.intermediate_size
    block += 2 * seq_length * intra  # QK^T and probs @ V, per query token
    macs_per_token += config.num_layers * block
    return 2 * macs_per_token * seq_length


def parameter_table(presets, seq_length: int) -> str:
    """One row per preset: built parameter counts by group, paper figure, GFLOPs."""
    header = ("preset", "embeddings", "encoder", "backbone", "pooler", "MLM head", "NSP head",
              "paper", "GFLOPs")
    rows = []
    for name in presets:
        model = MobileBertPretrainer(build_encoder(name))
        model(model.example_inputs())
        counts = parameter_counts(model)
        paper = PAPER_PARAMS.get(name)
        rows.append((name, f"{counts['embeddings']:,}", f"{counts['encoder']:,}",
                     f"{counts['embeddings'] + counts['encoder']:,}", f"{counts['pooler']:,}",
                     f"{counts['mlm_head']:,}", f"{counts['nsp_head']:,}",
                     f"{paper / 1e6:.1f}M" if paper else "-",
                     f"{encoder_flops(model.encoder.config, seq_length) / 1e9:.2f}"))
        del model
        keras.backend.clear_session()
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = [" | ".join(str(c).rjust(w) for c, w in zip(row, widths)) for row in [header] + rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv):
    del argv
    print(f"Parameters of every preset (built tf_keras models) and encoder GFLOPs at "
          f"seq_length={flags.FLAGS.seq_length}. 'backbone' = embeddings + encoder; the paper's "
          "figures use an unpublished convention, so both are shown.\n")
    print(parameter_table(flags.FLAGS.presets, flags.FLAGS.seq_length))


if __name__ == "__main__":
    flags.DEFINE_integer("seq_length", 128, "Sequence length for the FLOP count.")
    flags.DEFINE_list("presets", list(PRESETS), "Presets to build.")
    app.run(main)
