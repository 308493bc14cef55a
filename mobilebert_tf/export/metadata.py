"""Runtime metadata for exported `.tflite` files: what MediaPipe Tasks' `TextClassifier` and
the TFLite Task Library's `BertNLClassifier` / `BertQuestionAnswerer` read to run a file on
raw text, written with tflite-support's metadata writers.

- inputs: the signature's `input_word_ids`, `input_mask`, `input_type_ids` tensors get the
  metadata names `ids`, `mask`, `segment_ids` (how the runtimes find them);
- the vocab is packed in the file as a BertTokenizer process unit;
- a classifier's one output is `probability` (the Task Library finds it by that name) with
  range [0, 1] and the labels file; the softmax is in the graph (`probability_outputs`),
  since neither runtime applies one;
- a span labeler's outputs are `start_logits` / `end_logits`, at sequence length 384 only.

The writers come from tflite-support 0.4.4, installed `--no-deps`: its declared protobuf<4
would replace TensorFlow's, and its pure-Python writers do not need it. Its native helpers
link `libusb-1.0`, which the `libusb-package` wheel ships; it is loaded before them.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
from typing import Sequence

from mobilebert_tf import fileio
from mobilebert_tf.data.vocab import Vocab

# BertQuestionAnswerer's sequence length is compiled in (queries are cut at 64 tokens).
QA_SEQ_LENGTH = 384
CLASSIFIER_OUTPUT = "probability"
SPAN_OUTPUTS = ("start_logits", "end_logits")
# The runtimes' metadata names for our signature's inputs.
INPUT_NAMES = {"input_word_ids": "ids", "input_mask": "mask", "input_type_ids": "segment_ids"}
VOCAB_NAME = "vocab.txt"
LABELS_NAME = "labels.txt"
INSTALL_HINT = ("pip install --no-deps tflite-support==0.4.4 libusb-package==1.0.30.0 "
                "(make test and make demo install them)")


def probability_outputs(outputs: dict) -> dict:
    """A classifier's served outputs `{"logits"}` -> `{"probability": softmax(logits)}`."""
    import tensorflow as tf

    return {CLASSIFIER_OUTPUT: tf.nn.softmax(outputs["logits"], axis=-1)}


def read_labels(labels_file: str) -> list[str]:
    """Label names of `labels_file`, one per line (a final newline optional), in class-id
    order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8, a blank line or a repeated label.
    """
    try:
        lines = fileio.read_text(labels_file).rstrip("\n").split("\n")
    except UnicodeDecodeError as e:
        raise ValueError(f"Labels file {labels_file!r} is not UTF-8 (byte {e.start}).") from e
    labels = [line.strip() for line in lines]
    for i, label in enumerate(labels):
        if not label:
            raise ValueError(f"Labels file {labels_file!r} has a blank line {i + 1}.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"Labels file {labels_file!r} repeats a label: {labels}.")
    return labels


def classifier_labels(labels: Sequence[str] | str | None, num_classes: int) -> list[str]:
    """The label names of a classifier head: `labels` (names, or a labels file), else "0",
    "1", ...

    Raises:
        ValueError: not one label per class (naming the file), or a bad labels file.
    """
    if labels is None:
        return [str(i) for i in range(num_classes)]
    source = f"Labels file {labels!r}" if isinstance(labels, str) else "labels"
    labels = read_labels(labels) if isinstance(labels, str) else list(labels)
    if len(labels) != num_classes:
        raise ValueError(f"{source} has {len(labels)} labels {labels} but the model's head "
                         f"has {num_classes} classes.")
    return labels


def check_question_answerer_length(seq_length: int) -> None:
    """Raise `ValueError` unless `seq_length` is the one BertQuestionAnswerer runs."""
    if seq_length != QA_SEQ_LENGTH:
        raise ValueError(f"seq_length {seq_length}: the Task Library's BertQuestionAnswerer "
                         f"only runs sequence length {QA_SEQ_LENGTH}; export SQuAD models at "
                         f"--seq_length {QA_SEQ_LENGTH}, or without runtime metadata.")


def check_installed() -> None:
    """Raise `ImportError` naming the install command unless the metadata writers load."""
    _writers()


def _writers():
    """tflite-support's metadata modules, with the libusb their native helpers link."""
    try:
        import libusb_package
        path = libusb_package.get_library_path()
        if path is not None:  # else a system libusb-1.0 may be there
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    except ImportError:
        pass
    try:
        from tensorflow_lite_support.metadata import schema_py_generated as schema
        from tensorflow_lite_support.metadata.python.metadata_writers import (
            bert_nl_classifier, metadata_info, metadata_writer)
    except ImportError as e:
        raise ImportError(f"Writing runtime metadata needs tflite-support's metadata writers "
                          f"({e}): {INSTALL_HINT}.") from e
    return schema, metadata_info, metadata_writer, bert_nl_classifier


def signature_tensor_names(content: bytes) -> dict[str, str]:
    """`{signature key: tensor name}` of the first signature's inputs and outputs."""
    schema = _writers()[0]
    model = schema.Model.GetRootAsModel(content, 0)
    signature, subgraph = model.SignatureDefs(0), model.Subgraphs(0)
    names = {}
    for maps, count in ((signature.Inputs, signature.InputsLength()),
                        (signature.Outputs, signature.OutputsLength())):
        for i in range(count):
            names[maps(i).Name().decode()] = subgraph.Tensors(maps(i).TensorIndex()).Name().decode()
    return names


def _bert_inputs(content: bytes, vocab_path: str):
    _, info, _, _ = _writers()
    names = signature_tensor_names(content)
    return info.BertInputTensorsMd(
        bytearray(content), *(names[key] for key in INPUT_NAMES),
        tokenizer_md=info.BertTokenizerMd(vocab_path))


def add_classifier_metadata(content: bytes, vocab: Vocab, labels: Sequence[str],
                            name: str = "MobileBERT text classifier") -> bytes:
    """`content` (a `.tflite` whose one output is `probability`) with BertNLClassifier /
    TextClassifier metadata, the vocab and the labels packed.

    Raises:
        ValueError: the file's outputs are not just `probability`.
    """
    _, info, _, classifier = _writers()
    outputs = set(signature_tensor_names(content)) - set(INPUT_NAMES)
    if outputs != {CLASSIFIER_OUTPUT}:
        raise ValueError(f"A runtime classifier has one output {CLASSIFIER_OUTPUT!r} (the "
                         f"softmax in the graph); this file has {sorted(outputs)}.")
    with tempfile.TemporaryDirectory() as tmp:  # the writers read local files only
        vocab_path, labels_path = _local_files(tmp, vocab, labels)
        output = info.ClassificationTensorMd(
            name=CLASSIFIER_OUTPUT, description="Probability of each label (softmax).",
            label_files=[info.LabelFileMd(labels_path)],
            tensor_type=classifier.writer_utils.get_output_tensor_types(bytearray(content))[0])
        writer = classifier.MetadataWriter.create_from_metadata_info(
            bytearray(content), info.GeneralMd(name=name, description=(
                "Classifies text into the labels; inputs are BERT word-piece ids.")),
            _bert_inputs(content, vocab_path), output)
        return bytes(writer.populate())


def add_question_answerer_metadata(content: bytes, vocab: Vocab,
                                   name: str = "MobileBERT question answerer") -> bytes:
    """`content` (a span labeler at sequence length 384) with BertQuestionAnswerer metadata:
    the BERT inputs, outputs `start_logits` / `end_logits`, the vocab packed."""
    _, info, writer_module, _ = _writers()
    names = signature_tensor_names(content)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_path, _ = _local_files(tmp, vocab, None)
        inputs = _bert_inputs(content, vocab_path)
        model_outputs = writer_module.writer_utils.get_output_tensor_names(bytearray(content))
        by_tensor = {names[key]: info.TensorMd(name=key, description=f"{key} of each token.")
                     for key in SPAN_OUTPUTS}
        writer = writer_module.MetadataWriter.create_from_metadata(
            bytearray(content), info.GeneralMd(name=name, description=(
                "Finds the answer span of a question in a passage.")).create_metadata(),
            inputs.create_input_tesnor_metadata(),
            [by_tensor[tensor].create_metadata() for tensor in model_outputs],
            inputs.get_tokenizer_associated_files(), inputs.create_input_process_unit_metadata())
        return bytes(writer.populate())


def _local_files(directory: str, vocab: Vocab, labels: Sequence[str] | None):
    """The vocab and labels as `vocab.txt` / `labels.txt` in `directory`: the names they get
    inside the `.tflite`."""
    vocab_path = os.path.join(directory, VOCAB_NAME)
    fileio.write_text(vocab_path, "".join(f"{token}\n" for token in vocab.tokens))
    labels_path = None
    if labels is not None:
        labels_path = os.path.join(directory, LABELS_NAME)
        fileio.write_text(labels_path, "".join(f"{label}\n" for label in labels))
    return vocab_path, labels_path


def read_metadata(content: bytes) -> dict:
    """The metadata of a `.tflite` as JSON-like dict, and its packed files:
    `{"metadata": {...}, "files": {name: bytes}}`."""
    import json

    _writers()
    from tensorflow_lite_support.metadata.python import metadata

    displayer = metadata.MetadataDisplayer.with_model_buffer(content)
    return {"metadata": json.loads(displayer.get_metadata_json()),
            "files": {name: displayer.get_associated_file_buffer(name)
                      for name in displayer.get_packed_associated_file_list()}}
