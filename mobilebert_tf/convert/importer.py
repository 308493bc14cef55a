"""Load a foreign checkpoint into our encoder or pretrainer, by explicit name map, with a
shape check per variable and a report of everything left over on either side."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import tf_keras as keras

from mobilebert_tf.config import MobileBertConfig
from mobilebert_tf.convert import name_maps
from mobilebert_tf.convert.architecture import check_architecture
from mobilebert_tf.convert.sources import Source, read_source
from mobilebert_tf.encoder import MobileBertEncoder, build_encoder
from mobilebert_tf.models import MobileBertPretrainer
from mobilebert_tf.weights import named_weights


class CheckpointMismatchError(ValueError):
    """Encoder weights missing from the checkpoint, or present with the wrong shape."""


# Source variables that are training state, not model weights.
_OPTIMIZER = re.compile(r"(adam_[mv]|lamb_[mv]|/Adam(_\d+)?$|beta[12]_power|Momentum|"
                        r"AdamWeightDecayOptimizer|OPTIMIZER_SLOT|^optimizer/|/m$|/v$)")
_BOOKKEEPING = re.compile(r"(^|/)(global_step|save_counter|step)$|\.position_ids$")


@dataclasses.dataclass
class ImportReport:
    """What an import did.

    Attributes:
        source_format, source_path: what was read.
        loaded: `{our name: source name}` for every weight filled.
        tied: `{source alias: our name}` for tied copies checked equal (Hugging Face's decoder
            weight).
        missing: our weights the checkpoint does not hold (only head weights: a missing
            encoder weight is an error), left at their initial values.
        unused: source variables not loaded, by kind: "optimizer" (slots), "bookkeeping"
            (step counters, buffers), "heads_not_requested" (MLM/NSP weights when importing
            an encoder alone), "unknown" (anything else: other heads, a teacher, ...).
        architecture: the config fields read off the checkpoint.
    """

    source_format: str
    source_path: str
    loaded: dict[str, str]
    tied: dict[str, str]
    missing: list[str]
    unused: dict[str, list[str]]
    architecture: dict

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def summary(self) -> str:
        lines = [f"Imported {len(self.loaded)} weights from {self.source_format} checkpoint "
                 f"{self.source_path}" + (f" ({len(self.tied)} tied copies checked equal)"
                                          if self.tied else "") + "."]
        if self.missing:
            lines.append(f"MISSING from the checkpoint, left at initialization "
                         f"({len(self.missing)}):")
            lines += [f"  {name}" for name in self.missing]
        for kind, names in self.unused.items():
            if names:
                lines.append(f"Unused source variables, {kind} ({len(names)}):")
                lines += [f"  {name}" for name in names]
        if not self.missing and not any(self.unused.values()):
            lines.append("Every source variable was used; no target weight is missing.")
        return "\n".join(lines)


def _to_target(entry: name_maps.Entry, value: np.ndarray) -> np.ndarray:
    if entry.transform == name_maps.TRANSPOSE:
        value = value.T
    return value.reshape(entry.target_shape)


def to_source(entry: name_maps.Entry, value: np.ndarray) -> np.ndarray:
    """Our array laid out as the foreign format stores it (`entry.source_shape`)."""
    if entry.transform == name_maps.TRANSPOSE:
        return np.ascontiguousarray(value.T)
    return value.reshape(entry.source_shape)


def _model_weights(model: keras.Model) -> tuple[MobileBertConfig, bool, dict]:
    if isinstance(model, MobileBertPretrainer):
        if not model.built:
            model(model.example_inputs())
        return model.encoder.config, True, named_weights(model)
    if isinstance(model, MobileBertEncoder):
        return model.config, False, named_weights(model)
    raise TypeError("Checkpoints import into a MobileBertEncoder or MobileBertPretrainer, "
                    f"got {type(model).__name__}.")


def import_weights(model: keras.Model, source: Source) -> ImportReport:
    """Fill `model` (a `MobileBertEncoder`, or a `MobileBertPretrainer` for the heads too)
    from `source`, after checking its architecture and every shape.

    Raises:
        ArchitectureMismatchError: the checkpoint is of another architecture or vocabulary.
        CheckpointMismatchError: encoder weights missing, shapes wrong, or tied copies
            that differ. Nothing is assigned unless every check passes.
    """
    config, with_heads, targets = _model_weights(model)
    architecture = check_architecture(source, config)
    table = name_maps.name_map(source.format, config, with_heads)
    expected = {e.target: e.target_shape for e in table}
    ours = {name: tuple(v.shape) for name, v in targets.items()}
    if expected != ours:  # the map and the model disagree: a bug here, not in the checkpoint
        raise AssertionError(f"Name map out of date with the model: "
                             f"{sorted(set(expected.items()) ^ set(ours.items()))}")

    values, loaded, tied, missing, errors = {}, {}, {}, [], []
    for entry in table:
        names = [n for n in (entry.source, *entry.aliases) if n in source.shapes]
        if not names:
            missing.append(entry.target)
            continue
        for name in names:
            shape = source.shapes[name]
            if shape not in (entry.source_shape, *entry.alt_shapes):
                errors.append(f"  {name}: shape {list(shape)}, expected "
                              f"{list(entry.source_shape)} (for {entry.target})")
        if errors:
            continue
        value = _to_target(entry, np.asarray(source.read(names[0]), np.float32))
        for alias in names[1:]:
            other = _to_target(entry, np.asarray(source.read(alias), np.float32))
            if _zeroed_pad_row(value, other):  # our HF export (`convert.hf_directory`)
                value = other  # the output layer's table is the exact one
            if not np.array_equal(value, other):
                errors.append(f"  {alias} differs from {names[0]}, but both are {entry.target}"
                              " in this model (tied weights)")
            tied[alias] = entry.target
        values[entry.target], loaded[entry.target] = value, names[0]

    missing_encoder = [name for name in missing if not name.startswith(("mlm_head/", "nsp_head/"))]
    used = set(loaded.values()) | set(tied)
    unused_names = sorted(set(source.shapes) - used)
    if missing_encoder or errors:
        message = [f"Cannot import {source.format} checkpoint {source.path}:"]
        if missing_encoder:
            message.append(f"encoder weights missing from the checkpoint "
                           f"({len(missing_encoder)}): " + ", ".join(
                               f"{n} (looked for {_source_of(table, n)})" for n in missing_encoder))
        if errors:
            message.append("mismatches:\n" + "\n".join(errors))
        if unused_names:
            message.append(f"unused source variables ({len(unused_names)}): "
                           + ", ".join(unused_names[:20])
                           + (" ..." if len(unused_names) > 20 else ""))
        raise CheckpointMismatchError("\n".join(message))

    for name, value in values.items():
        targets[name].assign(value)

    head_sources = set()
    if not with_heads:
        for entry in name_maps.name_map(source.format, config, with_heads=True):
            if entry.is_head:
                head_sources.update((entry.source, *entry.aliases))
    unused = {"optimizer": [], "bookkeeping": [], "heads_not_requested": [], "unknown": []}
    for name in unused_names:
        if _BOOKKEEPING.search(name):
            unused["bookkeeping"].append(name)
        elif _OPTIMIZER.search(name):
            unused["optimizer"].append(name)
        elif name in head_sources:
            unused["heads_not_requested"].append(name)
        else:
            unused["unknown"].append(name)
    return ImportReport(source.format, source.path, loaded, tied, missing, unused, architecture)


def _zeroed_pad_row(table: np.ndarray, tied: np.ndarray) -> bool:
    """True when the word `table` equals its `tied` copy but for a zeroed row 0 ([PAD]), as
    our Hugging Face directories write the input table (the encoder never reads that row at a
    real token)."""
    return (table.ndim == 2 and table.shape == tied.shape and not table[0].any()
            and tied[0].any() and np.array_equal(table[1:], tied[1:]))


def _source_of(table, target):
    return next(e.source for e in table if e.target == target)


def import_checkpoint(model: keras.Model, source_format: str, path: str) -> ImportReport:
    """`import_weights(model, read_source(source_format, path))`."""
    return import_weights(model, read_source(source_format, path))


def load_checkpoint(source_format: str, path: str, config: MobileBertConfig,
                    with_heads: bool = False) -> tuple[keras.Model, ImportReport]:
    """A new encoder (or pretrainer, `with_heads`) for `config`, filled from `path`."""
    encoder = build_encoder(config)
    model = MobileBertPretrainer(encoder) if with_heads else encoder
    report = import_checkpoint(model, source_format, path)
    return model, report
