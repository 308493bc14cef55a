"""mobilebert-tf: MobileBERT teacher, distillation, fine-tuning and TFLite export in tf_keras."""

import setuptools

# The stack is pinned as a whole: TF, tf-keras, tensorflow-text and tf-models-official move
# together (their ABIs and Keras versions must match).
INSTALL_REQUIRES = [
    "tensorflow==2.20.0",
    "tf-keras==2.20.1",
    "tf-models-official==2.20.0",
    "tensorflow-text==2.20.1",
    "tensorflow-datasets==4.9.10",
    "importlib_resources>=6",  # tensorflow-datasets 4.9.10 imports it without declaring it.
    "ai-edge-litert==2.3.0",
    "absl-py>=1.4",
    "scipy>=1.10",  # GLUE correlation metrics
    "tqdm>=4",
    "matplotlib>=3.8",
    "safetensors==0.8.0",  # Hugging Face checkpoints (numpy API; BF16 through ml_dtypes)
    # Pretraining records at corpus scale. 2.77 is the newest release; every Beam release caps
    # protobuf < 7, so pip picks protobuf 6.33 (TensorFlow 2.20 takes >= 5.28); 2.62-2.70 would
    # also pull numpy back below 2.3. From 2.70 TFRecord writes need the tfrecord extra (crc32c).
    "apache-beam[tfrecord]==2.77.0",
]

# Installed commands; in a checkout, `python -m tpu.train`, `python -m export.export_tflite` and
# `python -m export.benchmark_tflite` run the same code.
CONSOLE_SCRIPTS = [
    "mobilebert-train = mobilebert_tf.cli.train:run_cli",
    "mobilebert-export-tflite = mobilebert_tf.cli.export_tflite:run_cli",
    "mobilebert-benchmark-tflite = mobilebert_tf.cli.benchmark_tflite:run_cli",
    "mobilebert-convert-checkpoint = mobilebert_tf.cli.convert_checkpoint:run_cli",
    "mobilebert-create-pretraining-data = mobilebert_tf.cli.create_pretraining_data:run_cli",
    "mobilebert-demo = mobilebert_tf.cli.demo:run_cli",
]

setuptools.setup(
    name="mobilebert_tf",
    version="0.1.0",
    description="MobileBERT in TensorFlow/Keras: IB-BERT teacher, progressive knowledge "
    "transfer, fine-tuning and quantized TFLite export.",
    # Only our own package: the checkout's tpu/, export/ and experiments/ are scripts, not
    # top-level packages to put into site-packages.
    packages=setuptools.find_packages(include=["mobilebert_tf", "mobilebert_tf.*"]),
    python_requires=">=3.11,<3.12",
    install_requires=INSTALL_REQUIRES,
    # `make test` runs on both cores with pytest-xdist's --dist loadgroup, which pytest 9.2
    # breaks (it ignores the group xdist 3.8 writes into the test ids: groups split, shared
    # fixtures are built twice).
    # gcp: Beam's gs:// filesystem and DataflowRunner, for record creation on Google Cloud.
    extras_require={
        # tensorflow-hub: the encoder export is tested as TF-Hub users load it.
        "test": ["pytest==9.1.1", "pytest-xdist==3.8.0", "tensorflow-hub==0.16.1"],
        "gcp": ["apache-beam[gcp]==2.77.0"],
    },
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
