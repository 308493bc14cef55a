"""Session-wide test settings: quiet TF logs, deterministic seeds per test, and `ram_path`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import uuid  # noqa: E402

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()


@pytest.fixture
def ram_path():
    """A fresh directory on TF's in-memory filesystem (`ram://<unique>`), removed afterwards:
    paths that only `tf.io.gfile` can use, as a `gs://` bucket would be."""
    root = f"ram://{uuid.uuid4().hex}"
    yield root
    try:
        tf.io.gfile.rmtree(root)
    except tf.errors.NotFoundError:  # ram:// has no directories: files only, maybe none
        for path in tf.io.gfile.glob(f"{root}/**"):
            if not tf.io.gfile.isdir(path):
                tf.io.gfile.remove(path)


# Shared fixtures built in a second or two (helpers, small files, flag lists): each worker may
# build its own, rather than tie every test that uses them to one worker.
CHEAP_FIXTURES = {"train_runner", "run_train", "records", "teacher_args", "make_mrpc",
                  "mrpc_dir", "stsb_dir", "make_squad_json", "squad_dir", "make_init_checkpoint",
                  "vocab_file", "vocab", "tokenizer", "corpus_file", "corpus_sentences"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """`make test` runs on both cores (pytest-xdist, `-n 2 --dist loadgroup`). Tests that share
    one of our session- or module-scoped fixtures (a trained teacher, the smoke demo, ...) go
    to one worker, so each such fixture is still built once. The slowest work is queued first
    (groups by their count of `slow` tests) and the quick tests fill in around it."""
    parent = {}

    def find(key):
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    shared = {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)  # pytest's own record of the item's fixtures
        keys = [f"{d.baseid}::{name}" for name, defs in (info.name2fixturedefs if info else {}).items()
                for d in defs if d.scope in ("session", "package", "module", "class") and d.baseid
                and name not in CHEAP_FIXTURES]
        if keys:
            shared[item] = keys
            for key in keys[1:]:
                parent[find(key)] = find(keys[0])
    group = {item: find(keys[0]) for item, keys in shared.items()}
    weight = {}  # (slow tests, tests) per group, or of the test itself
    for item in items:
        slow, count = weight.get(group.get(item, item), (0, 0))
        weight[group.get(item, item)] = (slow + bool(item.get_closest_marker("slow")), count + 1)
    for item, name in group.items():
        item.add_marker(pytest.mark.xdist_group(name))
    items.sort(key=lambda item: tuple(-w for w in weight[group.get(item, item)]))  # stable
