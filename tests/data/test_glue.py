"""GLUE: tiny files in each task's original TSV layout, read with the loader users run."""

import numpy as np
import pytest
import tensorflow as tf

from mobilebert_tf.data import glue
from mobilebert_tf.data.classification import TextExample, classification_dataset
from mobilebert_tf.errors import InputError

MNLI_TRAIN = ("index promptID pairID genre sentence1_binary_parse sentence2_binary_parse "
              "sentence1_parse sentence2_parse sentence1 sentence2 label1 gold_label").split()
MNLI_TEST = MNLI_TRAIN[:-2]
STSB = ("index genre filename year old_index source1 source2 sentence1 sentence2 "
        "score").split()

# task -> (train/dev header or None, test header, label values used in files)
LAYOUTS = {
    "cola": (None, ["index", "sentence"], ["0", "1"]),
    "sst2": (["sentence", "label"], ["index", "sentence"], ["0", "1"]),
    "mrpc": (["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
             ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"], ["0", "1"]),
    "stsb": (STSB, STSB[:-1], ["0.000", "3.800", "5.000"]),
    "qqp": (["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
            ["id", "question1", "question2"], ["0", "1"]),
    "mnli": (MNLI_TRAIN, MNLI_TEST, ["entailment", "neutral", "contradiction"]),
    "qnli": (["index", "question", "sentence", "label"], ["index", "question", "sentence"],
             ["entailment", "not_entailment"]),
    "rte": (["index", "sentence1", "sentence2", "label"], ["index", "sentence1", "sentence2"],
            ["entailment", "not_entailment"]),
    "wnli": (["index", "sentence1", "sentence2", "label"], ["index", "sentence1", "sentence2"],
             ["0", "1"]),
}


def _row(header, task, text_a, text_b, label):
    if header is None:  # CoLA: source, label, original label, sentence.
        return ["gj04", label, "", text_a]
    values = {task.text_a: text_a, task.label: label}
    if task.text_b:
        values[task.text_b] = text_b
    return [values.get(col, f"x{i}") for i, col in enumerate(header)]


def _write_task(tmp_path, name, sentences, n=12):
    task = glue.get_task(name)
    header, test_header, labels = LAYOUTS[name]
    data_dir = tmp_path / name
    data_dir.mkdir()
    expected = {}
    files = {"train": "train", "validation": "dev"}
    if name == "mnli":
        files = {"train": "train", "validation_matched": "dev_matched",
                 "validation_mismatched": "dev_mismatched"}
    for k, (split, stem) in enumerate(files.items()):
        rows, exp = [], []
        for i in range(n):
            a, b = sentences[k * 100 + 2 * i], sentences[k * 100 + 2 * i + 1]
            label = labels[(i * 7 + k) % len(labels)]
            rows.append(_row(header, task, a, b if task.text_b else None, label))
            exp.append((a, b if task.text_b else None,
                        float(label) if task.is_regression else task.labels.index(label)))
        lines = ([] if header is None else ["\t".join(header)]) + ["\t".join(r) for r in rows]
        (data_dir / f"{stem}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        expected[split] = exp
    test_stem = "test_matched" if name == "mnli" else "test"
    test_rows = [[sentences[500 + i] if col in (task.text_a, task.text_b) else str(i)
                  for col in test_header] for i in range(5)]
    (data_dir / f"{test_stem}.tsv").write_text(
        "\n".join(["\t".join(test_header)] + ["\t".join(r) for r in test_rows]) + "\n",
        encoding="utf-8")
    return str(data_dir), expected


@pytest.mark.parametrize("name", sorted(glue.GLUE_TASKS))
def test_all_nine_tasks_read_from_original_tsv(tmp_path, corpus_sentences, name, tokenizer):
    data_dir, expected = _write_task(tmp_path, name, corpus_sentences)
    task = glue.get_task(name)
    for split, exp in expected.items():
        examples = glue.read_glue_tsv(name, data_dir, split)
        assert [(e.text_a, e.text_b, e.label) for e in examples] == exp
    test_split = "test_matched" if name == "mnli" else "test"
    test = glue.read_glue_tsv(name, data_dir, test_split)
    assert len(test) == 5 and all(e.label == -1 for e in test)
    assert [e.guid for e in test] == [f"{test_split}-{i}" for i in range(5)]  # GLUE's index
    assert (test[0].text_b is None) == (task.text_b is None)

    examples = glue.read_glue_tsv(name, data_dir, "train")
    ds = classification_dataset(examples, tokenizer, batch_size=4, is_regression=task.is_regression)
    features, labels = next(iter(ds))
    assert features["input_word_ids"].shape == (4, 32)
    assert labels.dtype == (tf.float32 if task.is_regression else tf.int32)
    np.testing.assert_allclose(labels.numpy(), [e.label for e in examples[:4]])
    first = tokenizer(tf.constant([examples[0].text_a]),
                      tf.constant([examples[0].text_b]) if task.text_b else None)
    np.testing.assert_array_equal(features["input_word_ids"][0], first["input_word_ids"][0])
    if task.text_b:
        assert features["input_type_ids"].numpy()[0].max() == 1


def test_tfds_records_give_the_same_examples(tmp_path, corpus_sentences):
    data_dir, _ = _write_task(tmp_path, "mnli", corpus_sentences)
    from_tsv = glue.read_glue_tsv("mnli", data_dir, "validation_matched")
    task = glue.get_task("mnli")
    records = [{"idx": np.int32(i), "premise": e.text_a.encode(), "hypothesis": e.text_b.encode(),
                "label": np.int64(e.label)} for i, e in enumerate(from_tsv)]
    from_tfds = glue.examples_from_tfds_records(task, records, "validation_matched")
    assert [(e.text_a, e.text_b, e.label) for e in from_tfds] == [
        (e.text_a, e.text_b, e.label) for e in from_tsv]


def test_bad_glue_input(tmp_path, corpus_sentences):
    with pytest.raises(ValueError, match="Unknown GLUE task 'squad'"):
        glue.get_task("squad")
    data_dir, _ = _write_task(tmp_path, "rte", corpus_sentences)
    with pytest.raises(ValueError, match="rte has splits"):
        glue.read_glue_tsv("rte", data_dir, "validation_matched")
    path = tmp_path / "rte" / "train.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit("\t", 1)[0] + "\tmaybe"
    lines.insert(5, "a row\twith too few fields")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"train.tsv:4: label 'maybe' is not one of"):
        glue.read_glue_tsv("rte", data_dir, "train")
    stsb_dir, _ = _write_task(tmp_path, "stsb", corpus_sentences)
    stsb = tmp_path / "stsb" / "dev.tsv"
    rows = stsb.read_text(encoding="utf-8").splitlines()
    rows[2] = rows[2].rsplit("\t", 1)[0] + "\tfour"
    stsb.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"{stsb}:3: score 'four' is not a number"):
        glue.read_glue_tsv("stsb", stsb_dir, "validation")
    del lines[3]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(glue.read_glue_tsv("rte", data_dir, "train")) == 11  # Malformed row skipped.
    # A skipped test row leaves the GLUE index of the rows after it (submissions use it).
    path = tmp_path / "rte" / "test.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = "2\tonly two fields"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert [e.guid for e in glue.read_glue_tsv("rte", data_dir, "test")] == [
        "test-0", "test-1", "test-3", "test-4"]
    with pytest.raises(ValueError, match="mix single texts and text pairs"):
        classification_dataset([TextExample("1", "a", None, 0), TextExample("2", "a", "b", 1)],
                               None, 2)
