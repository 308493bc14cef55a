"""The error contract of every command in setup.py (so a new one cannot forget it): a bad
input is one line on stderr, `<command>: error: <what>`, naming the flag and the value, with
exit status 2 and no traceback, and nothing else on stderr: run as a user would, without
`TF_CPP_MIN_LOG_LEVEL` set, TensorFlow's start-up lines must not bury it. Each case fails while
the flags are read, before any work."""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# command -> (arguments, the one line it must print after "<command>: error: ")
CASES = {
    # An int flag out of its range.
    "mobilebert-train": (["--mode", "teacher", "--train_files", "r", "--model_dir", "m",
                          "--num_cpu_devices", "0"],
                         "flag --num_cpu_devices=0: 0 is not a positive integer (see --help)"),
    "mobilebert-benchmark-tflite": (["--rounds", "0"],
                                    "flag --rounds=0: 0 is not a positive integer (see --help)"),
    # Arguments left over after the flags: an unquoted glob the shell expanded.
    "mobilebert-export-tflite": (["--checkpoint", "run", "--output_dir", "out",
                                  "--calibration_records", "records/a", "records/b"],
                                 "unexpected arguments ['records/b']; quote glob patterns "
                                 "(--train_files='records/*') (see --help)"),
    "mobilebert-create-pretraining-data": (
        ["--input_file", "corpus/a.txt", "corpus/b.txt", "--output_dir", "out"],
        "Unexpected arguments ['corpus/b.txt']: quote glob patterns "
        "(--input_file='corpus/*.txt'); Beam options go after --. (see --help)"),
    "mobilebert-demo": (["runs"], "unexpected arguments ['runs']; quote glob patterns "
                                  "(--train_files='records/*') (see --help)"),
    # A boolean override that is not one.
    "mobilebert-convert-checkpoint": (
        ["--source_format", "hf", "--source", "s", "--output_dir", "out",
         "--config_override", "use_trigram=ture"],
        "--config_override: Bad override 'use_trigram=ture': use_trigram takes "
        "true/false/1/0/yes/no. (see --help)"),
}


def commands():
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as f:
        return re.findall(r'"(mobilebert-[a-z-]+) = ', f.read())


def test_every_command_has_a_case():
    assert sorted(commands()) == sorted(CASES)


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_bad_input_is_one_line_and_status_2(command, tmp_path):
    args, line = CASES[command]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), command), *args], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.splitlines() == [f"{command}: error: {line}"]
    assert not os.listdir(tmp_path)  # nothing written
