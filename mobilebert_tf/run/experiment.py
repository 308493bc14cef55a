"""Training runs inside a larger job (the demo, the ablation): a config run in process with its
`mobilebert-train` command printed, and a trained pretrainer measured on held-out records."""

from __future__ import annotations

from mobilebert_tf.run.configs import DistillConfig, PretrainConfig


def run_training(config):
    """`pretrain`, `distill` or `finetune` of `config` (a `PretrainConfig`, `DistillConfig` or
    `FinetuneConfig`), in process: prints the equivalent `mobilebert-train` command, shows a
    progress bar, logs to `<model_dir>/train.log`. Resumes from `config.model_dir`; returns
    what the run function returns."""
    import tf_keras as keras

    from mobilebert_tf import run
    from mobilebert_tf.run.command_line import command_line

    train = {run.PretrainConfig: run.pretrain, run.DistillConfig: run.distill,
             run.FinetuneConfig: run.finetune}[type(config)]
    print("$ " + command_line(config), flush=True)
    keras.backend.clear_session()  # each run starts from a fresh Keras state
    with run.log_to_file(config.model_dir):
        result = train(config)
    keras.backend.clear_session()
    return result


def evaluate_pretrainer(config: PretrainConfig | DistillConfig, heldout_files: str) -> dict:
    """`mlm_accuracy` and `attention_kl` (per layer, KL from uniform attention), both on the
    records `heldout_files`, and `params` (grouped counts) of the pretrainer `config` trained
    (its model at `config.model_dir`)."""
    import tf_keras as keras

    from mobilebert_tf.data.pretraining_dataset import pretraining_dataset
    from mobilebert_tf.distillation.diagnostics import attention_kl_from_uniform
    from mobilebert_tf.encoder import build_encoder
    from mobilebert_tf.models import MobileBertPretrainer
    from mobilebert_tf.summary import parameter_counts
    from mobilebert_tf.training.evaluation import mlm_accuracy
    from mobilebert_tf.training.loop import restore_model

    model = MobileBertPretrainer(build_encoder(config.model_config()))
    model(model.example_inputs())
    restore_model(model, config.model_dir)
    dataset = pretraining_dataset(heldout_files, config.seq_length, config.max_predictions, 64,
                                  shuffle=False, repeat=False)
    result = {"mlm_accuracy": mlm_accuracy(model, dataset),
              "attention_kl": attention_kl_from_uniform(model.encoder, dataset, max_batches=8),
              "params": parameter_counts(model)}
    del model
    keras.backend.clear_session()
    return result


def per_layer(values: list[float]) -> str:
    """Per-layer values as `0.02 / 0.31 / ...`."""
    return " / ".join(f"{v:.2f}" for v in values)


def train_pretrainer(name: str, config: PretrainConfig | DistillConfig,
                     heldout_files: str) -> dict:
    """`run_training(config)`, then `evaluate_pretrainer` on `heldout_files`, printed after
    `name`; returns the evaluation and `checkpoint` (the model directory)."""
    run_training(config)
    result = evaluate_pretrainer(config, heldout_files)
    print(f"{name} held-out MLM accuracy {result['mlm_accuracy']:.4f}, attention KL from "
          f"uniform per layer {per_layer(result['attention_kl'])}")
    return {"checkpoint": config.model_dir, **result}
