"""The main job (`make demo`): for now, build every preset and print its parameter counts next
to the paper's figures, with encoder FLOPs at `--seq_length`.

    python -m mobilebert_tf.demo [--seq_length=128] [--presets=mobilebert,mobilebert_tiny]

Later stages (corpus -> teacher -> distilled student -> int8 .tflite -> latency) extend this.
"""

from __future__ import annotations

from absl import app, flags
import tf_keras as keras

from mobilebert_tf.config import PRESETS
from mobilebert_tf.encoder import build_encoder
from mobilebert_tf.models import MobileBertPretrainer
from mobilebert_tf.summary import PAPER_PARAMS, encoder_flops, parameter_counts

SEQ_LENGTH = flags.DEFINE_integer("seq_length", 128, "Sequence length for the FLOP count.")
PRESET_NAMES = flags.DEFINE_list("presets", list(PRESETS), "Presets to build.")


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
          f"seq_length={SEQ_LENGTH.value}. 'backbone' = embeddings + encoder; the paper's figures "
          "use an unpublished convention, so both are shown.\n")
    print(parameter_table(PRESET_NAMES.value, SEQ_LENGTH.value))


if __name__ == "__main__":
    app.run(main)
