"""The timing half of the side-by-side export benchmarks (`int8_attention.py`,
`int8_layer_norm.py`): print the setup, time the files interleaved, print the table against a
baseline, and optionally write it all to JSON."""

import datetime
import os

from mobilebert_tf import fileio
from mobilebert_tf.export import benchmark


def time_and_report(models: dict[str, bytes], setup: dict, baseline: str, rounds: int,
                    num_threads: int, output: str | None = None, extra: dict | None = None):
    """Time `models` (`benchmark.time_models`) and report them against `baseline`.

    Args:
        models: {name: .tflite bytes}.
        setup: {"preset", "seq_length"}: what was built, for the printout and the JSON.
        extra: More JSON fields (e.g. fidelity per model), printed too.
    """
    load_before = os.getloadavg()
    print(f"{datetime.date.today()}: {setup['preset']} at seq {setup['seq_length']}, batch 1, "
          f"random weights; LiteRT interpreter, XNNPACK, {num_threads} threads, 3 warm-up + "
          f"{rounds} interleaved rounds, {os.cpu_count()} CPUs visible; load average before "
          f"timing {load_before[0]:.2f}.")
    latencies = benchmark.time_models(models, num_threads, rounds=rounds)
    load_after = os.getloadavg()
    print(benchmark.format_table(latencies, baseline))
    for key, value in (extra or {}).items():
        print(f"{key}: {value}")
    print(f"load average after timing {load_after[0]:.2f}")
    if output:
        base = next(l.median_ms for l in latencies if l.name == baseline)
        fileio.write_json(output, {
            "date": str(datetime.date.today()),
            "setup": {**setup, "num_threads": num_threads, "rounds": rounds,
                      "load_average_1min": [load_before[0], load_after[0]]},
            "latencies": [vars(l) for l in latencies],
            f"ratio_to_{baseline}": {l.name: l.median_ms / base for l in latencies},
            **(extra or {})})
