"""The config that travels with a checkpoint: every run writes its model config
(`model_config.json`) and its run config (`run_config.json`) into its directory, and every
reader of a checkpoint takes the model config from there, so `--preset` / `--overrides` are
only needed for checkpoints written before these files existed.

Example:
>>> from mobilebert_tf.config import get_preset
>>> _ = write_model_config("ram://doc/student", get_preset("mobilebert_mini", num_layers=2))
>>> resolve_model_config("ram://doc/student/ckpt-7", None, {}, "--checkpoint").num_layers
2
>>> resolve_model_config("ram://doc/student", "mobilebert_mini", {}, "--checkpoint")
Traceback (most recent call last):
...
mobilebert_tf.errors.InputError: --preset 'mobilebert_mini' contradicts the model config stored with --checkpoint 'ram://doc/student' (ram://doc/student/model_config.json): num_layers: stored 2, given 4.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.config import MobileBertConfig, get_preset
from mobilebert_tf.errors import InputError

MODEL_CONFIG = "model_config.json"
RUN_CONFIG = "run_config.json"


def config_dir(checkpoint: str) -> str:
    """The directory whose config describes `checkpoint` (a directory or a prefix in it)."""
    checkpoint = checkpoint.rstrip("/")
    if tf.io.gfile.exists(checkpoint + ".index") or not tf.io.gfile.isdir(checkpoint):
        return checkpoint.rpartition("/")[0] or "."
    return checkpoint


def write_model_config(directory: str, config: MobileBertConfig,
                       run: Mapping[str, Any] | None = None) -> str:
    """`config` as `<directory>/model_config.json` (and `run`, when given, as
    `run_config.json`); returns the model config's path."""
    if run is not None:
        write_run_config(directory, run)
    return fileio.write_json(tf.io.gfile.join(directory, MODEL_CONFIG), config.to_dict())


def write_run_config(directory: str, run: Mapping[str, Any]) -> str:
    """`run` (its "mode" names what owns `directory`: `check_owner`) as
    `<directory>/run_config.json`; returns its path."""
    return fileio.write_json(tf.io.gfile.join(directory, RUN_CONFIG), _jsonable(run))


def check_owner(directory: str, owner: Mapping[str, Any], flag: str,
                outputs_only: bool = False) -> None:
    """Refuse to write into `directory` (given by `flag`) when an earlier run of another kind
    wrote it: its `run_config.json` differs from `owner` (e.g. `{"mode": "finetune", "task":
    "mrpc"}`) in any of `owner`'s fields. With `outputs_only` (commands that write outputs, not
    resumable runs), a non-empty directory without a `run_config.json` is refused too. Called
    before anything is restored or written, so a refused run changes nothing.

    Raises:
        InputError: naming the directory, its run config and every differing field.
    """
    path = tf.io.gfile.join(directory, RUN_CONFIG)
    if tf.io.gfile.exists(path):
        try:
            stored = fileio.read_json(path)
        except ValueError as e:
            raise InputError(f"Bad run config {path!r}: {e}") from None
        differing = {k: v for k, v in owner.items() if stored.get(k) != v}
        if not differing:
            return
        fields = "; ".join(f"{k}: stored {stored.get(k)!r}, this run {v!r}"
                           for k, v in differing.items())
        raise InputError(f"{flag} {directory!r} belongs to another run ({path}): {fields}. "
                         f"Use a fresh {flag}.")
    if outputs_only and tf.io.gfile.isdir(directory) and tf.io.gfile.listdir(directory):
        raise InputError(f"{flag} {directory!r} is not empty and was not written by this "
                         f"command (no {RUN_CONFIG}): use a fresh {flag}.")


def read_model_config(checkpoint: str) -> MobileBertConfig | None:
    """The model config stored with `checkpoint` (a directory or a prefix), or None."""
    path = tf.io.gfile.join(config_dir(checkpoint), MODEL_CONFIG)
    if not tf.io.gfile.exists(path):
        return None
    try:
        return MobileBertConfig.from_dict(fileio.read_json(path))
    except (ValueError, TypeError) as e:
        raise InputError(f"Bad model config {path!r}: {e}") from None


def resolve_model_config(checkpoint: str | None, preset: str | None, overrides: Mapping,
                         flag: str, preset_flag: str = "--preset",
                         overrides_flag: str = "--overrides",
                         default_preset: str | None = None) -> MobileBertConfig:
    """The model config of the checkpoint `checkpoint` (given by `flag`): the stored one, checked
    against `preset` (whole config) or, without a preset, against each of `overrides`; with
    nothing stored, `preset` (else `default_preset`) with `overrides`.

    Raises:
        InputError: a preset or override contradicts the stored config (naming every differing
            field), or there is neither a stored config nor a preset.
    """
    stored = read_model_config(checkpoint) if checkpoint else None
    given = _preset(preset, overrides, preset_flag, overrides_flag) if preset else None
    if stored is None:
        if given is not None:
            return given
        if default_preset is None:
            fileio.checkpoint_prefix(checkpoint, flag.lstrip("-"))  # missing: say that first
            raise InputError(
                f"{flag} {checkpoint!r} has no {MODEL_CONFIG} (written by runs and conversions "
                f"since 2026-12-07); pass {preset_flag} (and {overrides_flag}) it was trained "
                "with.")
        return _preset(default_preset, overrides, preset_flag, overrides_flag)
    if given is not None:
        differing = {k: v for k, v in given.to_dict().items() if stored.to_dict()[k] != v}
        what = f"{preset_flag} {preset!r}" + (f" with {overrides_flag}" if overrides else "")
    else:
        _preset("mobilebert", overrides, preset_flag, overrides_flag)  # field names and types
        differing = {k: v for k, v in overrides.items() if stored.to_dict()[k] != v}
        what = overrides_flag
    if differing:
        path = tf.io.gfile.join(config_dir(checkpoint), MODEL_CONFIG)
        fields = "; ".join(f"{k}: stored {stored.to_dict()[k]!r}, given {v!r}"
                           for k, v in differing.items())
        raise InputError(f"{what} contradicts the model config stored with {flag} "
                         f"{checkpoint!r} ({path}): {fields}.")
    return stored


def _preset(preset: str, overrides: Mapping, preset_flag: str,
            overrides_flag: str) -> MobileBertConfig:
    try:
        return get_preset(preset, **overrides)
    except (ValueError, TypeError) as e:
        raise InputError(f"{preset_flag}/{overrides_flag}: {e}") from None


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)
