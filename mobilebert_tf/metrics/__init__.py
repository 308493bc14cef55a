"""Official evaluation metrics as pure functions of predictions and labels.

- `glue`: accuracy, F1, Matthews correlation, Pearson/Spearman, and which of them each of the
  nine GLUE tasks reports (`glue_metrics(task, predictions, labels)`).
- `squad`: the SQuAD v1.1 and v2.0 evaluation scripts' answer normalization, exact match and
  token F1 (max over gold answers), v2.0 no-answer handling and the best null-answer
  threshold search.
"""

from mobilebert_tf.metrics.glue import (GLUE_METRICS, accuracy, f1, glue_metrics, glue_score,
                                        matthews_corrcoef, pearson, spearman)
from mobilebert_tf.metrics.squad import (best_null_threshold, exact_match, normalize_answer,
                                         squad_v1_metrics, squad_v2_metrics, token_f1)

__all__ = ["GLUE_METRICS", "accuracy", "best_null_threshold", "exact_match", "f1",
           "glue_metrics", "glue_score", "matthews_corrcoef", "normalize_answer", "pearson",
           "spearman", "squad_v1_metrics", "squad_v2_metrics", "token_f1"]
