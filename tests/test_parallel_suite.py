"""`make test`'s two worker processes: tests that share a built fixture are kept together
(tests/conftest.py), or each worker would build the fixture again."""

import pytest


@pytest.fixture(scope="module")
def built_once():
    return object()


def test_tests_sharing_a_fixture_form_one_group_on_one_worker(request, built_once):
    groups = [mark.args[0] for mark in request.node.iter_markers("xdist_group")]
    assert groups == ["tests/test_parallel_suite.py::built_once"]
    if getattr(request.config.option, "loadgroup", False):  # a worker of `-n 2 --dist loadgroup`
        # pytest-xdist schedules by this suffix; pytest 9.2 drops it (setup.py pins 9.1).
        assert request.node.nodeid.endswith(f"@{groups[0]}")


def test_a_test_without_shared_fixtures_is_free(request):
    assert not list(request.node.iter_markers("xdist_group"))
