"""Fine-tuning on GLUE, SQuAD and the sentiment demo task (`mobilebert-train --mode finetune`).

Top down (each module imports only the ones below it):
- `run`: `FinetuneConfig` (validated), `finetune(config)` (the pipeline, read top to bottom).
- `kinds`: one object per kind of task (classification, regression, span): its head and
  loss, data and features, dev metrics and submission files; `make_kind`.
- `tracker`: `BestTracker` (dev evaluations, their history, the best model) and
  `plot_history`.
- `trainer`: `FinetuneTrainer` (a kind's loss on the shared `StagedTrainer` step) and
  `finetune_stage`.
- `evaluation`: distributed prediction in example order (`Predictor`), GLUE/SQuAD dev
  metrics, SQuAD v2.0 null odds.
- `predictions`: the submission formats (GLUE TSVs written here; SQuAD JSON described).
- `tasks`: `FinetuneTask` per task (kind, labels, splits, score, default hyper-parameters,
  documented there), `get_task`, example reading (`DataSource`), `subsample`.
"""
