"""A directory in the authors' TF1 format (google-research `mobilebert/`) of our pretrainer:
`mobilebert_variables.ckpt.*` under their variable names, `bert_config.json` with their config
fields, and `vocab.txt`, as their published checkpoints come.

As in our Hugging Face directories, the word table's `[PAD]` row (id 0) is written as zeros, so
that their 3-gram window sees past the last real token what ours sees (zeros) and their hidden
states at real tokens of a padded batch are ours. Their MLM output layer is tied to that table,
so unlike the HF directory the `[PAD]` logit cannot stay exact: it loses the row's dot product
(a logit no MLM target ever asks for).
"""

from __future__ import annotations

import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.config import MobileBertConfig
from mobilebert_tf.convert import exporter
from mobilebert_tf.convert.hf_directory import bert_config_fields, check_vocab
from mobilebert_tf.errors import InputError
from mobilebert_tf.models import MobileBertPretrainer

CHECKPOINT = "mobilebert_variables.ckpt"
WORD_TABLE = "bert/embeddings/word_embeddings"


def tf1_config(config: MobileBertConfig) -> dict:
    """The authors' `bert_config.json` of our `config`."""
    if not config.use_bottleneck:
        raise InputError("The authors' TF1 format is MobileBERT's (use_bottleneck=True); a "
                         "plain BERT config has no such checkpoint.")
    return bert_config_fields(config)


def write_tf1_directory(model: MobileBertPretrainer, vocab_file: str, output_dir: str) -> dict:
    """`model` with the vocab of `vocab_file` in the authors' format in `output_dir` (any
    filesystem); returns `{file name: path}` (the checkpoint by its prefix)."""
    config = model.encoder.config
    vocab = check_vocab(vocab_file, config)
    settings = tf1_config(config)
    arrays = exporter.foreign_arrays(model, "tf1")
    arrays[WORD_TABLE] = exporter.zeroed_pad_row(arrays[WORD_TABLE])
    with fileio.staged_outputs(output_dir) as staging:  # a failure leaves output.incomplete
        join = lambda name: tf.io.gfile.join(staging, name)  # noqa: E731
        written = [exporter.write_tf1_checkpoint(arrays, join(CHECKPOINT)),
                   fileio.write_json(join("bert_config.json"), settings),
                   fileio.write_text(join("vocab.txt"), "\n".join(vocab.tokens) + "\n")]
    return {path.rpartition("/")[2]: fileio.staged_path(path, staging, output_dir)
            for path in written}
