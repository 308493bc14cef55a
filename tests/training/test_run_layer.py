"""The run layer in process (`mobilebert_tf.run`): every path on `ram://` (TensorFlow's
in-memory filesystem, which `gs://` shares its file API with), host loops of any length, and
bad input refused before anything is built."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import run
from mobilebert_tf.data.synthetic_records import synthetic_examples, write_pretraining_records
from mobilebert_tf.errors import InputError
from mobilebert_tf.run.experiment import read_stage_ends, stage_end_diagnostics
from mobilebert_tf.testing import file_contents

SEQ, PREDICTIONS, VOCAB = 32, 5, 1000
MODEL = dict(overrides={"num_layers": 2, "vocab_size": VOCAB}, seq_length=SEQ,
             max_predictions=PREDICTIONS, batch_size=8)


@pytest.fixture(scope="module")
def bucket():
    """A module-wide `ram://` "bucket" with two record files."""
    root = "ram://run-layer-test"
    for i in range(2):
        write_pretraining_records(f"{root}/records/train-{i}.tfrecord",
                                  synthetic_examples(96, SEQ, PREDICTIONS, VOCAB, seed=i))
    return root


@pytest.fixture(scope="module")
def teacher(bucket):
    config = run.PretrainConfig(model_dir=f"{bucket}/teacher", preset="ib_bert_mini",
                                train_files=f"{bucket}/records/*.tfrecord", steps=4,
                                checkpoint_every=4, **MODEL)
    assert run.pretrain(config)["step"] == 4
    return config


def distill_config(bucket, teacher, name, **changes):
    # No teacher_preset: the teacher's config comes from its model_dir's model_config.json.
    values = dict(preset="mobilebert_mini", teacher_checkpoint=teacher.model_dir, train_files=teacher.train_files,
                  transfer_steps=3, pd_steps=4, lower_multiplier=0.1, checkpoint_every=4,
                  **MODEL)
    return run.DistillConfig(model_dir=f"{bucket}/{name}", **{**values, **changes})


@pytest.mark.parametrize("changes, message", [
    (dict(steps_per_loop=0), "steps_per_loop must be a positive integer or None; got "
                             "steps_per_loop=0"),
    (dict(distill_strategy="bkt"), "distill_strategy must be one of .*got distill_strategy="
                                   "'bkt'"),
    (dict(mixed_precision="mixed_float16"), "mixed_float16.*overflows the NoNorm"),
    (dict(overrides={"num_layers": 0}), "MobileBertConfig.num_layers must be a positive int"),
    (dict(seq_length=600), "seq_length must be at most the model's max_position \\(512\\)"),
    (dict(teacher_checkpoint=""), "teacher_checkpoint must be a checkpoint directory"),
    (dict(overrides={"num_layers": 1, "vocab_size": VOCAB}, teacher_overrides={"num_layers": 2}),
     "pass layer_mapping"),
    # The teacher's model config is read from its directory when the config is made.
    (dict(teacher_checkpoint="ram://no-such-bucket/teacher"),
     "No teacher_checkpoint at 'ram://no-such-bucket/teacher'"),
])
def test_bad_settings_are_refused_when_the_config_is_made(bucket, teacher, changes, message):
    values = {**MODEL, **changes}
    with pytest.raises(InputError, match=message):
        run.DistillConfig(model_dir=f"{bucket}/bad", train_files=teacher.train_files,
                          **{"teacher_checkpoint": teacher.model_dir, **values})


@pytest.mark.parametrize("changes, message", [
    (dict(train_files="ram://no-such-bucket/records/*.tfrecord"),
     "No pretraining records match 'ram://no-such-bucket/records/\\*.tfrecord'"),
    (dict(max_predictions=7), "has seq_length 32 and max_predictions 5, but seq_length=32 and "
                              "max_predictions=7"),
])
def test_bad_inputs_are_refused_before_anything_is_built(bucket, teacher, changes, message):
    config = dataclasses.replace(distill_config(bucket, teacher, "refused"), **changes)
    with pytest.raises(InputError, match=message):
        run.distill(config)
    assert not tf.io.gfile.glob(f"{config.model_dir}/ckpt-*")


def test_teacher_distill_finetune_export_with_every_path_on_ram(bucket, teacher):
    """The whole chain in one process with nothing on local disk: a student distilled on
    ram://, fine-tuned on a tiny SST-2 on ram://, exported from and to ram://."""
    from mobilebert_tf import fileio
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    from mobilebert_tf.data.vocab import default_vocab_file
    from mobilebert_tf.export import exporter, loading

    # 7 steps per host call; every stage end (3, 6, 10) and checkpoint (4, 8) still ends one.
    student = distill_config(bucket, teacher, "student", steps_per_loop=7)
    hooks = stage_end_diagnostics(student, student.train_files, max_batches=1)
    assert run.distill(student, hooks=hooks)["step"] == 10
    ends = read_stage_ends(student.model_dir)  # measured at each stage end, kept on ram://
    assert [(row["step"], len(row["at"])) for row in ends] == [(3, 2), (6, 2), (10, 2)]
    assert sorted(tf.io.gfile.glob(f"{student.model_dir}/ckpt-*.index")) == [
        f"{student.model_dir}/ckpt-{n}.index" for n in (10, 4, 8)]
    positions = fileio.checkpoint_reader(f"{student.model_dir}/ckpt-10").get_tensor(
        "data_positions/.ATTRIBUTES/VARIABLE_VALUE")
    np.testing.assert_array_equal(positions, [[0, 0, 79]])  # 10 steps x 8 records, window 0
    vocab_file = f"{bucket}/vocab.txt"  # the first 1,000 BERT tokens: the models' vocab_size
    fileio.write_text(vocab_file, "".join(fileio.read_text(default_vocab_file())
                                          .splitlines(keepends=True)[:VOCAB]))
    rows = ["sentence\tlabel", "a good movie !\t1", "bad , bad .\t0", "it is good .\t1",
            "no , not good .\t0"]
    for split in ("train", "dev"):
        fileio.write_text(f"{bucket}/glue/SST-2/{split}.tsv", "\n".join(rows) + "\n")
    # The student's config travels with its checkpoint: no preset or overrides to retype.
    assert loading.load_model(checkpoint=student.model_dir).config == student.model_config()
    result = run.finetune(run.FinetuneConfig(
        task="sst2", model_dir=f"{bucket}/sst2", init_checkpoint=student.model_dir,
        data_dir=f"{bucket}/glue/SST-2", vocab_file=vocab_file, seq_length=SEQ, batch_size=4,
        steps=2, eval_every=2))
    assert result.best_step == 2 and result.files["keras"].startswith(f"{bucket}/sst2/")
    output_dir = f"{bucket}/exported"
    examples = exporter.examples_from_task("sst2", "validation", vocab_file, 2, 1, SEQ,
                                           data_dir=f"{bucket}/glue/SST-2")
    fileio.write_bytes(f"{output_dir}/model_int8.tflite", b"an earlier export's")
    exporter.export(loading.load_model(result.files["keras"]), output_dir, ["float32"], SEQ,
                    fidelity_examples=examples, log=lambda _: None,
                    tokenizer=BertInputTokenizer(vocab_file, seq_length=SEQ))
    # The earlier export's int8 file is gone: fidelity.json covers every file there.
    assert sorted(tf.io.gfile.listdir(output_dir)) == [
        "fidelity.json", "model_float32.tflite", "saved_model"]

    # Every other kind of run or command is refused in the fine-tuning run's directory before
    # anything is read or written there.
    finetuned = f"{bucket}/sst2"
    before = file_contents(finetuned)
    with pytest.raises(InputError, match=f"model_dir '{finetuned}' belongs to another run "
                                         r".*run_config.json\): task: stored 'sst2', this run "
                                         "'mrpc'. Use a fresh model_dir"):
        run.FinetuneConfig(task="mrpc", model_dir=finetuned, init_checkpoint=student.model_dir)
    with pytest.raises(InputError, match="mode: stored 'finetune', this run 'distill'"):
        distill_config(bucket, teacher, "sst2")
    from mobilebert_tf.convert.convert_checkpoint import convert
    with pytest.raises(InputError, match="mode: stored 'finetune', this run 'convert'"):
        convert("hf", "ram://no-such-source", "mobilebert_mini", finetuned)
    with pytest.raises(InputError, match="mode: stored 'finetune', this run 'export'"):
        loading.check_inputs(checkpoint=finetuned, output_dir=finetuned)
    assert file_contents(finetuned) == before
    with pytest.raises(InputError, match="is not empty and was not written by this command"):
        loading.check_inputs(checkpoint=finetuned, output_dir=f"{bucket}/glue")


def _copy(directory, to, leave_out=()):
    for path, content in file_contents(directory).items():
        if path.rpartition("/")[2] not in leave_out:
            tf.io.gfile.makedirs(f"{to}/{path}".rpartition("/")[0])
            with tf.io.gfile.GFile(f"{to}/{path}", "wb") as f:
                f.write(content)


def test_a_truncated_record_names_its_file_and_keeps_the_checkpoint(bucket, teacher):
    records = tf.io.gfile.GFile(f"{bucket}/records/train-1.tfrecord", "rb").read()
    truncated = f"{bucket}/truncated/train-1.tfrecord"
    with tf.io.gfile.GFile(truncated, "wb") as f:
        f.write(records[:-40])  # the last record loses its end
    # Not `{bucket}/teacher_...`: ram:// lists `teacher` with every name it prefixes.
    resumed = f"{bucket}/copies/resumed"
    _copy(teacher.model_dir, resumed)
    # Restored at step 4, then 12 steps of 8 records reach the end of the 96-record file.
    config = dataclasses.replace(teacher, model_dir=resumed, train_files=truncated, steps=16,
                                 checkpoint_every=100)
    with pytest.raises(InputError, match=f"^{truncated}: truncated or corrupt record .*the "
                                         f"last checkpoint in {resumed} is kept"):
        run.pretrain(config)
    assert tf.train.latest_checkpoint(resumed) == f"{resumed}/ckpt-4"


def test_a_checkpoint_of_another_shape_is_named(bucket, teacher):
    # A run directory from before configs were stored, restarted with the wrong vocab size.
    old = f"{bucket}/copies/without_config"
    _copy(teacher.model_dir, old, leave_out=("model_config.json", "run_config.json"))
    config = dataclasses.replace(teacher, model_dir=old, steps=8,
                                 overrides={**MODEL["overrides"], "vocab_size": 500})
    with pytest.raises(InputError, match=f"{old}/ckpt-4 does not hold this model .*: .*shape"):
        run.pretrain(config)
