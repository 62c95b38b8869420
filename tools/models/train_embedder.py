#!/usr/bin/python3
"""Train edgeroute-tiny-embed: a 2-layer BERT-style sentence encoder (about 1M parameters) for
offline tests of the routing code. NOT a general-purpose embedder.

Objective: supervised in-batch contrastive loss (SupCon) on the mean-pooled, L2-normalised
output: prompts with the same task label (gsm8k, each of the 57 MMLU subjects of routellm-mmlu,
medmcqa) are positives, everything else in the batch is a negative. Data: the prompts of
routellm-gsm8k, routellm-mmlu and cascade-medmcqa from ../shared/data (10% of every label held
out; their ids are written to heldout.json next to the model).

Run from the repository root:
    /usr/bin/python3 tools/models/train_embedder.py [--data ../shared/data] [--minutes 4]
Needs Debian's python3-torch, python3-onnx, python3-numpy (apt-get install -y ...).
"""

from __future__ import annotations

import argparse
import math
import random
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import (
    DEFAULT_DATA,
    MODELS_DIR,
    WordPieceTokenizer,
    load_jsonl,
    medmcqa_as_plain,
    seed_everything,
    sha256_file,
    write_json,
)

NAME = "edgeroute-tiny-embed"
SEED = 20240611
CFG = dict(
    vocab_size=4000,
    hidden_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=512,
    max_position_embeddings=512,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
)
TRAIN_MAX_LEN = 160


class Layer(nn.Module):
    def __init__(self, d, h, ff, eps):
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, bias):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q = q.view(b, t, self.h, d // self.h).transpose(1, 2)
        k = k.view(b, t, self.h, d // self.h).transpose(1, 2)
        v = v.view(b, t, self.h, d // self.h).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.h) + bias
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = self.ln1(x + self.drop(self.o(y)))
        return self.ln2(x + self.drop(self.ff2(F.gelu(self.ff1(x)))))


class TinyBert(nn.Module):
    """Post-LayerNorm BERT encoder (embeddings: word + position + token type, LayerNorm)."""

    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.word = nn.Embedding(c["vocab_size"], d)
        self.pos = nn.Embedding(c["max_position_embeddings"], d)
        self.token_type = nn.Embedding(c["type_vocab_size"], d)
        self.ln = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(
            Layer(d, c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"])
            for _ in range(c["num_hidden_layers"])
        )
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, input_ids, attention_mask, token_type_ids):
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.pos(pos) + self.token_type(token_type_ids)
        x = self.drop(self.ln(x))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x  # last_hidden_state


def mean_pool(h, mask):
    m = mask.unsqueeze(-1).to(h.dtype)
    return F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)


def load_items(data: Path):
    items = []
    for r in load_jsonl(data / "routellm-gsm8k" / "items.jsonl"):
        items.append(("routellm-gsm8k", r["id"], "gsm8k", r["prompt"]))
    for r in load_jsonl(data / "routellm-mmlu" / "items.jsonl"):
        items.append(("routellm-mmlu", r["id"], r["task"], r["prompt"]))
    for r in load_jsonl(data / "cascade-medmcqa" / "items.jsonl"):
        items.append(("cascade-medmcqa", r["id"], "medmcqa", medmcqa_as_plain(r["prompt"])))
    return items


def is_heldout(set_name: str, item_id: str) -> bool:
    return zlib.crc32(f"{set_name}:{item_id}".encode()) % 10 == 0


def batchify(tok, texts, max_len):
    enc = [tok.encode(t, max_len) for t in texts]
    t = max(len(e) for e in enc)
    ids = torch.full((len(enc), t), tok.pad_id, dtype=torch.long)
    mask = torch.zeros((len(enc), t), dtype=torch.long)
    for i, e in enumerate(enc):
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    return ids, mask


@torch.no_grad()
def embed_all(model, tok, texts, max_len=TRAIN_MAX_LEN, bs=128):
    model.eval()
    out = []
    for i in range(0, len(texts), bs):
        ids, mask = batchify(tok, texts[i : i + bs], max_len)
        out.append(mean_pool(model(ids, mask, torch.zeros_like(ids)), mask))
    return torch.cat(out)


def coarse(label: str) -> str:
    if label in ("gsm8k", "medmcqa"):
        return label
    if "law" in label or "jurisprudence" in label:
        return "mmlu-law"
    return "mmlu-other"


def evaluate(model, tok, train, held):
    """Nearest-centroid accuracy of held-out prompts against train-label centroids."""
    labels = sorted({lab for _, _, lab, _ in train})
    per = defaultdict(int)
    sub = []
    for x in train:  # at most 60 train prompts per label for the centroids
        if per[x[2]] < 60:
            per[x[2]] += 1
            sub.append(x)
    train = sub
    tr_emb = embed_all(model, tok, [t for *_, t in train])
    lab_idx = {lab: i for i, lab in enumerate(labels)}
    y_tr = torch.tensor([lab_idx[lab] for _, _, lab, _ in train])
    cent = F.normalize(torch.stack([tr_emb[y_tr == i].mean(0) for i in range(len(labels))]), dim=-1)
    he = embed_all(model, tok, [t for *_, t in held])
    y_he = torch.tensor([lab_idx[lab] for _, _, lab, _ in held])
    pred = (he @ cent.T).argmax(1)
    fine = (pred == y_he).float().mean().item()
    crs = np.mean([coarse(labels[p]) == coarse(labels[y]) for p, y in zip(pred.tolist(), y_he.tolist())])
    # mean cosine between held-out prompts of the same coarse group vs different groups
    groups = [coarse(lab) for _, _, lab, _ in held]
    sim = he @ he.T
    g = np.array(groups)
    same = torch.from_numpy(g[:, None] == g[None, :])
    eye = torch.eye(len(groups), dtype=torch.bool)
    return dict(
        centroid_acc_57mmlu_plus_2=round(fine, 4),
        coarse_acc_gsm8k_medmcqa_law_other=round(float(crs), 4),
        mean_cos_same_group=round(sim[same & ~eye].mean().item(), 4),
        mean_cos_diff_group=round(sim[~same].mean().item(), 4),
    )


class Export(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.m(input_ids, attention_mask, token_type_ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=MODELS_DIR / NAME)
    ap.add_argument("--minutes", type=float, default=0.0, help="optional wall-clock cap (0 = none; a cap makes the run non-reproducible)")
    ap.add_argument("--max-steps", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(SEED)

    items = load_items(args.data)
    train = [x for x in items if not is_heldout(x[0], x[1])]
    held = [x for x in items if is_heldout(x[0], x[1])]
    print(f"{len(items)} prompts: {len(train)} train, {len(held)} held out")

    t0 = time.time()
    tok = WordPieceTokenizer.train([t for *_, t in train], CFG["vocab_size"])
    CFG["vocab_size"] = len(tok.vocab)
    print(f"tokenizer: {len(tok.vocab)} pieces in {time.time() - t0:.1f}s")

    by_label = defaultdict(list)
    for _, _, lab, text in train:
        by_label[lab].append(text)
    labels = sorted(by_label)
    weights = np.array([5.0 if lab in ("gsm8k", "medmcqa") else 1.0 for lab in labels])
    weights /= weights.sum()
    rng = np.random.default_rng(SEED)

    model = TinyBert(CFG)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    temp = 0.05
    labels_per_batch, per_label = 16, 4
    warmup = 30

    start = time.time()
    step = 0
    while step < args.max_steps and (args.minutes <= 0 or time.time() - start < args.minutes * 60):
        lr = 1e-3 * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / args.max_steps))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        chosen = rng.choice(len(labels), size=labels_per_batch, replace=False, p=weights)
        texts, ys = [], []
        for li in chosen:
            pool = by_label[labels[li]]
            for j in rng.choice(len(pool), size=per_label, replace=False):
                texts.append(pool[j])
                ys.append(li)
        ids, mask = batchify(tok, texts, TRAIN_MAX_LEN)
        z = mean_pool(model(ids, mask, torch.zeros_like(ids)), mask)
        y = torch.tensor(ys)
        logits = z @ z.T / temp
        eye = torch.eye(len(ys), dtype=torch.bool)
        logits = logits.masked_fill(eye, -1e9)
        pos = (y[:, None] == y[None, :]) & ~eye
        logp = logits.log_softmax(-1)
        loss = -(logp * pos).sum(1).div(pos.sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} t={time.time() - start:.0f}s", flush=True)
        step += 1
    train_seconds = time.time() - start
    print(f"trained {step} steps in {train_seconds:.0f}s")
    metrics = evaluate(model, tok, train, held)
    print("after training (held-out):", metrics)

    out: Path = args.out
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    model.eval()
    ids, mask = batchify(tok, ["What is 2 + 2?", "A longer example sentence for export."], 64)
    torch.onnx.export(
        Export(model),
        (ids, mask, torch.zeros_like(ids)),
        str(out / "onnx" / "model.onnx"),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "sequence_length"},
            "token_type_ids": {0: "batch_size", 1: "sequence_length"},
            "last_hidden_state": {0: "batch_size", 1: "sequence_length"},
        },
        opset_version=14,
        do_constant_folding=True,
    )
    import onnx

    onnx.checker.check_model(onnx.load(str(out / "onnx" / "model.onnx")))

    write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            **CFG,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02,
            "pad_token_id": tok.pad_id,
            "position_embedding_type": "absolute",
            "transformers.js_config": {"dtype": "fp32"},
        },
    )
    write_json(out / "tokenizer.json", tok.tokenizer_json())
    write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": True,
            "strip_accents": None,
            "tokenize_chinese_chars": True,
            "model_max_length": CFG["max_position_embeddings"],
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
            "clean_up_tokenization_spaces": True,
        },
    )
    fixtures = [
        "Janet’s ducks lay 16 eggs per day. How much does she make?",
        "Which State ordinarily exercises jurisdiction over crimes on board vessels?",
        "Café déjà-vu: 3.5% of $1,200 <<3*4=12>> naïve résumé",
    ]
    ref = embed_all(model, tok, fixtures, max_len=512)
    write_json(
        out / "heldout.json",
        {
            "description": "ids held out from training (crc32('<set>:<id>') % 10 == 0), by data set",
            "sets": {
                s: sorted({i for (ss, i, _, _) in held if ss == s}, key=lambda x: (len(x), x))
                for s in sorted({x[0] for x in held})
            },
        },
    )
    write_json(
        out / "training_run.json",
        {
            "model": NAME,
            "seed": SEED,
            "config": CFG,
            "parameters": n_params,
            "objective": "supervised in-batch contrastive (SupCon), temperature 0.05, mean pooling + L2 norm",
            "batch": f"{labels_per_batch} labels x {per_label} prompts (gsm8k, medmcqa sampled 5x as often)",
            "train_max_tokens": TRAIN_MAX_LEN,
            "optimizer": "AdamW lr 1e-3 (30-step warmup, cosine decay) wd 0.01, grad clip 1.0",
            "steps": step,
            "train_seconds": round(train_seconds, 1),
            "threads": args.threads,
            "train_prompts": len(train),
            "heldout_prompts": len(held),
            "heldout_metrics": metrics,
            "torch": torch.__version__,
            "onnx_sha256": sha256_file(out / "onnx" / "model.onnx"),
            "tokenizer_fixtures": [{"text": t, "ids": tok.encode(t, 512)} for t in fixtures],
            # torch reference: mean-pooled, normalised embedding of each fixture (first 8 dims)
            # and their pairwise cosines, to check the ONNX export and the JS pipeline against
            "reference_embeddings_head8": [[round(v, 5) for v in e[:8].tolist()] for e in ref],
            "reference_cosines": [[round(v, 5) for v in r] for r in (ref @ ref.T).tolist()],
        },
    )
    print("wrote", out)


if __name__ == "__main__":
    main()
