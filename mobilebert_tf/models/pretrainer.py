"""`MobileBertPretrainer`: encoder + masked-LM head + next-sentence head."""

import tensorflow as tf
import tf_keras as keras

from mobilebert_tf.encoder import INPUT_KEYS, MobileBertEncoder
from mobilebert_tf.layers import MaskedLMHead, make_dense
from mobilebert_tf.models.task import TaskModel


@keras.saving.register_keras_serializable(package="mobilebert_tf")
class MobileBertPretrainer(TaskModel):
    """The BERT pretraining model (MLM + NSP) around a `MobileBertEncoder`.

    Args:
        encoder: The `MobileBertEncoder` to pretrain (or distill into).

    Call args:
        inputs: dict with the encoder's three inputs plus `masked_lm_positions`
            (int `[batch, predictions]`).
        training: Python bool, enables dropout.

    Returns:
        dict with `mlm_logits` `[batch, predictions, vocab]`, `nsp_logits` `[batch, 2]`, and
        the encoder's `sequence_output`, `pooled_output`, `encoder_outputs` and
        `attention_logits` (for distillation).
    """

    def __init__(self, encoder: MobileBertEncoder, **kwargs):
        kwargs.setdefault("name", "pretrainer")
        super().__init__(encoder, **kwargs)
        config = encoder.config
        self.mlm_head = MaskedLMHead(
            vocab_size=config.vocab_size, embedding_size=config.embedding_size,
            hidden_size=config.hidden_size, activation=config.activation,
            layer_norm_epsilon=config.layer_norm_epsilon,
            initializer_range=config.initializer_range, name="mlm_head")
        self.nsp_head = make_dense(2, "nsp_head", config.initializer_range)

    def call(self, inputs, training=None):
        if "masked_lm_positions" not in inputs:
            raise ValueError("MobileBertPretrainer needs `masked_lm_positions` besides "
                             f"{list(INPUT_KEYS)}; got keys {sorted(inputs)}.")
        outputs = dict(self.encoder({key: inputs[key] for key in INPUT_KEYS}, training=training))
        outputs["mlm_logits"] = self.mlm_head(outputs["sequence_output"],
                                              inputs["masked_lm_positions"],
                                              self.encoder.word_embeddings)
        outputs["nsp_logits"] = self.nsp_head(outputs["pooled_output"])
        return outputs

    def example_inputs(self, batch_size=1, seq_length=8):
        inputs = super().example_inputs(batch_size, seq_length)
        inputs["masked_lm_positions"] = tf.zeros([batch_size, 2], tf.int32)
        return inputs
