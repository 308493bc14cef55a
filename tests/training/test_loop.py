"""The checkpointed loop in-process: NaN guard keeps the last good checkpoint, host loops end
at checkpoints and stage ends."""

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import MobileBertPretrainer, build_encoder
from mobilebert_tf.training import loop
from mobilebert_tf.training.optimizer import create_optimizer, schedule_for_stages
from mobilebert_tf.training.pretraining import PretrainingTrainer, pretraining_stage
from mobilebert_tf.data.synthetic_records import synthetic_examples


def _dataset(skip_batches, nan_from_batch):
    examples = list(synthetic_examples(4, 16, 3, 100, seed=0))
    batch = {
        "input_word_ids": np.stack([e["input_ids"] for e in examples]).astype(np.int32),
        "input_mask": np.stack([e["input_mask"] for e in examples]).astype(np.int32),
        "input_type_ids": np.stack([e["segment_ids"] for e in examples]).astype(np.int32),
        "masked_lm_positions": np.stack([e["masked_lm_positions"] for e in examples]).astype(np.int32),
        "masked_lm_ids": np.stack([e["masked_lm_ids"] for e in examples]).astype(np.int32),
        "masked_lm_weights": np.stack([e["masked_lm_weights"] for e in examples]),
        "next_sentence_labels": np.array([e["next_sentence_labels"][0] for e in examples],
                                         np.int32)}
    dataset = tf.data.Dataset.from_tensors(batch).repeat().enumerate()

    def poison(index, b):
        b = dict(b)
        weights = b["masked_lm_weights"]
        b["masked_lm_weights"] = tf.where(index >= nan_from_batch,
                                          tf.fill(tf.shape(weights), np.nan), weights)
        return b

    return dataset.map(poison).skip(skip_batches)


@pytest.mark.parametrize("steps_per_loop", [1, 2])
def test_nan_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, steps_per_loop):
    model = MobileBertPretrainer(build_encoder("mobilebert_mini", num_layers=1, vocab_size=100))
    model(model.example_inputs())
    stages = [pretraining_stage(1, 10, 1e-3, 0)]
    trainer = PretrainingTrainer(model, stages)
    trainer.compile(optimizer=create_optimizer("lamb", schedule_for_stages(stages)))
    # With 2 steps per host call, steps 3-4 run in one call: the NaN of step 3 is reported
    # after it, and nothing of that call is saved.
    with pytest.raises(FloatingPointError, match=r"Non-finite loss at step 3 .*ckpt-2"):
        loop.train(trainer, lambda context, resume: _dataset(resume.step, nan_from_batch=2),
                   tf.distribute.get_strategy(), str(tmp_path), checkpoint_every=2,
                   steps_per_loop=steps_per_loop)
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-2")
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path)))
    assert all(np.all(np.isfinite(reader.get_tensor(n)))
               for n, _ in tf.train.list_variables(str(tmp_path)) if n.startswith("model/"))
    assert tf.io.gfile.glob(str(tmp_path / "summaries" / "*"))


def test_host_loops_end_at_stage_ends_checkpoints_hooks_and_the_exit_step():
    # 7 steps per loop, stages of 3 + 3 + 4 steps, checkpoints every 4, a hook every 5.
    start, loops = 0, []
    while start < 10:
        start = loop._loop_ends(start, 7, [3, 6, 10], [4, 5])
        loops.append(start)
    assert loops == [3, 4, 5, 6, 8, 10]
    assert loop._loop_ends(0, 7, [100, 30], [1000]) == 7
    assert loop._loop_ends(28, 7, [100, 30], [1000]) == 30  # the exit step
