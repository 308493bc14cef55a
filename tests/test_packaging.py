"""What `pip install` gives a user: a wheel built from this checkout holds the `mobilebert_tf`
package alone (the checkout's tpu/, export/ and experiments/ are scripts, not top-level
packages), and its console scripts, installed from it, run and show their flags."""

import configparser
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each command, the start of its module's docstring and a flag, both of which its --help must
# show (absl shows __main__'s, which for a console script is a wrapper without either).
COMMANDS = {"mobilebert-train": ("Train a MobileBERT", "--mode"),
            "mobilebert-export-tflite": ("Export a MobileBERT", "--calibration_task"),
            "mobilebert-benchmark-tflite": ("Latency of", "--reference"),
            "mobilebert-convert-checkpoint": ("Convert checkpoints", "--target_format"),
            "mobilebert-create-pretraining-data": ("Create MLM + NSP", "--dynamic_masking"),
            "mobilebert-demo": ("The main job", "--work_dir")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel of a copy of the checkout (a build writes build/ and *.egg-info beside
    setup.py)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "results")
    source.mkdir()
    shutil.copy(os.path.join(REPO, "setup.py"), source / "setup.py")
    for name in ("mobilebert_tf", "tpu", "export", "experiments"):
        shutil.copytree(os.path.join(REPO, name), source / name, ignore=ignore)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", str(source), "-w", str(root / "dist")],
                   check=True, capture_output=True, timeout=120)
    (path,) = (root / "dist").glob("mobilebert_tf-*.whl")
    return path


def _dist_info(names, wheel_file, name):
    (path,) = [n for n in names if n.endswith(".dist-info/" + name)]
    return wheel_file.read(path).decode("utf-8")


def test_wheel_holds_only_mobilebert_tf_and_declares_the_commands(wheel):
    with zipfile.ZipFile(wheel) as wheel_file:
        names = wheel_file.namelist()
        assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(
            ".dist-info")} == {"mobilebert_tf"}
        assert _dist_info(names, wheel_file, "top_level.txt").split() == ["mobilebert_tf"]
        assert "mobilebert_tf/cli/train.py" in names
        entry_points = configparser.ConfigParser()
        entry_points.read_string(_dist_info(names, wheel_file, "entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == {
        "mobilebert-train": "mobilebert_tf.cli.train:run_cli",
        "mobilebert-export-tflite": "mobilebert_tf.cli.export_tflite:run_cli",
        "mobilebert-benchmark-tflite": "mobilebert_tf.cli.benchmark_tflite:run_cli",
        "mobilebert-convert-checkpoint": "mobilebert_tf.cli.convert_checkpoint:run_cli",
        "mobilebert-create-pretraining-data":
            "mobilebert_tf.cli.create_pretraining_data:run_cli",
        "mobilebert-demo": "mobilebert_tf.cli.demo:run_cli"}


def test_installed_commands_show_their_flags(wheel, tmp_path):
    # The wheel installed into a directory of its own (the scripts' shebang is this Python)
    # and run from elsewhere, in parallel: each process imports TensorFlow.
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-compile", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=120)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=str(target))
    runs = {command: subprocess.Popen([str(target / "bin" / command), "--help"], cwd=tmp_path,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            for command in COMMANDS}
    for command, process in runs.items():
        stdout, stderr = process.communicate(timeout=300)
        # absl's --help exits 1, as a usage error does; a failed import prints no help.
        assert process.returncode == 1 and "Try --helpfull" in stdout, (command, stderr[-3000:])
        doc, flag = COMMANDS[command]
        assert stdout.startswith(doc), (command, stdout[:200])
        assert f"  {flag}:" in stdout or f"  --[no]{flag[2:]}:" in stdout, (command, stdout)
