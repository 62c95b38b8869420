"""Shared helpers for the tiny-model training scripts (run with Debian's /usr/bin/python3).

Everything here is plain Python + torch 1.13 (Debian's python3-torch), no Hugging Face Python
packages: the tokenizers are implemented here so that they behave exactly like the JSON
tokenizer definitions written next to the models, which transformers.js (via
@huggingface/tokenizers) executes in the browser. test/models.test.ts checks that the JS side
produces the same ids as this file for a few fixture strings.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import unicodedata
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get("EDGEROUTE_DATA", REPO_ROOT.parent / "shared" / "data"))
MODELS_DIR = REPO_ROOT / "public" / "models"


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


# --------------------------------------------------------------------------------------------
# BERT-style WordPiece (mirrors BertNormalizer + BertPreTokenizer + WordPiece of
# @huggingface/tokenizers)
# --------------------------------------------------------------------------------------------


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 0x21 <= cp <= 0x2F or 0x3A <= cp <= 0x40 or 0x5B <= cp <= 0x60 or 0x7B <= cp <= 0x7E:
        return True
    return unicodedata.category(ch).startswith("P")


def bert_normalize(text: str) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        out.append(" " if ch.isspace() else ch)
    text = "".join(out)
    text = "".join(f" {c} " if _is_cjk(ord(c)) else c for c in text)
    text = text.lower()
    text = unicodedata.normalize("NFD", text)
    return "".join(c for c in text if unicodedata.category(c) != "Mn")


def bert_pretokenize(text: str) -> list[str]:
    words, cur = [], []
    for ch in text.strip():
        if ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        elif _is_punct(ch):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


class WordPieceTokenizer:
    SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    def __init__(self, vocab: list[str]):
        self.vocab = vocab
        self.ids = {t: i for i, t in enumerate(vocab)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            self.ids[t] for t in self.SPECIALS
        )

    @classmethod
    def train(cls, texts: list[str], vocab_size: int, min_char_count: int = 3) -> "WordPieceTokenizer":
        """Vocabulary = specials + frequent characters (as word-initial and ## pieces) + the most
        frequent whole words, then frequent word suffixes, until vocab_size. Not the real WordPiece
        likelihood algorithm, but the encoding (greedy longest match) is WordPiece's."""
        words = Counter()
        for t in texts:
            words.update(bert_pretokenize(bert_normalize(t)))
        chars = Counter()
        for w, c in words.items():
            for i, ch in enumerate(w):
                chars[ch if i == 0 else "##" + ch] += c
        vocab = list(cls.SPECIALS)
        seen = set(vocab)
        for piece, c in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])):
            if c >= min_char_count and piece not in seen:
                vocab.append(piece)
                seen.add(piece)
        budget_words = int((vocab_size - len(vocab)) * 0.8)
        for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(vocab) >= len(cls.SPECIALS) + budget_words + 300:
                break
            if w not in seen and len(w) > 1:
                vocab.append(w)
                seen.add(w)
        # frequent suffixes (length 2..6) of words that are not in the vocabulary
        suffixes = Counter()
        for w, c in words.items():
            if w in seen:
                continue
            for k in range(2, min(7, len(w))):
                suffixes["##" + w[-k:]] += c
        for s, _ in sorted(suffixes.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(vocab) >= vocab_size:
                break
            if s not in seen:
                vocab.append(s)
                seen.add(s)
        return cls(vocab[:vocab_size])

    def tokenize_word(self, w: str) -> list[str]:
        chars = list(w)
        if len(chars) > 100:
            return ["[UNK]"]
        out, i = [], 0
        while i < len(chars):
            end, piece = len(chars), None
            while i < end:
                sub = "".join(chars[i:end])
                if i > 0:
                    sub = "##" + sub
                if sub in self.ids:
                    piece = sub
                    break
                end -= 1
            if piece is None:
                return ["[UNK]"]
            out.append(piece)
            i = end
        return out

    def encode(self, text: str, max_len: int = 128) -> list[int]:
        toks = []
        for w in bert_pretokenize(bert_normalize(text)):
            toks.extend(self.tokenize_word(w))
        ids = [self.ids[t] for t in toks][: max_len - 2]
        return [self.cls_id] + ids + [self.sep_id]

    def tokenizer_json(self) -> dict:
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {
                    "id": self.ids[t],
                    "content": t,
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": False,
                    "special": True,
                }
                for t in self.SPECIALS
            ],
            "normalizer": {
                "type": "BertNormalizer",
                "clean_text": True,
                "handle_chinese_chars": True,
                "strip_accents": None,
                "lowercase": True,
            },
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [
                    {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                ],
                "pair": [
                    {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                    {"Sequence": {"id": "B", "type_id": 1}},
                    {"SpecialToken": {"id": "[SEP]", "type_id": 1}},
                ],
                "special_tokens": {
                    t: {"id": t, "ids": [self.ids[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")
                },
            },
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {
                "type": "WordPiece",
                "unk_token": "[UNK]",
                "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": self.ids,
            },
        }


# --------------------------------------------------------------------------------------------
# GPT-2 style byte-level BPE (mirrors ByteLevel pre-tokenizer + BPE + ByteLevel decoder)
# --------------------------------------------------------------------------------------------

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class ByteBPETokenizer:
    EOS = "<|endoftext|>"

    def __init__(self, merges: list[tuple[str, str]]):
        import regex

        self.pat = regex.compile(GPT2_PATTERN)
        self.byte_enc = bytes_to_unicode()
        self.byte_dec = {v: k for k, v in self.byte_enc.items()}
        self.merges = merges
        self.ranks = {m: i for i, m in enumerate(merges)}
        vocab = [self.byte_enc[b] for b in range(256)]
        for a, b in merges:
            vocab.append(a + b)
        vocab.append(self.EOS)
        self.vocab = vocab
        self.ids = {t: i for i, t in enumerate(vocab)}
        assert len(self.ids) == len(vocab), "duplicate tokens"
        self.eos_id = self.ids[self.EOS]
        self.cache: dict[str, list[str]] = {}

    def pretokenize(self, text: str) -> list[str]:
        return ["".join(self.byte_enc[b] for b in m.encode("utf-8")) for m in self.pat.findall(text)]

    @classmethod
    def train(cls, texts: list[str], num_merges: int) -> "ByteBPETokenizer":
        tmp = cls([])
        words = Counter()
        for t in texts:
            words.update(tmp.pretokenize(t))
        # word -> list of symbols; incremental pair counts
        wlist = [(list(w), c) for w, c in words.items()]
        pairs = Counter()
        where: dict[tuple[str, str], set[int]] = {}
        for idx, (syms, c) in enumerate(wlist):
            for p in zip(syms, syms[1:]):
                pairs[p] += c
                where.setdefault(p, set()).add(idx)
        merges = []
        for _ in range(num_merges):
            if not pairs:
                break
            best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
            if pairs[best] < 2:
                break
            merges.append(best)
            a, b = best
            for idx in list(where.get(best, ())):
                syms, c = wlist[idx]
                for p in zip(syms, syms[1:]):
                    pairs[p] -= c
                    if pairs[p] <= 0:
                        del pairs[p]
                new, i = [], 0
                while i < len(syms):
                    if i < len(syms) - 1 and syms[i] == a and syms[i + 1] == b:
                        new.append(a + b)
                        i += 2
                    else:
                        new.append(syms[i])
                        i += 1
                wlist[idx] = (new, c)
                for p in zip(new, new[1:]):
                    pairs[p] += c
                    where.setdefault(p, set()).add(idx)
            where.pop(best, None)
        return cls(merges)

    def bpe(self, word: str) -> list[str]:
        if word in self.cache:
            return self.cache[word]
        syms = list(word)
        while len(syms) > 1:
            best, best_rank = None, None
            for i, p in enumerate(zip(syms, syms[1:])):
                r = self.ranks.get(p)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            syms = syms[:best] + [syms[best] + syms[best + 1]] + syms[best + 2 :]
        self.cache[word] = syms
        return syms

    def encode(self, text: str) -> list[int]:
        out = []
        for w in self.pretokenize(text):
            out.extend(self.ids[s] for s in self.bpe(w))
        return out

    def decode(self, ids: list[int]) -> str:
        s = "".join(self.vocab[i] for i in ids if i != self.eos_id)
        return bytes(self.byte_dec[c] for c in s).decode("utf-8", errors="replace")

    def tokenizer_json(self) -> dict:
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {
                    "id": self.eos_id,
                    "content": self.EOS,
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": True,
                    "special": True,
                }
            ],
            "normalizer": None,
            "pre_tokenizer": {
                "type": "ByteLevel",
                "add_prefix_space": False,
                "trim_offsets": True,
                "use_regex": True,
            },
            "post_processor": {
                "type": "ByteLevel",
                "add_prefix_space": True,
                "trim_offsets": False,
                "use_regex": True,
            },
            "decoder": {
                "type": "ByteLevel",
                "add_prefix_space": True,
                "trim_offsets": True,
                "use_regex": True,
            },
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": "",
                "end_of_word_suffix": "",
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": dict(self.ids),
                "merges": [[a, b] for a, b in self.merges],
            },
        }


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def medmcqa_as_plain(prompt: str) -> str:
    """cascade-medmcqa prompts carry a fixed instruction header; keep question + choices in the
    same 'question\\nA. x\\n...\\nAnswer:' shape the RouteLLM MMLU prompts use, so the embedder
    cannot tell the sets apart by template alone."""
    q = prompt
    if "Question:" in q:
        q = q.split("Question:", 1)[1]
    q, _, rest = q.partition("Choices:")
    choices = []
    for line in rest.splitlines():
        line = line.strip()
        if len(line) > 2 and line[0] in "ABCD" and line[1] == ":":
            choices.append(f"{line[0]}. {line[2:].strip()}")
    return q.strip() + ("\n" + "\n".join(choices) if choices else "") + "\nAnswer:"


def dedupe_transposed_initializers(model) -> int:
    """torch.onnx's constant folding turns a tied output head (x @ wte.T) into a second,
    transposed copy of the embedding matrix. Replace every initializer that is exactly the
    transpose of another one by a Transpose node, so the weights are stored once. Returns the
    number of initializers replaced."""
    import numpy as np
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    arrays = {n: numpy_helper.to_array(i) for n, i in inits.items() if len(i.dims) == 2}
    replaced = 0
    removed: set[str] = set()
    # keep the named parameters (e.g. 'm.wte.weight'), replace the folded 'onnx::...' copies
    for name, arr in sorted(arrays.items(), key=lambda kv: not kv[0].startswith("onnx::")):
        if not name.startswith("onnx::"):
            continue
        for src, other in arrays.items():
            if src == name or src in removed or other.shape != arr.shape[::-1] or arr.shape[0] == arr.shape[1]:
                continue
            if np.array_equal(other.T, arr):
                model.graph.initializer.remove(inits[name])
                node = helper.make_node("Transpose", [src], [name], perm=[1, 0], name=f"untie_{name}")
                model.graph.node.insert(0, node)
                removed.add(name)
                replaced += 1
                break
    return replaced
