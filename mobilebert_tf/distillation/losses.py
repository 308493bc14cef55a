"""Distillation losses as pure functions (docs/mobilebert.md §3).

Every function takes tensors and returns a float32 scalar: the mean over the positions that
count. Each loss also has a `*_terms` form (where useful) returning `(sum, count)` so that a
distributed step can divide by the count of the *global* batch and match one device exactly.
"""

from __future__ import annotations

import tensorflow as tf

from mobilebert_tf.training.losses import f32 as _f32, soft_cross_entropy

# Paper weights of the feature-map-transfer terms (the defaults of `distill_util.py` in the
# authors' code, GR; GR, TFMG and HF are defined in docs/mobilebert.md §0).
FMT_MSE_WEIGHT = 100.0
FMT_MEAN_WEIGHT = 5000.0
FMT_VAR_WEIGHT = 5.0


def _token_mask(mask, like):
    """`[batch, seq]` float mask, or ones shaped like `like[..., 0]` when `mask` is None."""
    if mask is None:
        return tf.ones(tf.shape(like)[:-1], tf.float32)
    return _f32(mask)


def parameter_free_layer_norm(x, epsilon: float = 1e-12):
    """LayerNorm over the last axis with no gamma/beta: `(x - mean) / sqrt(var + eps)`."""
    x = _f32(x)
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + epsilon)


def feature_map_terms(teacher_features, student_features, input_mask=None,
                      epsilon: float = 1e-12):
    """The three unweighted feature-map-transfer terms of one layer, plus the token count.

    Args:
        teacher_features, student_features: `[batch, seq, hidden]`, layer l of each model.
        input_mask: `[batch, seq]`, 1 for real tokens; None counts every token.

    Returns:
        `(mse_sum, mean_sum, var_sum, count)`: sums over real tokens of
        - the MSE (over features) between parameter-free-LayerNormed features,
        - `(mu_T - mu_S)^2`, with mu the per-token mean over features of *this* layer,
        - `|var_T - var_S|`, with var the per-token variance over features of *this* layer
          (GR takes the teacher's statistics over all layers at once; we do not),
        and `count`, the number of real tokens.
    """
    teacher, student = _f32(teacher_features), _f32(student_features)
    mask = _token_mask(input_mask, student)
    mse = tf.reduce_mean(tf.square(parameter_free_layer_norm(teacher, epsilon)
                                   - parameter_free_layer_norm(student, epsilon)), axis=-1)
    mu_t, var_t = tf.nn.moments(teacher, axes=[-1])
    mu_s, var_s = tf.nn.moments(student, axes=[-1])
    # Padded positions carry no information (the paper's inputs have few); unlike GR, which
    # averages over every position, they get no weight here.
    return (tf.reduce_sum(mse * mask), tf.reduce_sum(tf.square(mu_t - mu_s) * mask),
            tf.reduce_sum(tf.abs(var_t - var_s) * mask), tf.reduce_sum(mask))


def weighted_feature_map_terms(teacher_features, student_features, input_mask=None,
                               mse_weight: float = FMT_MSE_WEIGHT,
                               mean_weight: float = FMT_MEAN_WEIGHT,
                               var_weight: float = FMT_VAR_WEIGHT, epsilon: float = 1e-12):
    """`(weighted sum over real tokens, count)` of `feature_map_terms`: the paper's
    `100*MSE + 5000*mean + 5*var` before dividing by the token count."""
    mse, mean, var, count = feature_map_terms(teacher_features, student_features, input_mask,
                                              epsilon)
    return mse_weight * mse + mean_weight * mean + var_weight * var, count


def feature_map_loss(teacher_features, student_features, input_mask=None,
                     mse_weight: float = FMT_MSE_WEIGHT, mean_weight: float = FMT_MEAN_WEIGHT,
                     var_weight: float = FMT_VAR_WEIGHT, epsilon: float = 1e-12):
    """Feature-map transfer for one layer: `100*MSE(LN(T), LN(S)) + 5000*mean((mu_T-mu_S)^2)
    + 5*mean(|var_T-var_S|)`, means over real tokens (see `feature_map_terms`)."""
    total, count = weighted_feature_map_terms(teacher_features, student_features, input_mask,
                                              mse_weight, mean_weight, var_weight, epsilon)
    return total / tf.maximum(count, 1.0)


def attention_transfer_terms(teacher_logits, student_logits, input_mask):
    """KL(teacher || student) between attention distributions, summed over heads and real
    queries, and the number of (head, real query) pairs.

    Args:
        teacher_logits, student_logits: `[batch, heads, seq, seq]` attention scores before
            softmax (masked or not: padded keys are masked again here).
        input_mask: `[batch, seq]`, 1 for real tokens.

    Each distribution is a softmax over the *real* keys only, so a padded key has zero
    probability under both and contributes nothing; padded queries are skipped. (TFMG applies
    softmax to probabilities a second time, which flattens attention and leaks weight onto
    padded keys; we softmax the logits once.)
    """
    mask = _f32(input_mask)
    keys = mask[:, None, None, :] > 0
    neg = tf.constant(-1e30, tf.float32)
    t_logits = tf.where(keys, _f32(teacher_logits), neg)
    s_logits = tf.where(keys, _f32(student_logits), neg)
    t_log_probs = tf.nn.log_softmax(t_logits, axis=-1)
    s_log_probs = tf.nn.log_softmax(s_logits, axis=-1)
    # where(), not multiplication: 0 * (-inf) would be NaN; masked keys contribute exactly 0.
    pointwise = tf.where(keys, tf.exp(t_log_probs) * (t_log_probs - s_log_probs), 0.0)
    per_query = tf.reduce_sum(pointwise, axis=-1)                      # [batch, heads, seq]
    queries = mask[:, None, :]
    heads = tf.cast(tf.shape(per_query)[1], tf.float32)
    return tf.reduce_sum(per_query * queries), tf.reduce_sum(mask) * heads


def attention_transfer_loss(teacher_logits, student_logits, input_mask):
    """Mean KL(teacher || student) per head, over batch, heads and real query positions."""
    total, count = attention_transfer_terms(teacher_logits, student_logits, input_mask)
    return total / tf.maximum(count, 1.0)


def attention_uniformity_terms(attention_logits, input_mask):
    """KL(attention || uniform over the real keys), summed over heads and real queries, and
    the number of (head, real query) pairs: how far attention is from a bag of words (0 when
    every query attends equally to every real key; at most log(real keys)).

    The uniform distribution is the softmax of all-zero scores, so this is
    `attention_transfer_terms` against a student that does not attend at all.
    """
    logits = _f32(attention_logits)
    return attention_transfer_terms(logits, tf.zeros_like(logits), input_mask)


def distillation_mlm_terms(student_logits, teacher_logits, masked_lm_ids, masked_lm_weights,
                           alpha: float = 0.5, temperature: float = 1.0):
    """Pre-training-distillation MLM loss summed over weighted predictions, and the weight sum.

    `alpha * CE(onehot, S) + (1 - alpha) * T^2 * CE(softmax(T_logits / T), softmax(S / T))`.
    At T = 1 this is exactly the paper's cross-entropy against the mixed target
    `alpha * onehot + (1 - alpha) * softmax(teacher_logits)`; for T != 1 the soft term uses
    the student at the same temperature and the usual T^2 gradient scale (Hinton et al.).
    `alpha = 1` is plain MLM; `teacher_logits` may then be None.
    """
    student_logits = _f32(student_logits)
    weights = _f32(masked_lm_weights)
    vocab = tf.shape(student_logits)[-1]
    hard = soft_cross_entropy(tf.one_hot(masked_lm_ids, vocab, dtype=tf.float32),
                              student_logits)
    per_prediction = alpha * hard
    if alpha != 1.0:
        if teacher_logits is None:
            raise ValueError("distillation_mlm_terms needs teacher_logits when alpha != 1.")
        soft_targets = tf.nn.softmax(_f32(teacher_logits) / temperature, axis=-1)
        soft = soft_cross_entropy(tf.stop_gradient(soft_targets), student_logits / temperature)
        per_prediction += (1.0 - alpha) * temperature ** 2 * soft
    return tf.reduce_sum(per_prediction * weights), tf.reduce_sum(weights)


def distillation_mlm_loss(student_logits, teacher_logits, masked_lm_ids, masked_lm_weights,
                          alpha: float = 0.5, temperature: float = 1.0):
    """Weighted mean of `distillation_mlm_terms` over the masked predictions."""
    total, count = distillation_mlm_terms(student_logits, teacher_logits, masked_lm_ids,
                                          masked_lm_weights, alpha, temperature)
    return total / tf.maximum(count, 1e-5)
