"""A demo-style student (its own vocabulary, a `num_layers` override, the config stored beside
its checkpoint) exported with no preset at all: to a Hugging Face directory that transformers
itself (its own venv, `make test`) loads and runs as ours, on a padded batch, and to `.tflite`.
Bad input is one line before any work."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf import MobileBertPretrainer, build_encoder
from mobilebert_tf.convert import hf_directory, importer, tf1_directory
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.data.vocab import default_vocab_file
from mobilebert_tf.errors import InputError
from mobilebert_tf.signature import encoder_inputs
from mobilebert_tf.stored_config import write_model_config
from mobilebert_tf.testing import relative_error, run_module
from mobilebert_tf.weights import randomize_norms

VOCAB = 1000  # the student's own vocabulary (BERT's pieces of TEXTS among them)
SEQ = 16
TEXTS = ["A good movie!", "It isn't bad, it's worse.", "Café au lait, s'il vous plaît"]
CONVERT = "mobilebert_tf.cli.convert_checkpoint"


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A pretrainer as distillation leaves its `model_dir`: `ckpt-1` with `model`, and
    `model_config.json`; trained-like norms and output bias."""
    root = tmp_path_factory.mktemp("student")
    with open(default_vocab_file(), encoding="utf-8") as f:
        bert = f.read().splitlines()
    # BERT's specials, every piece of TEXTS, then its commonest words (from id 1996) up to VOCAB.
    needed = set(BertInputTokenizer().tokenize(tf.constant(TEXTS)).flat_values.numpy())
    kept = sorted(set(range(104)) | needed)
    kept += [i for i in range(1996, len(bert)) if i not in needed][:VOCAB - len(kept)]
    vocab_file = root / "vocab.txt"
    vocab_file.write_text("".join(bert[i] + "\n" for i in sorted(kept)), encoding="utf-8")
    keras.utils.set_random_seed(0)
    model = MobileBertPretrainer(build_encoder("mobilebert_mini", num_layers=2,
                                               vocab_size=VOCAB, max_position=64))
    model(model.example_inputs())
    randomize_norms(model)
    model.mlm_head.output_bias.assign(np.random.default_rng(0).normal(0, 1, VOCAB))
    tf.train.Checkpoint(model=model).save(str(root / "run" / "ckpt"))
    write_model_config(str(root / "run"), model.encoder.config)
    return model, str(root / "run"), str(vocab_file)


def _transformers_python():
    python = os.environ.get(hf_directory.TRANSFORMERS_PYTHON_ENV)
    assert python, (f"{hf_directory.TRANSFORMERS_PYTHON_ENV} names no Python with transformers "
                    "and torch: run the tests with `make test`, which makes one.")
    return python


def test_hf_directory_runs_in_transformers_as_ours(student, tmp_path):
    model, run_dir, vocab_file = student
    out = tmp_path / "hf"
    result = run_module(CONVERT, ["--source_format=ours", "--target_format=hf",
                                  f"--source={run_dir}", f"--vocab_file={vocab_file}",
                                  f"--output_dir={out}"])
    assert "Wrote a Hugging Face directory" in result.stdout
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 2

    inputs = encoder_inputs(3, SEQ, VOCAB, lengths=[SEQ, 5, 9], seed=1)  # padded
    theirs, info = hf_directory.transformers_outputs(_transformers_python(), str(out), inputs,
                                                     TEXTS)
    assert all(not keys for keys in info["loading"].values()), info["loading"]
    positions = tf.tile(tf.range(SEQ)[None], [3, 1])  # MLM logits at every position
    ours = model({**inputs, "masked_lm_positions": positions})
    real = inputs["input_mask"].numpy().astype(bool)
    for name, mine, hf in [("sequence_output", ours["sequence_output"],
                            theirs["sequence_output"]),
                           ("MLM logits", ours["mlm_logits"], theirs["prediction_logits"])] + [
            (f"block {i}", ours["encoder_outputs"][i + 1], theirs["encoder_outputs"][i])
            for i in range(2)]:
        assert relative_error(hf[real], np.asarray(mine)[real]) < 1e-5, name
    assert relative_error(theirs["seq_relationship_logits"], ours["nsp_logits"]) < 1e-5
    tokenizer = BertInputTokenizer(vocab_file, seq_length=SEQ)
    packed = tokenizer(tf.constant(TEXTS))
    assert info["ids"] == [row[:sum(mask)] for row, mask in zip(
        packed["input_word_ids"].numpy().tolist(), packed["input_mask"].numpy().tolist())]
    assert sum(map(len, info["ids"])) > 3 * 2 + len(" ".join(TEXTS).split())  # word pieces

    # Round trip: the directory imported back is our model, every weight exact.
    back, report = importer.load_checkpoint("hf", str(out), model.encoder.config,
                                            with_heads=True)
    assert report.tied and not report.missing and not any(report.unused.values())
    for mine, again in zip(model.weights, back.weights):
        np.testing.assert_array_equal(mine, again, err_msg=mine.name)


def test_authors_tf1_directory_round_trips_but_for_the_zeroed_pad_row(student, tmp_path):
    model, _, vocab_file = student
    files = tf1_directory.write_tf1_directory(model, vocab_file, str(tmp_path / "tf1"))
    settings = json.loads((tmp_path / "tf1" / "bert_config.json").read_text())
    assert (settings["num_hidden_layers"], settings["vocab_size"]) == (2, VOCAB)
    assert settings["key_query_shared_bottleneck"] and settings["normalization_type"] == "no_norm"
    back, report = importer.load_checkpoint("tf1", files[tf1_directory.CHECKPOINT],
                                            model.encoder.config, with_heads=True)
    assert not report.missing and not any(report.unused.values())
    for mine, again in zip(model.weights, back.weights):
        if "word_embeddings" in mine.name:  # the authors' runtime reads row 0 at padding
            assert not np.asarray(again)[0].any()
            mine, again = np.asarray(mine)[1:], np.asarray(again)[1:]
        np.testing.assert_array_equal(mine, again, err_msg=getattr(mine, "name", "words"))


def test_tflite_export_needs_no_preset(student, tmp_path):
    _, run_dir, _ = student
    out = tmp_path / "tflite"
    run_module("export.export_tflite", [f"--checkpoint={run_dir}", f"--output_dir={out}",
                                        f"--seq_length={SEQ}", "--precisions=float32",
                                        "--num_fidelity=2"])
    assert (out / "model_float32.tflite").stat().st_size > 0


def test_bad_inputs_are_one_line_before_any_work(student, tmp_path):
    model, run_dir, vocab_file = student
    out = tmp_path / "refused"
    common = ["--source_format=ours", "--target_format=hf", f"--source={run_dir}",
              f"--output_dir={out}"]
    result = run_module(CONVERT, common + [f"--vocab_file={vocab_file}",
                                           "--preset=mobilebert_mini"], check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    line = result.stderr.strip().splitlines()[-1]  # after TensorFlow's start-up line, if any
    assert line.startswith("convert_checkpoint.py: error: ") and re.search(
        "--preset 'mobilebert_mini' contradicts the model config stored with --source .*"
        "vocab_size: stored 1000, given 30522; num_layers: stored 2, given 4", line), line
    assert not out.exists()
    with pytest.raises(InputError, match=f"has 30522 tokens but the model has vocab_size={VOCAB}"):
        hf_directory.check_vocab(default_vocab_file(), model.encoder.config)
    reordered = tmp_path / "pad_last.txt"
    with open(vocab_file, encoding="utf-8") as f:
        tokens = f.read().splitlines()
    reordered.write_text("\n".join(tokens[1:] + tokens[:1]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="has \\[PAD\\] at id 999"):
        hf_directory.check_vocab(str(reordered), model.encoder.config)
    teacher = build_encoder("ib_bert_mini", num_layers=1).config
    with pytest.raises(InputError, match="qkv_source='block_input'"):
        hf_directory.hf_config(teacher, None)
