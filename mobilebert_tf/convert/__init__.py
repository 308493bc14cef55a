"""Weight maps between our models and other implementations' weights.

- `tfmg`: port a built tf-models-official encoder (in memory) into ours, by variable name.
- `name_maps`: explicit tables, per config, between our weight names and three checkpoint
  formats: the authors' TF1 ("tf1"), tf-models-official TF2 object checkpoints ("tfmg"),
  Hugging Face state dicts ("hf").
- `sources`, `safetensors`: read those checkpoints (safetensors without the package).
- `architecture`: read a checkpoint's shape off its names; explain a mismatch.
- `importer`: `load_checkpoint(format, path, config, with_heads)` -> (model, `ImportReport`).
- `exporter`: TF2 checkpoint, SavedModel, and the inverse maps (TF1, safetensors).
- `hf_directory`: `write_hf_directory`, a directory transformers loads and runs as ours
  (`transformers_worker.py` runs it there, in transformers' own venv).
- `convert_checkpoint`: `convert` (the `mobilebert-convert-checkpoint` command is in
  `mobilebert_tf/cli/`).
"""
