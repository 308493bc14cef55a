"""Entry points for CPU, GPU and Cloud TPU training (`python -m tpu.train`)."""
