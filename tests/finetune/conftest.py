"""Tiny GLUE TSVs and SQuAD JSON in the official formats, a tiny encoder checkpoint as
`--mode distill` writes it, and subprocess runs of `tpu/train.py --mode finetune`."""

import json
import os

import pytest

from mobilebert_tf import fileio
from mobilebert_tf.testing import run_train_script

MRPC_PAIRS = [
    ("The company said profits rose sharply in the third quarter.",
     "Profits rose sharply in the third quarter, the company said.", "1"),
    ("He left the meeting early on Tuesday.", "The stock market fell on Tuesday.", "0"),
    ("The bill was passed by the senate last night.",
     "Last night the senate passed the bill.", "1"),
    ("Rain is expected across the north this weekend.",
     "The museum will reopen in the spring.", "0"),
    ("Officials confirmed that the bridge will close for repairs.",
     "The bridge will close for repairs, officials confirmed.", "1"),
    ("She won the award for her first novel.", "Traffic was heavy on the highway.", "0"),
]


def _write(path, lines):
    fileio.write_text(str(path), "\n".join(lines) + "\n")


def write_mrpc(root: str) -> str:
    """MRPC's layout in `root` (any `tf.io.gfile` path): `Quality #1 ID #2 ID #1 String
    #2 String`; test has `index` first."""
    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
    rows = [f"{q}\t{100 + i}\t{200 + i}\t{a}\t{b}" for i, (a, b, q) in enumerate(MRPC_PAIRS)]
    _write(os.path.join(root, "train.tsv"), [header] + rows * 4)
    _write(os.path.join(root, "dev.tsv"), [header] + rows)
    _write(os.path.join(root, "test.tsv"), ["index\t#1 ID\t#2 ID\t#1 String\t#2 String"]
           + [f"{i}\t{100 + i}\t{200 + i}\t{a}\t{b}" for i, (a, b, _) in enumerate(MRPC_PAIRS)])
    return root


def save_init_checkpoint(root: str) -> str:
    """A `mobilebert_mini` (2 layers) pretrainer saved in `root` as the training loop
    saves it."""
    import tensorflow as tf

    from mobilebert_tf.encoder import build_encoder
    from mobilebert_tf.models import MobileBertPretrainer
    model = MobileBertPretrainer(build_encoder("mobilebert_mini", num_layers=2))
    model(model.example_inputs())
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), root, 1).save(7)
    return root


@pytest.fixture(scope="session")
def run_train():
    """`run_train(args, check=True)`: `python -m tpu.train args...` in a subprocess."""
    return run_train_script


@pytest.fixture(scope="session")
def mrpc_dir(tmp_path_factory):
    return write_mrpc(str(tmp_path_factory.mktemp("MRPC")))


@pytest.fixture(scope="session")
def make_mrpc():
    """`make_mrpc(root)`: the MRPC files in any `tf.io.gfile` directory."""
    return write_mrpc


@pytest.fixture(scope="session")
def stsb_dir(tmp_path_factory):
    """STS-B's layout: `index genre filename year old_index source1 source2 sentence1
    sentence2 score`; test lacks `score`."""
    root = tmp_path_factory.mktemp("STS-B")
    cols = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
    scores = ["4.800", "0.200", "5.000", "0.000", "4.250", "0.600"]
    rows = [f"{i}\tmain-news\tnews\t2012\t{i}\tnone\tnone\t{a}\t{b}"
            for i, (a, b, _) in enumerate(MRPC_PAIRS)]
    _write(root / "train.tsv", [cols + "\tscore"]
           + [f"{r}\t{s}" for r, s in zip(rows, scores)] * 4)
    _write(root / "dev.tsv", [cols + "\tscore"] + [f"{r}\t{s}" for r, s in zip(rows, scores)])
    _write(root / "test.tsv", [cols] + rows)
    return str(root)


SQUAD_CONTEXT = ("The Normans were the people who in the 10th and 11th centuries gave their "
                 "name to Normandy, a region in France. They were descended from Norse "
                 "raiders and pirates from Denmark, Iceland and Norway.")
SQUAD_QAS = [("q1", "In what country is Normandy located?", "France"),
             ("q2", "When were the Normans in Normandy?", "10th and 11th centuries"),
             ("q3", "From which countries did the Norse originate?",
              "Denmark, Iceland and Norway")]


def squad_json(drop_answers_of=None):
    qas = []
    for qid, question, answer in SQUAD_QAS:
        qa = {"id": qid, "question": question,
              "answers": [{"text": answer, "answer_start": SQUAD_CONTEXT.index(answer)}]}
        if qid == drop_answers_of:
            del qa["answers"]
        qas.append(qa)
    return {"version": "1.1", "data": [{"title": "Normans", "paragraphs": [
        {"context": SQUAD_CONTEXT, "qas": qas}]}]}


@pytest.fixture(scope="session")
def make_squad_json():
    """`make_squad_json(drop_answers_of=None)`: the tiny SQuAD v1.1 dict."""
    return squad_json


@pytest.fixture(scope="session")
def squad_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("squad")
    for name in ("train-v1.1.json", "dev-v1.1.json"):
        with open(root / name, "w") as f:
            json.dump(squad_json(), f)
    return str(root)


@pytest.fixture(scope="session")
def init_checkpoint(tmp_path_factory):
    return save_init_checkpoint(str(tmp_path_factory.mktemp("student")))


@pytest.fixture(scope="session")
def make_init_checkpoint():
    """`make_init_checkpoint(root)`: the 2-layer pretrainer checkpoint in any directory."""
    return save_init_checkpoint
