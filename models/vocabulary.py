"""A CLIP-format tokenizer (vocab.json + merges.txt) learned from the captions.

The stock `CLIPTokenizer` loads it, so the stock StableDiffusionPipeline tokenizes prompts exactly as
training did. Its alphabet is CLIP's 256 byte symbols, so any typed prompt tokenizes, even unseen words.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 16  # tokens per prompt, BOS and EOS included: the longest emoji name fits


def byte_alphabet() -> list[str]:
    return sorted(pre_tokenizers.ByteLevel.alphabet())


def train_bpe(captions: list[str], vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    alphabet = byte_alphabet()
    tokenizer = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, end_of_word_suffix="</w>",
                                  show_progress=False, min_frequency=1)
    tokenizer.train_from_iterator(sorted(captions), trainer)
    state = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    return state["vocab"], merges


def write(folder: Path, captions: list[str], vocab_size: int = 4096) -> None:
    """Write vocab.json, merges.txt and the tokenizer config into `folder`."""
    learned, merges = train_bpe(captions, vocab_size)
    # CLIP's layout: every byte symbol alone and word-final, then merges in order, then the specials.
    alphabet = byte_alphabet()
    tokens = alphabet + [a + "</w>" for a in alphabet]
    tokens += ["".join(pair) for pair in merges]
    tokens += [BOS, EOS]
    vocab: dict[str, int] = {}
    for token in tokens:
        vocab.setdefault(token, len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
    config = {
        "tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_LENGTH,
        "bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS,
        "do_lower_case": True, "clean_up_tokenization_spaces": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    specials = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n", encoding="utf-8")
