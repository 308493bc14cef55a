import pytest

from mobilebert_tf.testing import run_module


@pytest.fixture(scope="session")
def smoke_demo(tmp_path_factory):
    """`python -m mobilebert_tf.demo --smoke` run once: (work_dir, its stdout)."""
    work_dir = tmp_path_factory.mktemp("demo") / "work"
    result = run_module("mobilebert_tf.demo", ["--smoke", "--work_dir", str(work_dir)])
    return work_dir, result.stdout
