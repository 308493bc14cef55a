"""Run a Hugging Face model directory in transformers (with PyTorch), as its users load it:
`MobileBertForPreTraining.from_pretrained(dir)` and `AutoTokenizer.from_pretrained(dir)`.
transformers needs torch, which does not belong in TensorFlow's venv, so this file is run by
path in a Python that has both (`hf_directory.transformers_outputs`); it imports nothing of
ours and no TensorFlow.

    python transformers_worker.py DIR inputs.npz texts.json out.npz out.json

`inputs.npz`: int32 `input_word_ids`, `input_mask`, `input_type_ids`. Writes `out.npz`
(`sequence_output`, `encoder_outputs` stacked, `prediction_logits`, `seq_relationship_logits`)
and `out.json` (`{"ids": [[int] per text], "loading": transformers' loading info}`).
"""

import json
import sys

# Run by path, this file's folder comes first on sys.path, and its `safetensors.py` (ours)
# would hide the `safetensors` package transformers imports.
del sys.path[0]


def main(directory: str, inputs_path: str, texts_path: str, npz_path: str,
         json_path: str) -> None:
    import numpy as np
    import torch
    from transformers import AutoTokenizer, MobileBertForPreTraining

    model, info = MobileBertForPreTraining.from_pretrained(directory, output_loading_info=True)
    model.eval()
    inputs = np.load(inputs_path)
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(inputs["input_word_ids"]).long(),
                    attention_mask=torch.from_numpy(inputs["input_mask"]).long(),
                    token_type_ids=torch.from_numpy(inputs["input_type_ids"]).long(),
                    output_hidden_states=True)
    np.savez(npz_path, sequence_output=out.hidden_states[-1].numpy(),
             encoder_outputs=torch.stack(out.hidden_states[1:]).numpy(),
             prediction_logits=out.prediction_logits.numpy(),
             seq_relationship_logits=out.seq_relationship_logits.numpy())
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump({"ids": [tokenizer(text)["input_ids"] for text in texts],
                   "loading": {k: sorted(map(str, v)) for k, v in info.items()}}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
