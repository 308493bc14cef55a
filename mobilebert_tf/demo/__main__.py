"""`python -m mobilebert_tf.demo` (`make demo`): the `mobilebert-demo` command."""

from mobilebert_tf.cli.demo import run_cli

run_cli()
