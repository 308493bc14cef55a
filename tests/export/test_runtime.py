"""Runtime-ready `.tflite`: every precision of a tiny classifier classifies real dev texts in
MediaPipe Tasks' `TextClassifier` (a real runtime) as the Python pipeline does with the
device's text normalization; the metadata read back field by field; bad input refused."""

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import MobileBertClassifier, MobileBertSpanLabeler, build_encoder
from mobilebert_tf.data import sentiment
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.data.vocab import Vocab, default_vocab_file
from mobilebert_tf.export import exporter, metadata, tflite
from mobilebert_tf.testing import randomize_norms

SEQ = 48
PRESET = "mobilebert_mini"
# Bounds against the Python pipeline on the dev texts: float32 differs by summation order
# only; the others as `fidelity.TOLERANCES`' top-1 agreement.
MIN_TOP1 = {"float32": 1.0, "float16": 0.95, "dynamic_int8": 0.9, "int8": 0.85}


def _dev_texts(count=36):
    """Real sentiment dev texts: every one with a non-ASCII character (accents, `…`), then
    ASCII ones up to `count`."""
    texts = [e.text_a for e in sentiment.read_rotten_tomatoes("validation")]
    special = [t for t in texts if not t.isascii()]
    return (special + [t for t in texts if t.isascii()])[:max(count, len(special))]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 1-layer classifier on the BERT uncased vocab, exported in all four precisions."""
    out = str(tmp_path_factory.mktemp("runtime"))
    model = MobileBertClassifier(build_encoder(PRESET, num_layers=1), num_classes=2)
    model(model.example_inputs())
    randomize_norms(model.encoder)
    kernel = model.classifier.kernel
    kernel.assign(kernel * 20.0)  # decisive probabilities, so top-1 is a real check
    calibration = exporter.examples_from_task("sentiment", "train", None, 16, 1, SEQ, 30522)
    results = exporter.export(model, out, seq_length=SEQ, calibration=calibration,
                              fidelity_examples=calibration[:4], log=lambda _: None,
                              labels=sentiment.LABELS)
    return model, {p: r["path"] for p, r in results.items()}


def _python_probabilities(model, texts, normalization):
    tokenizer = BertInputTokenizer(seq_length=SEQ, normalization=normalization)
    return tf.nn.softmax(model(tokenizer(tf.constant(texts))), axis=-1).numpy()


def _mediapipe_probabilities(path, texts):
    from mediapipe.tasks.python import text as mp_text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = mp_text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=path))
    with mp_text.TextClassifier.create_from_options(options) as classifier:
        rows = []
        for text in texts:
            scores = {c.category_name: c.score
                      for c in classifier.classify(text).classifications[0].categories}
            rows.append([scores[label] for label in sentiment.LABELS])
    return np.array(rows)


def test_mediapipe_classifies_dev_texts_as_the_python_pipeline(exported):
    model, paths = exported
    texts = _dev_texts()
    device = _python_probabilities(model, texts, "device")
    bert = _python_probabilities(model, texts, "bert")
    assert sum(not t.isascii() for t in texts) >= 20 and any("…" in t for t in texts)
    assert np.abs(device - bert).max() > 1e-3  # the normalizations differ on these texts
    for precision, path in paths.items():
        got = _mediapipe_probabilities(path, texts)
        top1 = np.mean(got.argmax(-1) == device.argmax(-1))
        assert top1 >= MIN_TOP1[precision], (precision, top1)
        if precision == "float32":
            np.testing.assert_allclose(got, device, atol=2e-5)


def _tensor_metadata_names(content, metadata_list, kind):
    """`{model tensor name: metadata name}`: metadata lists follow the model's tensor order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    details = (interpreter.get_input_details() if kind == "inputs"
               else interpreter.get_output_details())
    return {d["name"]: m["name"] for d, m in zip(details, metadata_list)}


def _inputs_by_key(content, subgraph):
    tensors = metadata.signature_tensor_names(content)
    names = _tensor_metadata_names(content, subgraph["input_tensor_metadata"], "inputs")
    return {key: names[tensors[key]] for key in metadata.INPUT_NAMES}


def test_metadata_read_back_field_by_field(exported):
    _, paths = exported
    vocab = "".join(f"{token}\n" for token in Vocab.load(default_vocab_file()).tokens)
    for precision, path in paths.items():
        with open(path, "rb") as f:
            content = f.read()
        read = metadata.read_metadata(content)
        assert set(metadata.signature_tensor_names(content)) == {
            "input_word_ids", "input_mask", "input_type_ids", "probability"}
        subgraph = read["metadata"]["subgraph_metadata"][0]
        assert _inputs_by_key(content, subgraph) == {
            "input_word_ids": "ids", "input_mask": "mask", "input_type_ids": "segment_ids"}
        (unit,) = subgraph["input_process_units"]
        assert unit["options_type"] == "BertTokenizerOptions"
        (vocab_file,) = unit["options"]["vocab_file"]
        assert (vocab_file["name"], vocab_file["type"]) == ("vocab.txt", "VOCABULARY")
        (output,) = subgraph["output_tensor_metadata"]
        assert output["name"] == "probability", precision
        assert output["stats"] == {"max": [1.0], "min": [0.0]}
        (labels,) = output["associated_files"]
        assert (labels["name"], labels["type"]) == ("labels.txt", "TENSOR_AXIS_LABELS")
        assert sorted(read["files"]) == ["labels.txt", "vocab.txt"]
        assert read["files"]["labels.txt"].decode() == "rotten\nfresh\n"
        assert read["files"]["vocab.txt"].decode() == vocab


def test_question_answerer_metadata_at_384(tmp_path):
    model = MobileBertSpanLabeler(build_encoder(PRESET, num_layers=1))
    model(model.example_inputs())
    runtime = exporter.runtime_files(model, metadata.QA_SEQ_LENGTH, 1)
    assert runtime.postprocess is None  # logits, as BertQuestionAnswerer reads them
    saved = tflite.save_saved_model(model, str(tmp_path / "sm"), 1, metadata.QA_SEQ_LENGTH)
    content = runtime.attach(tflite.convert(saved, "float32"))
    read = metadata.read_metadata(content)
    subgraph = read["metadata"]["subgraph_metadata"][0]
    tensors = metadata.signature_tensor_names(content)
    outputs = _tensor_metadata_names(content, subgraph["output_tensor_metadata"], "outputs")
    assert outputs == {tensors["start_logits"]: "start_logits",
                       tensors["end_logits"]: "end_logits"}
    assert _inputs_by_key(content, subgraph) == {
        "input_word_ids": "ids", "input_mask": "mask", "input_type_ids": "segment_ids"}
    assert subgraph["input_process_units"][0]["options_type"] == "BertTokenizerOptions"
    assert sorted(read["files"]) == ["vocab.txt"]


def _classifier(num_classes=2, vocab_size=30522):
    model = MobileBertClassifier(build_encoder(PRESET, num_layers=1, vocab_size=vocab_size),
                                 num_classes=num_classes)
    model(model.example_inputs())
    return model


def test_bad_runtime_inputs_are_refused_before_any_work(tmp_path):
    out = tmp_path / "out"
    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("negative\nneutral\npositive\n")
    with pytest.raises(ValueError, match=f"Labels file '{labels_file}' has 3 labels .* but "
                                         "the model's head has 2 classes"):
        exporter.export(_classifier(), str(out), ["float32"], SEQ, labels=str(labels_file))
    with pytest.raises(ValueError, match="has 30522 tokens but the model has vocab_size=500"):
        exporter.export(_classifier(vocab_size=500), str(out), ["float32"], SEQ)
    squad = MobileBertSpanLabeler(build_encoder(PRESET, num_layers=1))
    squad(squad.example_inputs())
    with pytest.raises(ValueError, match="seq_length 128: .*only runs sequence length 384"):
        exporter.export(squad, str(out), ["float32"], 128)
    assert not out.exists()  # refused before anything was written
    labels_file.write_text("a\n\nb\n")
    with pytest.raises(ValueError, match=f"Labels file '{labels_file}' has a blank line 2"):
        exporter.export(_classifier(), str(out), ["float32"], SEQ, labels=str(labels_file))
