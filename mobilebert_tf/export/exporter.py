"""Export a model to SavedModel and every requested `.tflite` precision, then check each
`.tflite` against the Keras model (always: an export that drifts fails loudly)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from mobilebert_tf import fileio
from mobilebert_tf.data import pretraining_dataset
from mobilebert_tf.data.vocab import Vocab, check_vocab_size, default_vocab_file
from mobilebert_tf.encoder import INPUT_KEYS
from mobilebert_tf.errors import InputError
from mobilebert_tf.export import fidelity, metadata, text_serving, tflite
from mobilebert_tf.models import MobileBertClassifier, MobileBertSpanLabeler
from mobilebert_tf.signature import save_encoder_saved_model

def examples_from_records(file_pattern: str, count: int, batch_size: int,
                          seq_length: int) -> list[dict[str, np.ndarray]]:
    """Up to `count` input dicts of shape `[batch_size, seq_length]` from BERT pretraining
    TFRecords (read in file order by the training pipeline); rows are truncated or
    zero-padded to `seq_length`."""
    files = pretraining_dataset.list_record_files(file_pattern)
    record_seq, predictions = pretraining_dataset.record_lengths(files[0])
    # Unmasked records (dynamic masking) get masks drawn as in training: any cap will do.
    dataset = pretraining_dataset.pretraining_dataset(
        files, record_seq, predictions or 20, batch_size, shuffle=False, repeat=False)

    def fit(values):
        values = values[:, :seq_length]
        return np.pad(values, [[0, 0], [0, seq_length - values.shape[1]]])

    return [{key: fit(batch[key].numpy()) for key in INPUT_KEYS}
            for batch in dataset.take(count)]


def examples_from_task(task_name: str, split: str, vocab_file: str | None, count: int,
                       batch_size: int, seq_length: int, vocab_size: int | None = None,
                       data_dir: str | None = None, use_tfds: bool = False,
                       normalization: str = "bert") -> list[dict[str, np.ndarray]]:
    """Up to `count` input dicts of shape `[batch_size, seq_length]` from a fine-tuning task's
    split (`finetune.tasks`: sentiment, GLUE, SQuAD), spread evenly over the split and
    tokenized as fine-tuning does (with the text `normalization` the model was fine-tuned
    with, see `BertInputTokenizer`); SQuAD gives one window per example.

    Raises:
        InputError (a ValueError): unknown task, missing data, the vocab's size is not
            `vocab_size` (the model's), or the split is empty.
    """
    from mobilebert_tf.data.tokenizer import BertInputTokenizer
    from mobilebert_tf.finetune import kinds, tasks

    task = tasks.get_task(task_name)
    tokenizer = BertInputTokenizer(vocab_file, seq_length=seq_length,
                                   normalization=normalization)
    if vocab_size is not None:
        check_vocab_size(tokenizer.vocab, vocab_size)
    # SQuAD windows as fine-tuning makes them, shrunk to fit a short export.
    kind = kinds.make_kind(task, tokenizer, seq_length, kinds.SpanSettings(
        doc_stride=min(128, seq_length // 2), max_query_length=min(64, seq_length // 2)))
    examples = kind.read_examples(split, tasks.DataSource(data_dir, use_tfds))
    if not examples:  # None: an absent test split
        raise InputError(f"{task.name} {split} has no examples to calibrate on.")
    wanted = count * batch_size
    return batches(kind.example_inputs(examples[::max(len(examples) // wanted, 1)][:wanted]),
                   batch_size)


def batches(inputs: dict[str, np.ndarray], batch_size: int) -> list[dict[str, np.ndarray]]:
    """`{key: [n, seq]}` -> input dicts of `batch_size` rows (a partial last batch dropped:
    the exported signature's batch is fixed)."""
    n = len(next(iter(inputs.values())))
    return [{key: value[i:i + batch_size] for key, value in inputs.items()}
            for i in range(0, n - batch_size + 1, batch_size)]


def random_examples(count: int, batch_size: int, seq_length: int, vocab_size: int,
                    seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Input dicts of random ids with random amounts of padding, when no real text is given."""
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        lengths = rng.integers(max(2, seq_length // 4), seq_length + 1, size=batch_size)
        mask = (np.arange(seq_length)[None] < lengths[:, None]).astype(np.int32)
        # Above BERT's special and unused ids when the vocabulary is large enough.
        low = min(1000, vocab_size // 2)
        ids = rng.integers(low, vocab_size, size=(batch_size, seq_length)).astype(np.int32)
        examples.append({"input_word_ids": ids * mask, "input_mask": mask,
                         "input_type_ids": np.zeros_like(mask)})
    return examples


def keras_outputs(model: keras.Model, examples: Iterable[dict],
                  postprocess: Callable[[dict], dict] | None = None,
                  ) -> list[dict[str, np.ndarray]]:
    """The exported outputs of the Keras model on each example (mapped by `postprocess`, as
    the exported graph maps them)."""
    results = []
    for example in examples:
        outputs = tflite.serving_outputs(model, example)
        outputs = postprocess(outputs) if postprocess else outputs
        results.append({k: np.asarray(v) for k, v in outputs.items()})
    return results


@dataclasses.dataclass
class RuntimeFiles:
    """How `export` makes a task model's `.tflite` runnable in MediaPipe Tasks and the TFLite
    Task Library: `postprocess` in the graph, then `attach` (metadata, vocab, labels)."""

    postprocess: Callable[[dict], dict] | None
    attach: Callable[[bytes], bytes]
    description: str


def runtime_files(model: keras.Model, seq_length: int, batch_size: int,
                  vocab: Vocab | str | None = None,
                  labels: Sequence[str] | str | None = None) -> RuntimeFiles | None:
    """The runtime metadata plan for `model`, checked before any work: None for an encoder
    or a regression head (no runtime task takes them).

    Args:
        model: the model to export.
        seq_length, batch_size: the export's signature.
        vocab: the model's vocab (a `Vocab` or a path; default BERT uncased).
        labels: a classifier's label names in class-id order, or a labels file (one per
            line); default "0", "1", ...

    Raises:
        ValueError: a vocab of another size than the model's, labels that are not one per
            class, a batch other than 1, a span labeler at a length other than 384.
        ImportError: tflite-support's metadata writers are not installed.
    """
    is_classifier = isinstance(model, MobileBertClassifier) and model.num_classes > 1
    if not (is_classifier or isinstance(model, MobileBertSpanLabeler)):
        return None
    metadata.check_installed()
    if batch_size != 1:
        raise ValueError(f"batch_size {batch_size}: MediaPipe and the Task Library run batch "
                         "1; export with batch_size 1, or without runtime metadata.")
    if not isinstance(vocab, Vocab):
        vocab = Vocab.load(vocab or default_vocab_file())
    check_vocab_size(vocab, model.encoder.config.vocab_size)
    if not is_classifier:
        metadata.check_question_answerer_length(seq_length)
        return RuntimeFiles(None, lambda content: metadata.add_question_answerer_metadata(
            content, vocab), "BertQuestionAnswerer metadata (start_logits, end_logits)")
    labels = metadata.classifier_labels(labels, model.num_classes)
    return RuntimeFiles(metadata.probability_outputs, lambda content: (
        metadata.add_classifier_metadata(content, vocab, labels)),
        f"TextClassifier/BertNLClassifier metadata (probability of {labels})")


def export(model: keras.Model, output_dir: str, precisions=tflite.PRECISIONS,
           seq_length: int = 128, batch_size: int = 1, calibration: list[dict] | None = None,
           fidelity_examples: list[dict] | None = None, num_threads: int = 2,
           fold: bool = True, log=print, tokenizer=None, runtime_metadata: bool = True,
           labels: Sequence[str] | str | None = None, dynamic_length: bool = False) -> dict:
    """Write `saved_model/` and `model_<precision>.tflite` to `output_dir`, check each
    against the Keras model on `fidelity_examples`, and write `fidelity.json`. With `fold`
    the exported graph is `FoldedModel` (norms folded, dense layers merged). With `tokenizer`
    (a `BertInputTokenizer` of the model's vocab) a task model's SavedModel gets text-in
    signatures, and an encoder a `preprocessing/` SavedModel (see `text_serving`). An
    encoder's `saved_model/` is a TF-Hub reusable encoder (`hub.KerasLayer(path,
    trainable=True)` fine-tunes it; `signature.save_encoder_saved_model`).

    With `runtime_metadata` (default) a task model's files run unchanged in MediaPipe's
    `TextClassifier` and the Task Library's `BertNLClassifier` / `BertQuestionAnswerer`
    (`runtime_files`): a classifier's one output (in `serving_default` too) is then
    `probability` (softmax in the graph; the fidelity check compares probabilities and top-1),
    with the tokenizer's vocab (default BERT uncased) and `labels` (names or a labels file;
    default "0", "1", ...) packed; a span labeler must then be exported at length 384.

    With `dynamic_length` the sequence dimension is -1 (`tflite.save_saved_model`), and the
    fidelity examples run cut to their real lengths (`tflite.trim_padding`), so the check
    covers as many lengths as they have.

    Raises:
        ValueError: bad precisions, calibration, vocab (not the model's size), labels or
            length, before any work.
        fidelity.FidelityError: a precision misses its bounds (its file is kept, renamed
            `*.tflite.rejected`, with the rest of this export in
            `<output_dir>/output.incomplete/`, for inspection).

    Into a directory an earlier export wrote, the files it writes replace the earlier ones, and
    the earlier `.tflite` files of precisions not in `precisions` are removed.
    Returns:
        `{precision: {"path", "bytes", "outputs": [fidelity.OutputReport as dicts]}}`.
    """
    _check_precisions(precisions, calibration, dynamic_length)
    encoder = getattr(model, "encoder", model)
    runtime = _runtime(model, seq_length, batch_size, tokenizer, labels, runtime_metadata)
    postprocess = runtime.postprocess if runtime else None
    if runtime:
        log(f"Runtime-ready .tflite: {runtime.description}")
    if runtime and dynamic_length:
        log("Length-adaptive [1, -1] inputs: MediaPipe's TextClassifier resizes them per text; "
            "the Task Library's BertNLClassifier wants the fixed export.")
    if fidelity_examples is None:
        fidelity_examples = random_examples(8, batch_size, seq_length,
                                            encoder.config.vocab_size)
    if dynamic_length:
        fidelity_examples = [tflite.trim_padding(e) for e in fidelity_examples]
    expected = keras_outputs(model, fidelity_examples, postprocess)
    # Written aside and moved in once every file has passed: a failure, a rejected precision
    # too, leaves them under output.incomplete and the directory's earlier export as it was.
    with tempfile.TemporaryDirectory() as scratch, fileio.staged_outputs(output_dir) as staging:
        staged_log = lambda line: log(line.replace(staging, output_dir))  # noqa: E731
        source = _save(model, staging, seq_length, batch_size, fold, tokenizer, postprocess,
                       dynamic_length, scratch if precisions else None, staged_log)
        results = _write_checked_tflite(source, staging, output_dir, precisions, calibration,
                                        fidelity_examples, expected, num_threads,
                                        runtime.attach if runtime else None, staged_log)
    _remove_other_precisions(output_dir, precisions)
    return results


def _runtime(model: keras.Model, seq_length: int, batch_size: int, tokenizer, labels,
             wanted: bool) -> RuntimeFiles | None:
    """`runtime_files` when `wanted`; the tokenizer's vocab is checked either way."""
    vocab = tokenizer.vocab if tokenizer is not None else None
    runtime = runtime_files(model, seq_length, batch_size, vocab, labels) if wanted else None
    if vocab is not None and runtime is None:  # else runtime_files has checked it
        check_vocab_size(vocab, getattr(model, "encoder", model).config.vocab_size)
    return runtime


def _check_precisions(precisions, calibration: list[dict] | None,
                      dynamic_length: bool) -> None:
    unknown = [p for p in precisions if p not in tflite.PRECISIONS]
    if unknown:
        raise ValueError(f"Unknown precision(s) {unknown}; expected some of "
                         f"{tflite.PRECISIONS}.")
    if "int8" in precisions and not calibration:
        raise ValueError("int8 export needs a non-empty calibration set (e.g. 100 real "
                         "examples from `examples_from_task` or `examples_from_records`).")
    # TFLite's calibrator sizes the graph once, at the first example's shape. Padded examples
    # still cover every real length: outputs at real tokens do not depend on padding.
    if dynamic_length and calibration and len({np.shape(e["input_mask"])
                                               for e in calibration}) > 1:
        raise ValueError("Calibrate a dynamic-length export on padded examples of one shape; "
                         f"got {sorted({np.shape(e['input_mask']) for e in calibration})}.")


def _save(model: keras.Model, output_dir: str, seq_length: int, batch_size: int, fold: bool,
          tokenizer, postprocess, dynamic_length: bool, scratch: str | None,
          log) -> str | None:
    """`saved_model/` (and an encoder's `preprocessing/` when there is a tokenizer); returns
    the SavedModel to convert to `.tflite`. A task model's `saved_model/` is that one. An
    encoder's is the TF-Hub reusable encoder (`signature.save_encoder_saved_model`: the
    trainable Keras graph, not the folded one), so its conversion source goes to `scratch`
    (None: no `.tflite` wanted, no source)."""
    tf.io.gfile.makedirs(output_dir)
    saved_model_dir = tf.io.gfile.join(output_dir, "saved_model")
    encoder = getattr(model, "encoder", model)
    source = None  # an encoder exported with no precision needs no conversion source
    if model is not encoder or scratch is not None:
        source = tflite.save_saved_model(
            model, saved_model_dir if model is not encoder else os.path.join(scratch, "tflite"),
            batch_size, seq_length, fold, tokenizer, postprocess, dynamic_length)
    if model is encoder:
        save_encoder_saved_model(encoder, saved_model_dir, batch_size,
                                 None if dynamic_length else seq_length)
        log(f"SavedModel (TF-Hub reusable encoder): {saved_model_dir}")
    else:
        log(f"SavedModel: {saved_model_dir}")
    if tokenizer is not None and model is encoder:
        log("Preprocessing SavedModel: " + text_serving.save_preprocessing(
            tokenizer, tf.io.gfile.join(output_dir, "preprocessing"), seq_length,
            encoder.config.max_position))
    return source


def _write_checked_tflite(saved_model_dir: str, staging: str, output_dir: str, precisions,
                          calibration, examples: list[dict], expected: list[dict],
                          num_threads: int, attach, log) -> dict:
    """Convert at each precision, compare with the Keras `expected` outputs, write each file
    (renamed `*.rejected` when out of bounds) and `fidelity.json` into `staging`, naming the
    files by their place in `output_dir`; then raise FidelityError for the rejected ones."""
    results, failures = {}, []
    for precision in precisions:
        content = tflite.convert(saved_model_dir, precision, lambda: calibration)
        staged = tf.io.gfile.join(staging, f"model_{precision}.tflite")
        reports = fidelity.compare(expected, tflite.run_tflite(content, examples, num_threads))
        log(fidelity.format_reports(precision, reports))
        try:
            fidelity.check(reports, precision)
        except fidelity.FidelityError as error:
            failures.append(str(error))
            staged += ".rejected"
        content = attach(content) if attach else content
        fileio.write_bytes(staged, content)
        results[precision] = {"path": fileio.staged_path(staged, staging, output_dir),
                              "bytes": len(content),
                              "outputs": [dataclasses.asdict(r) for r in reports]}
    fileio.write_json(tf.io.gfile.join(staging, "fidelity.json"),
                      {"tolerances": {p: fidelity.TOLERANCES[p] for p in precisions},
                       "lengths": [int(e["input_mask"].shape[1]) for e in examples],
                       "results": results})
    if failures:
        raise fidelity.FidelityError(" | ".join(failures))
    return results


def _remove_other_precisions(output_dir: str, precisions) -> None:
    """Remove `.tflite` files an earlier export into `output_dir` wrote for precisions this
    one did not (after this one wrote its own), so the directory holds one export whose
    `fidelity.json` covers every file in it."""
    for precision in set(tflite.PRECISIONS) - set(precisions):
        for suffix in ("", ".rejected"):
            path = tf.io.gfile.join(output_dir, f"model_{precision}.tflite{suffix}")
            if tf.io.gfile.exists(path):
                tf.io.gfile.remove(path)
