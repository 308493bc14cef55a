"""Fine-tuning on GLUE, SQuAD and the sentiment demo task (`tpu/train.py --mode finetune`).

- `tasks`: `FinetuneTask` per task (head, labels, splits, score, default hyper-parameters,
  documented there), `get_task`, example loading, `InputError`.
- `trainer`: `FinetuneTrainer` (classification / regression / span losses on the shared
  `StagedTrainer` step) and `finetune_stage`.
- `evaluation`: distributed prediction in example order, GLUE/SQuAD dev metrics, SQuAD v2.0
  null odds.
- `predictions`: GLUE submission TSVs, SQuAD `predictions.json` / `null_odds.json`.
- `run`: `FinetuneConfig`, `finetune(config)` (the pipeline), `plot_history`.
"""
