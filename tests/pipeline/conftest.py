import contextlib
import io

import pytest

from mobilebert_tf.demo import SMOKE_CONFIG, run_demo


@pytest.fixture(scope="session")
def smoke_demo(tmp_path_factory):
    """The demo at smoke sizes (`python -m mobilebert_tf.demo --smoke`), run once in process:
    (work_dir, what it printed)."""
    work_dir = tmp_path_factory.mktemp("demo") / "work"
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        run_demo(str(work_dir), SMOKE_CONFIG)
    return work_dir, stdout.getvalue()
