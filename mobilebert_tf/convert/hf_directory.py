"""A Hugging Face model directory of our pretrainer: `MobileBertForPreTraining.from_pretrained`
and `AutoTokenizer.from_pretrained` load it unchanged, and it reproduces our outputs.

Writes `config.json` (transformers' `MobileBertConfig` fields, derived from ours),
`model.safetensors`, `vocab.txt`, `tokenizer_config.json` and `special_tokens_map.json`.
Two choices (`exporter.hf_arrays`) make transformers agree with our encoder on padded batches
too, not only unpadded ones:
- The input word table's `[PAD]` row (id 0) is written as zeros. Our 3-gram window sees zeros
  past the last real token; transformers' (like the authors' and tf-models-official's) sees
  the embedding of the `[PAD]` id there. Our encoder never reads that row at a real token, so
  zeroing it is lossless for ours and makes every runtime that reads the file agree with ours.
- The MLM output layer keeps the exact table: `cls.predictions.decoder.weight` is written
  untied (`tie_word_embeddings: false`), with its `[PAD]` row as trained, so the `[PAD]` logit
  is ours too. `convert.importer` reads such a directory back into our tied table from the
  decoder (the two may differ only in that zeroed row).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np
import tensorflow as tf

from mobilebert_tf import fileio
from mobilebert_tf.config import MobileBertConfig
from mobilebert_tf.convert import exporter
from mobilebert_tf.data.vocab import Vocab, check_vocab_size
from mobilebert_tf.errors import InputError
from mobilebert_tf.models import MobileBertPretrainer

PAD_ID = 0  # BERT's; the id every tokenizer here and in transformers pads with, and the row
# `exporter.hf_arrays` zeroes


def hf_config(config: MobileBertConfig, vocab: Vocab) -> dict:
    """transformers' `MobileBertConfig` (as its `config.json`) of our `config`.

    Raises:
        InputError: a model transformers' MobileBERT cannot express.
    """
    if config.use_bottleneck and config.qkv_source == "block_input" and (
            config.intra_size != config.hidden_size):
        # transformers sizes the query and key layers by the bottleneck width.
        raise InputError(f"transformers' MobileBERT has no attention on the {config.hidden_size}"
                         f"-wide block input beside a {config.intra_size}-wide bottleneck "
                         "(qkv_source='block_input', the IB-BERT teacher); export a student.")
    return {"architectures": ["MobileBertForPreTraining"], "model_type": "mobilebert",
            **bert_config_fields(config),
            "true_hidden_size": config.intra_size if config.use_bottleneck else config.hidden_size,
            "layer_norm_eps": config.layer_norm_epsilon, "pad_token_id": PAD_ID,
            # The decoder keeps the [PAD] row the input table drops.
            "tie_word_embeddings": False, "do_lower_case": vocab.lower_case}


def bert_config_fields(config: MobileBertConfig) -> dict:
    """Our `config` in the authors' `bert_config.json` fields (which transformers'
    `MobileBertConfig` kept)."""
    return {
        "attention_probs_dropout_prob": config.attention_dropout,
        "hidden_act": config.activation, "hidden_dropout_prob": config.hidden_dropout,
        "hidden_size": config.hidden_size, "initializer_range": config.initializer_range,
        "intermediate_size": config.intermediate_size,
        "max_position_embeddings": config.max_position, "num_attention_heads": config.num_heads,
        "num_hidden_layers": config.num_layers, "type_vocab_size": config.type_vocab_size,
        "vocab_size": config.vocab_size, "embedding_size": config.embedding_size,
        "trigram_input": config.use_trigram, "use_bottleneck": config.use_bottleneck,
        "intra_bottleneck_size": config.intra_size,
        "use_bottleneck_attention": config.qkv_source == "bottleneck",
        "key_query_shared_bottleneck": config.qkv_source == "shared_bottleneck",
        "num_feedforward_networks": config.num_ffn, "normalization_type": config.norm,
        "classifier_activation": config.use_pooler,
    }


def check_vocab(vocab_file: str, config: MobileBertConfig) -> Vocab:
    """The vocab of `vocab_file`, checked against `config` before any work.

    Raises:
        InputError: unreadable, another size than `vocab_size`, or `[PAD]` not id 0.
    """
    try:
        vocab = Vocab.load(vocab_file)
    except (ValueError, FileNotFoundError, tf.errors.NotFoundError) as error:
        raise InputError(f"--vocab_file {vocab_file!r}: {error}") from None
    check_vocab_size(vocab, config.vocab_size)
    if vocab.pad_id != PAD_ID:
        raise InputError(f"--vocab_file {vocab_file!r} has [PAD] at id {vocab.pad_id}; "
                         f"transformers and our tokenizer pad with id {PAD_ID}.")
    return vocab


def write_hf_directory(model: MobileBertPretrainer, vocab_file: str, output_dir: str) -> dict:
    """`model` (encoder with MLM and NSP heads) with the vocab of `vocab_file` as a Hugging
    Face directory in `output_dir` (any filesystem); returns `{file name: path}`."""
    config = model.encoder.config
    vocab = check_vocab(vocab_file, config)
    settings = hf_config(config, vocab)
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                "cls_token": "[CLS]", "mask_token": "[MASK]"}
    with fileio.staged_outputs(output_dir) as staging:  # a failure leaves output.incomplete
        join = lambda name: tf.io.gfile.join(staging, name)  # noqa: E731
        written = [
            fileio.write_json(join("config.json"), settings),
            exporter.export_hf_safetensors(model, join("model.safetensors")),
            fileio.write_text(join("vocab.txt"), "\n".join(vocab.tokens) + "\n"),
            fileio.write_json(join("tokenizer_config.json"), {
                "tokenizer_class": "MobileBertTokenizer", "do_lower_case": vocab.lower_case,
                "strip_accents": None, "tokenize_chinese_chars": True,
                "model_max_length": config.max_position, **specials}),
            fileio.write_json(join("special_tokens_map.json"), specials),
        ]
    return {path.rpartition("/")[2]: fileio.staged_path(path, staging, output_dir)
            for path in written}


TRANSFORMERS_PYTHON_ENV = "MOBILEBERT_TRANSFORMERS_PYTHON"  # made by `make test`
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "transformers_worker.py")


def transformers_outputs(python: str, directory: str, inputs: dict,
                         texts: list[str]) -> tuple[dict[str, np.ndarray], dict]:
    """Run the local HF `directory` in transformers, in the Python `python` (one with torch
    and transformers: `transformers_worker.py`): its outputs on the int32 `inputs` dict, and
    `{"ids": its tokenizer's ids of each of `texts`, "loading": its loading info}`."""
    with tempfile.TemporaryDirectory() as work:
        paths = [os.path.join(work, name) for name in
                 ("inputs.npz", "texts.json", "out.npz", "out.json")]
        np.savez(paths[0], **{k: np.asarray(v, np.int32) for k, v in inputs.items()})
        with open(paths[1], "w", encoding="utf-8") as f:
            json.dump(texts, f)
        run = subprocess.run([python, _WORKER, directory, *paths], capture_output=True,
                             text=True)
        if run.returncode != 0:
            raise RuntimeError(f"transformers failed on {directory}:\n{run.stderr[-3000:]}")
        with np.load(paths[2]) as arrays, open(paths[3], encoding="utf-8") as f:
            return dict(arrays), json.load(f)
