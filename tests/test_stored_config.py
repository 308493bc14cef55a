"""The model config stored with a checkpoint (`mobilebert_tf.stored_config`), on `ram://`: read
back from a directory or a prefix, checked against a preset or overrides, required when
there is neither."""

import pytest
import tensorflow as tf

from mobilebert_tf.config import get_preset
from mobilebert_tf.errors import InputError
from mobilebert_tf.stored_config import resolve_model_config, write_model_config


def test_stored_config_is_read_and_checked(ram_path):
    stored = get_preset("mobilebert_mini", num_layers=2, vocab_size=700)
    write_model_config(f"{ram_path}/run", stored, {"mode": "teacher", "steps": 3})
    tf.io.gfile.makedirs(f"{ram_path}/run")
    for checkpoint in (f"{ram_path}/run", f"{ram_path}/run/ckpt-3"):
        assert resolve_model_config(checkpoint, None, {}, "--checkpoint") == stored
    assert resolve_model_config(f"{ram_path}/run", "mobilebert_mini",
                                {"num_layers": 2, "vocab_size": 700}, "--checkpoint") == stored
    assert resolve_model_config(f"{ram_path}/run", None, {"num_layers": 2},
                                "--checkpoint") == stored
    with pytest.raises(InputError, match="--preset 'mobilebert_mini' contradicts .*"
                                         "vocab_size: stored 700, given 30522; num_layers: "
                                         "stored 2, given 4"):
        resolve_model_config(f"{ram_path}/run", "mobilebert_mini", {}, "--checkpoint")
    with pytest.raises(InputError, match="--overrides contradicts .*activation: stored "
                                         "'relu', given 'gelu'"):
        resolve_model_config(f"{ram_path}/run", None, {"activation": "gelu"}, "--checkpoint")


def test_no_stored_config_needs_a_preset(ram_path):
    prefix = tf.train.Checkpoint(v=tf.Variable(1.0)).save(f"{ram_path}/old/ckpt")
    with pytest.raises(InputError, match="--checkpoint .* has no model_config.json.*pass "
                                         "--preset"):
        resolve_model_config(prefix, None, {}, "--checkpoint")
    assert resolve_model_config(prefix, "mobilebert_mini", {"num_layers": 1},
                                "--checkpoint").num_layers == 1
    with pytest.raises(InputError, match="No checkpoint at"):
        resolve_model_config(f"{ram_path}/nothing", None, {}, "--checkpoint")
