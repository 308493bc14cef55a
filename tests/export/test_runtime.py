"""Runtime-ready `.tflite`: every precision of a tiny classifier classifies real dev texts in
MediaPipe Tasks' `TextClassifier` and the TFLite Task Library's `BertNLClassifier` (real
runtimes) as the Python pipeline does with the device's text normalization; a span labeler
answers in `BertQuestionAnswerer`; the metadata read back field by field; bad input refused."""

import os

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf import MobileBertClassifier, MobileBertSpanLabeler, build_encoder
from mobilebert_tf.data import sentiment
from mobilebert_tf.data.tokenizer import BertInputTokenizer
from mobilebert_tf.data.vocab import Vocab, default_vocab_file
from mobilebert_tf.export import exporter, metadata, runtimes, tflite
from mobilebert_tf.weights import randomize_norms

SEQ = 48
PRESET = "mobilebert_mini"


def _dev_texts(count=40):
    """Real sentiment dev texts: every one whose ids differ under the two normalizations
    (accented letters, `…`), then others up to `count`."""
    texts = [e.text_a for e in sentiment.read_rotten_tomatoes("validation")]
    device, bert = (BertInputTokenizer(seq_length=SEQ, normalization=n).encode(texts)
                    for n in ("device", "bert"))
    differ = [t for t, a, b in zip(texts, device, bert) if a != b]
    return differ + [t for t, a, b in zip(texts, device, bert) if a == b][:count - len(differ)]


def _python_inputs(texts, normalization="device"):
    return BertInputTokenizer(seq_length=SEQ, normalization=normalization)(tf.constant(texts))


def _python_probabilities(model, texts, normalization):
    return tf.nn.softmax(model(_python_inputs(texts, normalization)), axis=-1).numpy()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 1-layer classifier on the BERT uncased vocab, exported in all four precisions. Its
    head is set so the dev texts' logit margins spread over +-4 around 0: a random encoder
    alone gives every text nearly the same probability, and top-1 would check nothing."""
    out = str(tmp_path_factory.mktemp("runtime"))
    model = MobileBertClassifier(build_encoder(PRESET, num_layers=1), num_classes=2)
    model(model.example_inputs())
    randomize_norms(model.encoder)
    texts = _dev_texts()
    margin = np.diff(model(_python_inputs(texts)).numpy(), axis=-1)[:, 0]
    kernel, bias = model.classifier.kernel, model.classifier.bias
    scale = 4.0 / margin.std()
    kernel.assign(kernel * scale)
    bias.assign(bias * scale + [np.median(margin) * scale, 0.0])
    # `exporter.export`'s steps without its fidelity bounds: a random encoder's outputs vary
    # so little between texts that the head above magnifies quantization noise past them.
    runtime = exporter.runtime_files(model, SEQ, 1, labels=sentiment.LABELS)
    saved = tflite.save_saved_model(model, f"{out}/saved_model", 1, SEQ,
                                    postprocess=runtime.postprocess)
    calibration = exporter.examples_from_task("sentiment", "train", None, 16, 1, SEQ, 30522)
    paths = {}
    for precision in tflite.PRECISIONS:
        paths[precision] = f"{out}/model_{precision}.tflite"
        with open(paths[precision], "wb") as f:
            f.write(runtime.attach(tflite.convert(saved, precision, lambda: calibration)))
    return model, paths


def _mediapipe_probabilities(path, texts):
    with open(path, "rb") as f:
        return runtimes.mediapipe_probabilities(f.read(), texts, sentiment.LABELS)


def test_mediapipe_classifies_dev_texts_as_the_python_pipeline(exported):
    """In every precision MediaPipe gives the probabilities of our LiteRT run of the same file
    on `normalization="device"` ids; float32 also those of the Keras model (top-1 exact)."""
    model, paths = exported
    texts = _dev_texts()
    inputs = {k: v.numpy() for k, v in _python_inputs(texts).items()}
    device = _python_probabilities(model, texts, "device")
    bert = _python_probabilities(model, texts, "bert")
    assert sum("…" in t for t in texts) >= 2 and sum(not t.isascii() for t in texts) >= 15
    assert np.abs(device - bert).max() > 1e-2  # these texts tell the normalizations apart
    assert 0.25 < device.argmax(-1).mean() < 0.75  # both classes predicted
    for precision, path in paths.items():
        got = _mediapipe_probabilities(path, texts)
        with open(path, "rb") as f:
            ours = tflite.run_tflite(f.read(), exporter.batches(inputs, 1))
        ours = np.concatenate([o["probability"] for o in ours])
        np.testing.assert_allclose(got, ours, atol=1e-5, err_msg=precision)
        np.testing.assert_array_equal(got.argmax(-1), ours.argmax(-1), err_msg=precision)
    got = _mediapipe_probabilities(paths["float32"], texts)
    np.testing.assert_array_equal(got.argmax(-1), device.argmax(-1))
    # The head's x-scale (fixture) magnifies float32 summation-order differences (4e-5 seen).
    np.testing.assert_allclose(got, device, atol=2e-4)


def _task_library_python():
    python = os.environ.get(runtimes.TASK_LIBRARY_PYTHON_ENV)
    assert python, (f"{runtimes.TASK_LIBRARY_PYTHON_ENV} names no Python with the Task Library "
                    "(tflite-support 0.4.4): run the tests with `make test`, which makes one.")
    return python


def test_task_library_classifies_dev_texts_as_litert(exported):
    """Every precision loads in the Task Library's `BertNLClassifier` (dynamic int8 too: its
    runtime predates per-channel hybrid FULLY_CONNECTED) and gives our LiteRT run's
    probabilities on `normalization="device"` ids: to rounding in float; in int8 (its own
    older kernels) within 0.2, with top-1 the same on >= 85% (the int8 fidelity bound's)."""
    _, paths = exported
    texts = _dev_texts()
    inputs = {k: v.numpy() for k, v in _python_inputs(texts).items()}
    files = {}
    for precision, path in paths.items():
        with open(path, "rb") as f:
            files[precision] = f.read()
    results = runtimes.task_library_results(_task_library_python(), files, "classifier", texts)
    # Its int8 kernels are not XNNPACK's, and the fixture's head magnifies the difference.
    tolerance = {"float32": 1e-4, "float16": 1e-4, "dynamic_int8": 0.2, "int8": 0.2}
    for precision, content in files.items():
        got = runtimes.classifier_scores(results[precision], sentiment.LABELS)
        ours = tflite.run_tflite(content, exporter.batches(inputs, 1))
        ours = np.concatenate([o["probability"] for o in ours])
        np.testing.assert_allclose(got, ours, atol=tolerance[precision], err_msg=precision)
        same_top1 = np.mean(got.argmax(-1) == ours.argmax(-1))
        assert same_top1 >= (0.85 if "int8" in precision else 1.0), (precision, same_top1)


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


QUESTION = "What is MobileBERT?"
CONTEXT = ("MobileBERT is a thin version of BERT large with bottleneck structures and a "
           "balance between self-attentions and feed-forward networks.")
ANSWER = "a thin version of BERT large"


def _span_labeler_answering(question, context, answer):
    """A 1-layer span labeler whose head is fitted (least squares on its own encoder's
    outputs at the real tokens of this one input, packed as the runtime packs it: [CLS]
    question [SEP] context [SEP]) to give `answer`'s first token start logit 8, its last end
    logit 8, and every other real token -8."""
    seq = metadata.QA_SEQ_LENGTH
    tokenizer = BertInputTokenizer(seq_length=seq, normalization="device")
    inputs = tokenizer(tf.constant([question]), tf.constant([context]))
    ids = inputs["input_word_ids"][0].numpy().tolist()
    (pieces,) = tokenizer.encode([answer])
    start = next(i for i in range(ids.index(tokenizer.vocab.sep_id), seq)
                 if ids[i:i + len(pieces)] == pieces)
    model = MobileBertSpanLabeler(build_encoder(PRESET, num_layers=1))
    model(inputs)
    real = len(ids) - ids.count(tokenizer.vocab.pad_id)
    features = model.encoder(inputs)["sequence_output"][0, :real].numpy().astype(np.float64)
    targets = np.full([real, 2], -8.0)
    targets[start, 0] = targets[start + len(pieces) - 1, 1] = 8.0
    solution = np.linalg.lstsq(np.pad(features, [[0, 0], [0, 1]], constant_values=1.0),
                               targets, rcond=None)[0]
    model.span_logits.kernel.assign(solution[:-1].astype(np.float32))
    model.span_logits.bias.assign(solution[-1].astype(np.float32))
    outputs = model(inputs)
    np.testing.assert_allclose(outputs["start_logits"][0, :real], targets[:, 0], atol=1e-3)
    np.testing.assert_allclose(outputs["end_logits"][0, :real], targets[:, 1], atol=1e-3)
    return model


def test_question_answerer_runs_in_the_task_library_at_384(tmp_path):
    """A span labeler's file, metadata read back, answers in `BertQuestionAnswerer` with the
    span its logits point at, and that answer's logit (start + end) is the 16 the head was
    fitted to: the runtime feeds the ids, mask and segments we fitted on, start and end in
    their places."""
    model = _span_labeler_answering(QUESTION, CONTEXT, ANSWER)
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
    (result,) = runtimes.task_library_results(_task_library_python(), {"qa": content},
                                              "question_answerer",
                                              questions=[(CONTEXT, QUESTION)]).values()
    assert "error" not in result, result
    (answers,) = result["answers"]
    assert answers[0]["text"] == ANSWER, answers[:3]
    assert abs(answers[0]["logit"] - 16.0) < 1e-2, answers[:3]


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
