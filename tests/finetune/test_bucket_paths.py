"""Every path on a bucket: fine-tuning and exporting its best model with data, vocab,
checkpoint and outputs all on `ram://`, which (like `gs://`) only `tf.io.gfile` can open."""

import os

import pytest
import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.data.vocab import default_vocab_file
from mobilebert_tf.export import exporter, loading
from mobilebert_tf.finetune.run import FinetuneConfig, finetune
from mobilebert_tf.finetune.tasks import InputError

SEQ = 32


def test_finetune_then_export_with_every_path_on_ram(ram_path, make_mrpc,
                                                     make_init_checkpoint):
    data_dir = make_mrpc(f"{ram_path}/glue/MRPC")
    vocab_file = f"{ram_path}/vocab.txt"
    tf.io.gfile.copy(default_vocab_file(), vocab_file)
    model_dir = f"{ram_path}/runs/mrpc"
    result = finetune(FinetuneConfig(
        task="mrpc", model_dir=model_dir, preset="mobilebert_mini",
        overrides={"num_layers": 2}, init_checkpoint=make_init_checkpoint(f"{ram_path}/student"),
        data_dir=data_dir, vocab_file=vocab_file, seq_length=SEQ, batch_size=4, steps=2,
        eval_every=1))
    assert [h["step"] for h in result.history] == [1, 2]
    assert fileio.read_json(f"{model_dir}/eval_history.json") == result.history
    assert fileio.read_json(f"{model_dir}/best/best.json")["step"] == result.best_step
    assert fileio.read_json(f"{model_dir}/eval_results.json")["best_step"] == result.best_step
    assert fileio.read_bytes(result.files["plot"])[:4] == b"\x89PNG"
    assert result.files["plot"].startswith(model_dir)
    assert fileio.read_text(f"{model_dir}/predictions/test/MRPC.tsv").startswith(
        "index\tprediction\n0\t")
    assert tf.train.latest_checkpoint(model_dir)  # the loop's checkpoints are there too
    assert not os.path.exists("ram:")  # nothing went to a local directory named like the URL

    # Export the best model from the bucket to the bucket, calibrated on the bucket's data.
    output_dir = f"{ram_path}/exported"
    loading.check_inputs(result.files["keras"], vocab_file=vocab_file, data_dir=data_dir,
                         output_dir=output_dir)
    model = loading.load_model(result.files["keras"])
    examples = exporter.examples_from_task("mrpc", "train", vocab_file, 4, 1, SEQ,
                                           data_dir=data_dir)
    reports = exporter.export(model, output_dir, ["float32", "int8"], SEQ,
                              calibration=examples, fidelity_examples=examples[:2],
                              log=lambda _: None,
                              tokenizer=BertInputTokenizer(vocab_file, seq_length=SEQ))
    assert sorted(tf.io.gfile.listdir(output_dir)) == [
        "fidelity.json", "model_float32.tflite", "model_int8.tflite", "saved_model"]
    assert fileio.read_json(f"{output_dir}/fidelity.json")["results"].keys() == reports.keys()


def test_unusable_model_dir_fails_before_any_step(mrpc_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="Cannot create model_dir"):
        finetune(FinetuneConfig(task="mrpc", model_dir=str(blocker / "run"),
                                preset="mobilebert_mini", overrides={"num_layers": 2},
                                data_dir=mrpc_dir, seq_length=SEQ, batch_size=4, steps=2))
