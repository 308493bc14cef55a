"""Training runs inside a larger job (the demo, the ablation): a config run in process with its
`mobilebert-train` command printed, and a trained pretrainer measured on held-out records."""

from __future__ import annotations

from mobilebert_tf import fileio
from mobilebert_tf.run.configs import DistillConfig, PretrainConfig


def run_training(config, hooks=None):
    """`pretrain`, `distill` or `finetune` of `config` (a `PretrainConfig`, `DistillConfig` or
    `FinetuneConfig`), in process: prints the equivalent `mobilebert-train` command, shows a
    progress bar, logs to `<model_dir>/train.log`. Resumes from `config.model_dir`; returns
    what the run function returns. `hooks`: `run.pretraining.Hooks` (pretrain and distill)."""
    import tf_keras as keras

    from mobilebert_tf import run
    from mobilebert_tf.run.command_line import command_line

    train = {run.PretrainConfig: run.pretrain, run.DistillConfig: run.distill,
             run.FinetuneConfig: run.finetune}[type(config)]
    print("$ " + command_line(config), flush=True)
    keras.backend.clear_session()  # each run starts from a fresh Keras state
    with run.log_to_file(config.model_dir):
        result = train(config, hooks=hooks) if hooks else train(config)
    keras.backend.clear_session()
    return result


def evaluate_pretrainer(config: PretrainConfig | DistillConfig, heldout_files: str) -> dict:
    """`mlm_accuracy` and `attention_kl` (per layer, KL from uniform attention), both on the
    records `heldout_files`, and `params` (grouped counts) of the pretrainer `config` trained
    (its model at `config.model_dir`)."""
    import tf_keras as keras

    from mobilebert_tf.distillation.diagnostics import attention_kl_from_uniform
    from mobilebert_tf.summary import parameter_counts
    from mobilebert_tf.training.evaluation import mlm_accuracy

    model = load_pretrainer(config)
    dataset = heldout_dataset(heldout_files, config)
    result = {"mlm_accuracy": mlm_accuracy(model, dataset),
              "attention_kl": attention_kl_from_uniform(model.encoder, dataset, max_batches=8),
              "params": parameter_counts(model)}
    del model
    keras.backend.clear_session()
    return result


def word_order_probe(config: PretrainConfig | DistillConfig, inputs: dict) -> float:
    """`training.evaluation.order_probe_accuracy` of the pretrainer `config` trained, on
    `inputs` (`data.word_order.order_probe_inputs`)."""
    import tf_keras as keras

    from mobilebert_tf.training.evaluation import order_probe_accuracy

    model = load_pretrainer(config)
    accuracy = order_probe_accuracy(model, inputs)
    del model
    keras.backend.clear_session()
    return accuracy


def load_pretrainer(config: PretrainConfig | DistillConfig):
    """The `MobileBertPretrainer` of `config` with its trained weights (`config.model_dir`)."""
    from mobilebert_tf.encoder import build_encoder
    from mobilebert_tf.models import MobileBertPretrainer
    from mobilebert_tf.training.loop import restore_model

    model = MobileBertPretrainer(build_encoder(config.model_config()))
    model(model.example_inputs())
    restore_model(model, config.model_dir)
    return model


def heldout_dataset(heldout_files: str, config: PretrainConfig | DistillConfig):
    """The records `heldout_files` in batches of 64, once, in file order, shaped as `config`'s
    training records."""
    from mobilebert_tf.data.pretraining_dataset import pretraining_dataset

    return pretraining_dataset(heldout_files, config.seq_length, config.max_predictions, 64,
                               shuffle=False, repeat=False)


def per_layer(values: list[float]) -> str:
    """Per-layer values as `0.02 / 0.31 / ...`."""
    return " / ".join(f"{v:.2f}" for v in values)


def train_pretrainer(name: str, config: PretrainConfig | DistillConfig,
                     heldout_files: str, hooks=None) -> dict:
    """`run_training(config, hooks)`, then `evaluate_pretrainer` on `heldout_files`, printed
    after `name`; returns the evaluation and `checkpoint` (the model directory)."""
    run_training(config, hooks)
    result = evaluate_pretrainer(config, heldout_files)
    print(f"{name} held-out MLM accuracy {result['mlm_accuracy']:.4f}, attention KL from "
          f"uniform per layer {per_layer(result['attention_kl'])}")
    return {"checkpoint": config.model_dir, **result}


STAGE_ENDS_FILE = "stage_ends.jsonl"


def stage_end_diagnostics(config: DistillConfig, heldout_files: str,
                          max_batches: int | None = None):
    """`run.distill` hooks that measure, at the end of every stage, where the student stands
    against its teacher on the held-out records (`diagnostics.TransferProbe`: the student's
    MLM accuracy and attention KL from uniform, per layer FMT and AT); each row kept in
    `<model_dir>/stage_ends.jsonl` (a resumed run keeps what was measured before it stopped).
    Read them with `read_stage_ends`."""
    import json

    import tensorflow as tf

    from mobilebert_tf.distillation.diagnostics import TransferProbe
    from mobilebert_tf.training.loop import AtStageEnds
    from mobilebert_tf.training.stage import stage_ends

    def hooks(trainer):
        ends = stage_ends(trainer.stages)
        done = {row["step"] for row in read_stage_ends(config.model_dir)}
        probe = TransferProbe(trainer.teacher, trainer.student, trainer.layer_mapping)

        def measure(step: int) -> None:
            if step in done:
                return
            row = {"step": step, "stage": trainer.stages[ends.index(step)].name,
                   **probe(heldout_dataset(heldout_files, config), max_batches)}
            # Rewritten whole, not appended: bucket filesystems cannot append.
            rows = read_stage_ends(config.model_dir) + [row]
            fileio.write_text(tf.io.gfile.join(config.model_dir, STAGE_ENDS_FILE),
                              "".join(json.dumps(r) + "\n" for r in rows))

        return [AtStageEnds(measure)]

    return hooks


def read_stage_ends(model_dir: str) -> list[dict]:
    """What `stage_end_diagnostics` measured in `model_dir`, by step (none: [])."""
    import json

    import tensorflow as tf

    path = tf.io.gfile.join(model_dir, STAGE_ENDS_FILE)
    if not tf.io.gfile.exists(path):
        return []
    lines = filter(None, fileio.read_text(path).splitlines())
    rows = {row["step"]: row for row in map(json.loads, lines)}
    return [rows[step] for step in sorted(rows)]
