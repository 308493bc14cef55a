"""Building blocks of the MobileBERT family (tf_keras layers)."""

from mobilebert_tf.layers.attention import AttentionMask, MultiHeadSelfAttention
from mobilebert_tf.layers.dense import Dense
from mobilebert_tf.layers.embedding import MobileBertEmbedding
from mobilebert_tf.layers.factory import make_dense, make_norm
from mobilebert_tf.layers.feed_forward import FeedForward
from mobilebert_tf.layers.masked_lm_head import MaskedLMHead
from mobilebert_tf.layers.no_norm import NoNorm
from mobilebert_tf.layers.pooler import Pooler
from mobilebert_tf.layers.seeded_dropout import SeededDropout, dropout_seed
from mobilebert_tf.layers.transformer_block import TransformerBlock

__all__ = ["AttentionMask", "Dense", "FeedForward", "MaskedLMHead", "MobileBertEmbedding",
           "MultiHeadSelfAttention", "NoNorm", "Pooler", "SeededDropout", "TransformerBlock",
           "dropout_seed", "make_dense", "make_norm"]
