"""`make_strategy`: the `tf.distribute` strategy of a run, by name."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.error

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


def make_strategy(name: str, tpu: str | None = None, num_cpu_devices: int = 1,
                  timeout: float = 300) -> tf.distribute.Strategy:
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
        timeout: seconds to wait for the TPU, or for every worker of TF_CONFIG, to answer.
            TensorFlow waits for them in C++ and cannot be interrupted, so past it the
            process prints one line naming what it waited for and is killed (`_deadline`).

    Raises:
        InputError: an unknown name, "tpu" without `tpu` or with a name that does not
            resolve, "multi_worker" without TF_CONFIG, fewer than one CPU device.
    """
    if name not in STRATEGY_NAMES:
        raise InputError(f"Unknown strategy {name!r}; expected one of {STRATEGY_NAMES}.")
    if name == "tpu" and not tpu:
        raise InputError("The tpu strategy needs a TPU name or grpc:// address.")
    if not isinstance(num_cpu_devices, int) or num_cpu_devices < 1:
        raise InputError(f"num_cpu_devices must be a positive integer; got {num_cpu_devices!r}.")
    if name == "multi_worker":
        cluster = check_tf_config()
    if num_cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * num_cpu_devices)
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        except (ValueError, OSError, urllib.error.URLError) as e:  # not a TPU of this VM
            raise InputError(f"--tpu {tpu!r} does not resolve to a TPU ({e}).") from None
        with _deadline(timeout, f"--tpu {tpu!r} did not answer within {timeout:g} s "
                                "(--cluster_timeout)."):
            tf.config.experimental_connect_to_cluster(resolver)
            try:
                tf.tpu.experimental.initialize_tpu_system(resolver)
            except tf.errors.NotFoundError as e:  # "local" on a VM without TPU chips
                raise InputError(f"--tpu {tpu!r}: {e.message.splitlines()[0].split('. ')[0]} "
                                 "(no TPU there: run on a TPU VM, or name its TPU).") from None
        return tf.distribute.TPUStrategy(resolver)
    if name == "multi_worker":
        index = cluster["task"].get("index")
        others = [w for i, w in enumerate(cluster["workers"]) if i != index]
        with _deadline(timeout, f"the workers {others} of TF_CONFIG did not all come up within "
                                f"{timeout:g} s (--cluster_timeout)."):
            return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


# The watchdog of `_deadline`, a process of its own: TensorFlow waits for peers in C++ holding
# the GIL, so no thread of this process runs, and it has its own SIGTERM handler.
_WATCH = """
import os, select, signal, sys
pid, seconds, line = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
if not select.select([sys.stdin], [], [], seconds)[0]:  # not closed in time: still waiting
    sys.stderr.write(line + "\\n")
    sys.stderr.flush()
    os.kill(pid, signal.SIGKILL)
"""


@contextlib.contextmanager
def _deadline(seconds: float, message: str):
    """Print `message` as a one-line error and kill the process (SIGKILL: status 137 in a
    shell) if the block has not finished within `seconds`: for waits in TensorFlow's C++ that
    no Python exception, thread or signal handler of this process reaches."""
    line = f"{os.path.basename(sys.argv[0])}: error: {message}"
    watcher = subprocess.Popen([sys.executable, "-c", _WATCH, str(os.getpid()), str(seconds),
                                line], stdin=subprocess.PIPE)
    try:
        yield
    finally:
        watcher.stdin.close()  # done in time: the watcher exits
        watcher.wait()
