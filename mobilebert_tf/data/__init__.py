"""Data: WordPiece tokenization, MLM/NSP pretraining records and input pipeline, fine-tuning
loaders (GLUE, SQuAD, Rotten Tomatoes sentiment) and the demo corpus.

Modules import TensorFlow lazily where they can; import what you need from its module, e.g.
`from mobilebert_tf.data.tokenizer import BertInputTokenizer`.
"""
