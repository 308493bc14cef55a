"""A resumable pipeline of named stages, each writing under `<work_dir>/<stage>/`."""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Iterable

import tensorflow as tf

from mobilebert_tf import fileio


class Pipeline:
    """Runs named stages in order; a stage whose `done.json` exists is skipped and its
    recorded result reused, so an interrupted run picks up where it stopped.

    `config` is a dataclass each field of which names, in its metadata's "stage", the first
    of `stages` (the order stages depend on each other) that reads it. Each `done.json`
    records every field of `config`; a finished stage made with other values of its own
    fields or earlier stages' (all fields, for a stage not in `stages`) is refused, never
    overwritten."""

    def __init__(self, work_dir: str, config, stages: Iterable[str], num_stages: int):
        self.work_dir, self.config, self.num_stages = work_dir, config, num_stages
        self.stages = tuple(stages)
        self.field_stages = {f.name: f.metadata.get("stage")
                             for f in dataclasses.fields(config)}
        for name, stage in self.field_stages.items():
            if stage not in self.stages:
                raise ValueError(f"{type(config).__name__}.{name} names the stage {stage!r} in "
                                 f"its metadata, not one of {list(self.stages)}.")
        self.results: dict[str, dict] = {}
        tf.io.gfile.makedirs(work_dir)

    def _check_settings(self, stage: str, settings: dict | None) -> None:
        last = self.stages.index(stage) if stage in self.stages else len(self.stages)
        changed = sorted(k for k, s in self.field_stages.items()
                         if self.stages.index(s) <= last
                         and (settings is None or settings.get(k) != getattr(self.config, k)))
        if changed:
            raise ValueError(f"{self.dir(stage)} was made with other settings ({changed}); "
                             "delete it and the stages after it, or pass another --work_dir.")

    def dir(self, stage: str) -> str:
        return tf.io.gfile.join(self.work_dir, stage)

    def run(self, stage: str, fn: Callable[[str], dict]) -> dict:
        """`fn(<work_dir>/<stage>)`, unless done before; returns (and keeps in `results`) its
        result, with the seconds it took."""
        index = len(self.results) + 1
        stage_dir = self.dir(stage)
        done = tf.io.gfile.join(stage_dir, "done.json")
        if tf.io.gfile.exists(done):
            result = fileio.read_json(done)
            self._check_settings(stage, result.pop("settings", None))
            self.results[stage] = result
            print(f"[{index}/{self.num_stages}] {stage}: done before, skipped.", flush=True)
            return self.results[stage]
        print(f"\n[{index}/{self.num_stages}] {stage}", flush=True)
        tf.io.gfile.makedirs(stage_dir)
        start = time.perf_counter()
        result = fn(stage_dir)
        result["seconds"] = round(time.perf_counter() - start, 1)
        fileio.write_json(done, {**result, "settings": dataclasses.asdict(self.config)})
        self.results[stage] = result
        print(f"[{index}/{self.num_stages}] {stage}: {result['seconds']:.0f} s", flush=True)
        return result
