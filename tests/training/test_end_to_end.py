"""Pretrain a tiny teacher, distill a tiny student with PKT, and compare its held-out MLM
accuracy with the same student trained without a teacher for the same number of steps."""

import pytest

from mobilebert_tf import MobileBertPretrainer, build_encoder, run
from mobilebert_tf.data.pretraining_dataset import pretraining_dataset
from mobilebert_tf.data.synthetic_records import synthetic_examples, write_pretraining_records
from mobilebert_tf.training.evaluation import mlm_accuracy
from mobilebert_tf.training.loop import restore_model

SEQ, PRED, VOCAB = 32, 5, 100


def _accuracy(preset, model_dir, eval_path):
    model = MobileBertPretrainer(build_encoder(preset, num_layers=2, vocab_size=VOCAB))
    model(model.example_inputs())
    restore_model(model, model_dir)
    return mlm_accuracy(model, pretraining_dataset(eval_path, SEQ, PRED, 64, shuffle=False,
                                                   repeat=False))


@pytest.mark.slow
def test_pkt_student_beats_student_without_teacher(tmp_path):
    # Stride-1 progressions: a masked token is its left neighbour + 1, learnable in 300 steps.
    train, held_out = str(tmp_path / "train.tfrecord"), str(tmp_path / "eval.tfrecord")
    write_pretraining_records(train, synthetic_examples(2048, SEQ, PRED, VOCAB, 0, max_stride=1))
    write_pretraining_records(held_out, synthetic_examples(256, SEQ, PRED, VOCAB, 99,
                                                           max_stride=1))
    common = dict(overrides={"num_layers": 2, "vocab_size": VOCAB}, seq_length=SEQ,
                  max_predictions=PRED, train_files=train, batch_size=32,
                  checkpoint_every=1000, learning_rate=2e-3)
    dirs = {name: str(tmp_path / name) for name in ("teacher", "student", "baseline")}
    run.pretrain(run.PretrainConfig(model_dir=dirs["teacher"], preset="ib_bert_mini",
                                    steps=300, warmup_steps=30, **common))
    # 2 x 40 layer-transfer steps + 120 PD steps = 200 student steps ...
    run.distill(run.DistillConfig(model_dir=dirs["student"], preset="mobilebert_mini",
                                  teacher_preset="ib_bert_mini",
                                  teacher_checkpoint=dirs["teacher"], transfer_steps=40,
                                  pd_steps=120, warmup_steps=5, pd_warmup_steps=10, **common))
    # ... against 200 MLM+NSP steps of the same student, also without dropout.
    run.pretrain(run.PretrainConfig(model_dir=dirs["baseline"], preset="mobilebert_mini",
                                    dropout=False, steps=200, warmup_steps=20, **common))
    teacher = _accuracy("ib_bert_mini", dirs["teacher"], held_out)
    student = _accuracy("mobilebert_mini", dirs["student"], held_out)
    baseline = _accuracy("mobilebert_mini", dirs["baseline"], held_out)
    # Measured (seeded): teacher 0.33, PKT student 0.061, baseline 0.010.
    assert teacher > 0.2
    assert student > baseline + 0.03 and student > 3 * baseline, (teacher, student, baseline)
