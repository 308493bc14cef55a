"""`make_strategy`: the `tf.distribute` strategy of a run, by name."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from mobilebert_tf.errors import InputError

STRATEGY_NAMES = ("default", "mirrored", "multi_worker", "tpu")


def check_tf_config() -> dict:
    """The cluster in `TF_CONFIG` (multi-worker), or `InputError` saying what is wrong."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise InputError("The multi_worker strategy needs the cluster in the TF_CONFIG "
                         "environment variable (JSON with 'cluster' and 'task'); it is unset.")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"TF_CONFIG={raw!r} is not a cluster spec with cluster.worker and "
                         f"task ({e!r}).") from None
    return {"workers": workers, "task": task}


def make_strategy(name: str, tpu: str | None = None,
                  num_cpu_devices: int = 1) -> tf.distribute.Strategy:
    """The strategy called `name` (one of `STRATEGY_NAMES`).

    Create it first thing in the process: multi-worker and TPU strategies, and
    `num_cpu_devices > 1` (logical CPUs, to run `mirrored` on one CPU), must precede any other
    use of TensorFlow's devices.

    Args:
        name: "default" (one device), "mirrored" (every local GPU, else every logical CPU),
            "multi_worker" (`MultiWorkerMirroredStrategy` over the workers of `TF_CONFIG`),
            "tpu" (`TPUStrategy` on `tpu`, a TPU name or grpc:// address).
        tpu: the TPU, for "tpu".
        num_cpu_devices: split the CPU into this many logical devices.

    Raises:
        InputError: an unknown name, "tpu" without `tpu`, "multi_worker" without TF_CONFIG.
    """
    if name not in STRATEGY_NAMES:
        raise InputError(f"Unknown strategy {name!r}; expected one of {STRATEGY_NAMES}.")
    if name == "tpu" and not tpu:
        raise InputError("The tpu strategy needs a TPU name or grpc:// address.")
    if name == "multi_worker":
        check_tf_config()
    if num_cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * num_cpu_devices)
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()
