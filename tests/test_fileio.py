"""`fileio.staged_outputs`: a command's outputs appear in its directory only once all are
written; a failure leaves them under `output.incomplete` and the earlier files as they were."""

import pytest

from mobilebert_tf import fileio
from mobilebert_tf.testing import file_contents


@pytest.mark.parametrize("filesystem", ["local", "ram"])
def test_a_failed_write_leaves_the_earlier_outputs_and_names_the_partial_ones(
        filesystem, tmp_path, ram_path):
    out = f"{tmp_path if filesystem == 'local' else ram_path}/out"
    fileio.write_text(f"{out}/run_config.json", "owner")
    with fileio.staged_outputs(out) as staging:
        fileio.write_text(f"{staging}/config.json", "first")
        fileio.write_text(f"{staging}/saved_model/variables/v.index", "first")
        fileio.write_text(f"{staging}/saved_model/old.pb", "first")
    earlier = file_contents(out)
    assert earlier == {"run_config.json": b"owner", "config.json": b"first",
                       "saved_model/variables/v.index": b"first",
                       "saved_model/old.pb": b"first"}

    with pytest.raises(RuntimeError, match="mid-way"):
        with fileio.staged_outputs(out) as staging:
            fileio.write_text(f"{staging}/config.json", "second")
            raise RuntimeError("failed mid-way")
    assert file_contents(out) == {**earlier, f"{fileio.STAGING_DIR}/config.json": b"second"}

    # The next run starts afresh; a directory it writes replaces the earlier one whole.
    with fileio.staged_outputs(out) as staging:
        fileio.write_text(f"{staging}/config.json", "third")
        fileio.write_text(f"{staging}/saved_model/variables/v.index", "third")
    assert fileio.staged_path(f"{staging}/config.json", staging, out) == f"{out}/config.json"
    assert file_contents(out) == {"run_config.json": b"owner", "config.json": b"third",
                           "saved_model/variables/v.index": b"third"}
