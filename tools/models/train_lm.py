#!/usr/bin/python3
"""Train edgeroute-tiny-gsm8k-lm: a 4-layer GPT-2-style causal LM (about 1M parameters) on the
GSM8K word problems and the two recorded model solutions of routellm-gsm8k, for offline tests
of the local-model code (generation, token log-probabilities, confidence). NOT a useful
assistant: it imitates the style of GSM8K solutions and nothing else.

Training documents: "<prompt>\\nAnswer: <response>" for each of the two recorded responses of
every problem that is not held out, separated by <|endoftext|>, packed into 256-token windows.
Held out: the GSM8K problems whose crc32("routellm-gsm8k:<id>") % 13 == 0 (listed in
heldout.json next to the model).

Run from the repository root:
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/models/train_lm.py [--data ../shared/data]
Needs Debian's python3-torch, python3-onnx, python3-numpy, python3-regex (apt-get install -y ...).
"""

from __future__ import annotations

import argparse
import math
import time
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import (
    DEFAULT_DATA,
    MODELS_DIR,
    ByteBPETokenizer,
    dedupe_transposed_initializers,
    load_jsonl,
    seed_everything,
    sha256_file,
    write_json,
)

NAME = "edgeroute-tiny-gsm8k-lm"
SEED = 20240612
NUM_MERGES = 1000
CFG = dict(n_embd=128, n_layer=4, n_head=4, n_inner=512, n_positions=512)
BLOCK = 256
BATCH = 16


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Block(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, ff)
        self.mlp_proj = nn.Linear(ff, d)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, mask, past_k=None, past_v=None):
        b, t, d = x.shape
        hd = d // self.h
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=-1)
        q = q.view(b, t, self.h, hd).transpose(1, 2)
        k = k.view(b, t, self.h, hd).transpose(1, 2)
        v = v.view(b, t, self.h, hd).transpose(1, 2)
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(~mask, -1e9)
        y = (self.drop(att.softmax(-1)) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.c_proj(y))
        x = x + self.drop(self.mlp_proj(gelu_new(self.c_fc(self.ln_2(x)))))
        return x, k, v


class TinyGPT2(nn.Module):
    def __init__(self, vocab_size, c):
        super().__init__()
        d = c["n_embd"]
        self.wte = nn.Embedding(vocab_size, d)
        self.wpe = nn.Embedding(c["n_positions"], d)
        self.drop = nn.Dropout(0.1)
        self.blocks = nn.ModuleList(Block(d, c["n_head"], c["n_inner"]) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        for name, p in self.named_parameters():
            if p.dim() > 1:
                std = 0.02 / math.sqrt(2 * c["n_layer"]) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        """past: list of (key, value) [b, heads, past_len, head_dim]; returns logits, presents."""
        t = input_ids.shape[1]
        past_len = past[0][0].shape[2] if past is not None else 0
        q_pos = torch.arange(t, device=input_ids.device) + past_len
        k_pos = torch.arange(t + past_len, device=input_ids.device)
        causal = k_pos[None, :] <= q_pos[:, None]  # [t, total]
        mask = causal[None, None, :, :] & attention_mask[:, None, None, :].bool()
        x = self.drop(self.wte(input_ids) + self.wpe(position_ids))
        presents = []
        for i, blk in enumerate(self.blocks):
            pk, pv = past[i] if past is not None else (None, None)
            x, k, v = blk(x, mask, pk, pv)
            presents.append((k, v))
        x = self.ln_f(x)
        logits = x @ self.wte.weight.T  # tied output head
        return logits, presents


class Export(nn.Module):
    """Flat signature in the layout transformers.js expects of a decoder-only model.onnx."""

    def __init__(self, m, n_layer):
        super().__init__()
        self.m = m
        self.n = n_layer

    def forward(self, input_ids, attention_mask, position_ids, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(self.n)]
        logits, presents = self.m(input_ids, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def heldout(item_id: str) -> bool:
    return zlib.crc32(f"routellm-gsm8k:{item_id}".encode()) % 13 == 0


def doc(prompt: str, response: str) -> str:
    return f"{prompt.strip()}\nAnswer: {response.strip()}"


@torch.no_grad()
def mean_logprob(model, ids_list, eos_id):
    """Mean log-probability of every token of each text given <|endoftext|> + previous tokens."""
    model.eval()
    out = []
    for ids in ids_list:
        x = torch.tensor([[eos_id] + ids[: CFG["n_positions"] - 1]])
        logits, _ = model(x, torch.ones_like(x), torch.arange(x.shape[1])[None])
        lp = logits[0, :-1].log_softmax(-1).gather(1, x[0, 1:, None]).squeeze(1)
        out.append(lp.mean().item())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=MODELS_DIR / NAME)
    ap.add_argument("--max-steps", type=int, default=700)
    ap.add_argument("--minutes", type=float, default=0.0, help="optional wall-clock cap (0 = none)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(SEED)

    gsm = load_jsonl(args.data / "routellm-gsm8k" / "items.jsonl")
    train = [r for r in gsm if not heldout(r["id"])]
    held = [r for r in gsm if heldout(r["id"])]
    docs = [doc(r["prompt"], resp) for r in train for _, resp in sorted(r["responses"].items())]
    print(f"{len(gsm)} problems: {len(train)} train ({len(docs)} documents), {len(held)} held out")

    t0 = time.time()
    tok = ByteBPETokenizer.train(docs, NUM_MERGES)
    print(f"tokenizer: {len(tok.vocab)} tokens in {time.time() - t0:.1f}s")
    stream = []
    for d in docs:
        stream.append(tok.eos_id)
        stream.extend(tok.encode(d))
    stream = torch.tensor(stream)
    print(f"{len(stream)} training tokens")

    model = TinyGPT2(len(tok.vocab), CFG)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.98), weight_decay=0.05)
    rng = np.random.default_rng(SEED)
    warmup = 40
    start = time.time()
    step = 0
    pos = torch.arange(BLOCK)[None].expand(BATCH, -1)
    while step < args.max_steps and (args.minutes <= 0 or time.time() - start < args.minutes * 60):
        lr = 3e-3 * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / args.max_steps))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        starts = rng.integers(0, len(stream) - BLOCK - 1, size=BATCH)
        x = torch.stack([stream[s : s + BLOCK] for s in starts])
        y = torch.stack([stream[s + 1 : s + BLOCK + 1] for s in starts])
        logits, _ = model(x, torch.ones_like(x), pos)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} t={time.time() - start:.0f}s", flush=True)
        step += 1
    train_seconds = time.time() - start
    print(f"trained {step} steps in {train_seconds:.0f}s")

    # held-out check in torch (the JS test re-measures this through transformers.js)
    mmlu = load_jsonl(args.data / "routellm-mmlu" / "items.jsonl")
    law_tasks = ("mmlu/professional_law", "mmlu/international_law", "mmlu/jurisprudence")
    law = [r for r in mmlu if r["task"] in law_tasks]
    law = [law[i] for i in np.random.default_rng(0).choice(len(law), 50, replace=False)]
    lp_gsm = mean_logprob(model, [tok.encode(r["prompt"]) for r in held], tok.eos_id)
    lp_law = mean_logprob(model, [tok.encode(r["prompt"]) for r in law], tok.eos_id)
    held_docs = [tok.encode(doc(r["prompt"], sorted(r["responses"].items())[1][1])) for r in held]
    lp_held_doc = mean_logprob(model, held_docs, tok.eos_id)
    metrics = dict(
        heldout_gsm8k_prompt_mean_token_logprob=round(float(np.mean(lp_gsm)), 4),
        mmlu_law_prompt_mean_token_logprob=round(float(np.mean(lp_law)), 4),
        heldout_gsm8k_doc_mean_token_logprob=round(float(np.mean(lp_held_doc)), 4),
        n_heldout=len(held),
        n_law=len(law),
    )
    print(metrics)

    # greedy sample from a held-out problem (full recompute, no cache), for the card
    prompt = held[0]["prompt"].strip() + "\nAnswer:"
    ids = tok.encode(prompt)
    model.eval()
    with torch.no_grad():
        for _ in range(40):
            x = torch.tensor([ids])
            logits, _ = model(x, torch.ones_like(x), torch.arange(x.shape[1])[None])
            nxt = int(logits[0, -1].argmax())
            if nxt == tok.eos_id:
                break
            ids.append(nxt)
    sample = tok.decode(ids)
    print("sample:", sample)

    out: Path = args.out
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    n, h, d = CFG["n_layer"], CFG["n_head"], CFG["n_embd"]
    b, t, p = 2, 3, 2
    dummy = [
        torch.randint(0, len(tok.vocab), (b, t)),
        torch.ones(b, p + t, dtype=torch.long),
        torch.arange(p, p + t)[None].expand(b, -1).contiguous(),
    ] + [torch.randn(b, h, p, d // h) for _ in range(2 * n)]
    past_names = [f"past_key_values.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
    dyn = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for nm in past_names:
        dyn[nm] = {0: "batch_size", 2: "past_sequence_length"}
    for nm in present_names:
        dyn[nm] = {0: "batch_size", 2: "total_sequence_length"}
    onnx_path = out / "onnx" / "model.onnx"
    torch.onnx.export(
        Export(model, n),
        tuple(dummy),
        str(onnx_path),
        input_names=["input_ids", "attention_mask", "position_ids"] + past_names,
        output_names=["logits"] + present_names,
        dynamic_axes=dyn,
        opset_version=14,
        do_constant_folding=True,
    )
    import onnx

    m = onnx.load(str(onnx_path))
    print("deduplicated tied weights:", dedupe_transposed_initializers(m))
    onnx.save(m, str(onnx_path))
    onnx.checker.check_model(onnx.load(str(onnx_path)))

    eos = tok.EOS
    write_json(
        out / "config.json",
        {
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "vocab_size": len(tok.vocab),
            **CFG,
            "n_ctx": CFG["n_positions"],
            "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-5,
            "resid_pdrop": 0.1,
            "embd_pdrop": 0.1,
            "attn_pdrop": 0.1,
            "initializer_range": 0.02,
            "tie_word_embeddings": True,
            "scale_attn_weights": True,
            "use_cache": True,
            "bos_token_id": tok.eos_id,
            "eos_token_id": tok.eos_id,
            "pad_token_id": tok.eos_id,
            "transformers.js_config": {"dtype": "fp32"},
        },
    )
    write_json(
        out / "generation_config.json",
        {
            "bos_token_id": tok.eos_id,
            "eos_token_id": tok.eos_id,
            "pad_token_id": tok.eos_id,
            "do_sample": False,
            "max_length": CFG["n_positions"],
        },
    )
    write_json(out / "tokenizer.json", tok.tokenizer_json())
    write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "GPT2Tokenizer",
            "add_bos_token": False,
            "add_prefix_space": False,
            "bos_token": eos,
            "eos_token": eos,
            "unk_token": eos,
            "pad_token": eos,
            "model_max_length": CFG["n_positions"],
            "padding_side": "left",
            "clean_up_tokenization_spaces": False,
        },
    )
    write_json(
        out / "heldout.json",
        {
            "description": "routellm-gsm8k ids held out from training (crc32('routellm-gsm8k:<id>') % 13 == 0); "
            "mmlu_law_ids: the 50 routellm-mmlu law prompts the training script scored for comparison",
            "routellm-gsm8k": [r["id"] for r in held],
            "mmlu_law_ids": [r["id"] for r in law],
        },
    )
    fixtures = [
        "Janet’s ducks lay 16 eggs per day. She eats 3, so 16 - 3 = 13.\n#### 13",
        "Which State ordinarily exercises jurisdiction over crimes on board vessels?",
        "Café déjà-vu: 3.5% of $1,200 is $<<0.035*1200=42>>42.  Done!\n\n",
    ]
    write_json(
        out / "training_run.json",
        {
            "model": NAME,
            "seed": SEED,
            "config": CFG,
            "vocab_size": len(tok.vocab),
            "bpe_merges": NUM_MERGES,
            "parameters": n_params,
            "documents": "'<prompt>\\nAnswer: <response>' per recorded response (Mixtral-8x7B-Instruct, GPT-4-1106), <|endoftext|>-separated",
            "train_problems": len(train),
            "train_tokens": len(stream),
            "block": BLOCK,
            "batch": BATCH,
            "optimizer": "AdamW lr 3e-3 (40-step warmup, cosine decay), betas (0.9, 0.98), wd 0.05, grad clip 1.0",
            "steps": step,
            "train_seconds": round(train_seconds, 1),
            "threads": args.threads,
            "torch": torch.__version__,
            "metrics_torch": metrics,
            "greedy_sample_torch": sample,
            "onnx_sha256": sha256_file(onnx_path),
            "tokenizer_fixtures": [{"text": s, "ids": tok.encode(s)} for s in fixtures],
            "reference_mean_logprob": [
                {"text": s, "mean_token_logprob_after_eos": round(v, 5)}
                for s, v in zip(fixtures, mean_logprob(model, [tok.encode(s) for s in fixtures], tok.eos_id))
            ],
        },
    )
    print("wrote", out)


if __name__ == "__main__":
    main()
