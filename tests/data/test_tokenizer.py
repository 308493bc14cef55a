import numpy as np
import pytest
import tensorflow as tf
from official.nlp.tools import tokenization as reference

from mobilebert_tf.data.tokenizer import BertInputTokenizer


@pytest.fixture(scope="module")
def reference_tokenizer(vocab_file):
    return reference.FullTokenizer(vocab_file, do_lower_case=True)


def _reference_pack(ref, text_a, text_b, seq_length):
    """[CLS] a [SEP] b [SEP] with BERT's longest-first truncation, from the reference ids."""
    a = ref.convert_tokens_to_ids(ref.tokenize(text_a))
    b = ref.convert_tokens_to_ids(ref.tokenize(text_b)) if text_b is not None else None
    budget = seq_length - (3 if b is not None else 2)
    if b is None:
        a = a[:budget]
    else:
        while len(a) + len(b) > budget:
            (a if len(a) > len(b) else b).pop()
    ids = [101] + a + [102] + ((b + [102]) if b is not None else [])
    types = [0] * (len(a) + 2) + ([1] * (len(b) + 1) if b is not None else [])
    pad = seq_length - len(ids)
    return ids + [0] * pad, [1] * len(ids) + [0] * pad, types + [0] * pad


def test_ids_equal_reference_on_real_text(tokenizer, reference_tokenizer, corpus_sentences):
    sentences = corpus_sentences[:400]
    assert len(sentences) == 400
    ours = tokenizer.encode(sentences)
    ref = [reference_tokenizer.convert_tokens_to_ids(reference_tokenizer.tokenize(s))
           for s in sentences]
    mismatches = [s for s, x, y in zip(sentences, ours, ref) if x != y]
    assert not mismatches, mismatches[:3]
    # Real text: many words split into pieces, almost nothing unknown.
    flat = np.concatenate([np.array(x) for x in ours])
    assert (flat == 100).mean() < 0.01
    assert sum(reference_tokenizer.inv_vocab[i].startswith("##") for i in flat) > 100


def test_packed_pairs_equal_reference_truncation(tokenizer, reference_tokenizer,
                                                 corpus_sentences):
    a, b = corpus_sentences[400:600:2], corpus_sentences[401:601:2]
    packed = tokenizer(tf.constant(a), tf.constant(b), seq_length=24)
    got = {k: v.numpy() for k, v in packed.items()}
    for i, (ta, tb) in enumerate(zip(a, b)):
        ids, mask, types = _reference_pack(reference_tokenizer, ta, tb, 24)
        assert got["input_word_ids"][i].tolist() == ids, (ta, tb)
        assert got["input_mask"][i].tolist() == mask
        assert got["input_type_ids"][i].tolist() == types
    singles = tokenizer(tf.constant(a), seq_length=16)["input_word_ids"].numpy()
    for i, ta in enumerate(a):
        assert singles[i].tolist() == _reference_pack(reference_tokenizer, ta, None, 16)[0]


def test_long_text_is_truncated_to_seq_length(tokenizer):
    long_text = " ".join(["word"] * 1000)
    out = tokenizer(tf.constant([long_text, "short"]))
    for value in out.values():
        assert value.shape == (2, 32) and value.dtype == tf.int32
    ids = out["input_word_ids"].numpy()
    assert ids[0, 0] == 101 and ids[0, -1] == 102 and (out["input_mask"].numpy()[0] == 1).all()
    assert ids[1].tolist()[:3] == [101, 2460, 102] and ids[1, 3:].sum() == 0


def test_runs_inside_tf_data_graph(tokenizer):
    ds = tf.data.Dataset.from_tensor_slices((["to be or not", "a horse!"], ["to be", "my kingdom"]))
    ds = ds.batch(2).map(lambda a, b: tokenizer(a, b, seq_length=12))
    batch = next(iter(ds))
    assert batch["input_word_ids"].shape == (2, 12)
    assert batch["input_type_ids"].numpy()[0].tolist() == [0] * 6 + [1] * 3 + [0] * 3


def test_documented_differences_from_reference(tokenizer, reference_tokenizer):
    # Case folding rather than lower-casing: the one divergence on Latin text.
    assert tokenizer.encode(["straße"]) != [
        reference_tokenizer.convert_tokens_to_ids(reference_tokenizer.tokenize("straße"))]
    # Accents are stripped as in the reference.
    assert tokenizer.encode(["Café naïve"]) == [
        reference_tokenizer.convert_tokens_to_ids(reference_tokenizer.tokenize("Café naïve"))]


def test_offsets_point_into_the_original_text(tokenizer):
    text = "Café au lait, Hamlet's"
    ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant([text]))
    raw = text.encode("utf-8")
    pieces = [raw[s:e].decode("utf-8") for s, e in zip(starts[0].numpy(), ends[0].numpy())]
    assert pieces[0] == "Café" and pieces[-1] == "s" and "Hamlet" in pieces


def test_bad_arguments(vocab):
    with pytest.raises(ValueError, match="seq_length"):
        BertInputTokenizer(vocab, seq_length=2)
    tok = BertInputTokenizer(vocab, seq_length=8)
    with pytest.raises(ValueError, match="strings"):
        tok.tokenize(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="1 or 2 segments"):
        tok.pack([tok.tokenize(["a"])] * 3)
    with pytest.raises(ValueError, match="list of texts"):
        tok.encode("a single string")


def test_cased_vocab_keeps_case(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\nhello\n##s\n", encoding="utf-8")
    tok = BertInputTokenizer(str(path), seq_length=8)
    assert not tok.lower_case
    assert tok.encode(["Hello hellos HELLO"]) == [[5, 6, 7, 1]]
    assert BertInputTokenizer(str(path), lower_case=True).encode(["HELLO"]) == [[6]]
