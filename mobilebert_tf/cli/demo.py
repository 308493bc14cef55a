"""The `mobilebert-demo` command: `python -m mobilebert_tf.demo` (see mobilebert_tf/demo/)."""


def run_cli():
    """The `mobilebert-demo` command."""
    from mobilebert_tf import cli, demo
    demo.define_flags()
    cli.run(demo.main, demo.__name__)
