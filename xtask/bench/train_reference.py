#!/usr/bin/env python3
# PyTorch eager CPU reference for `cargo xtask bench train`: the same training step as the
# Rust side on the same SmolLM2 weights (an HF folder of f32 safetensors) and the same tokens
# (forward, per-token weighted cross-entropy, backward, AdamW), written as Hugging Face's
# Llama computes it (RMSNorm, rotate-half RoPE, repeated key/value heads, scaled-dot-product
# attention with a causal mask, SwiGLU MLP, tied output projection). Prints one JSON line:
# median seconds per step, peak RSS, the first step's loss.
import argparse
import json
import resource
import statistics
import struct
import time

import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {meta['dtype']}, expected F32")
        a, b = meta["data_offsets"]
        t = torch.frombuffer(data[a:b], dtype=torch.float32).reshape(meta["shape"])
        out[name] = t.clone()
    return out


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return x * torch.rsqrt(var + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(p, cfg, ids, cos, sin):
    h = cfg["hidden_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = h // nh
    eps = cfg["rms_norm_eps"]
    t = ids.shape[1]
    x = F.embedding(ids, p["model.embed_tokens.weight"])
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        a = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = F.linear(a, p[pre + "self_attn.q_proj.weight"]).view(1, t, nh, d).transpose(1, 2)
        k = F.linear(a, p[pre + "self_attn.k_proj.weight"]).view(1, t, nkv, d).transpose(1, 2)
        v = F.linear(a, p[pre + "self_attn.v_proj.weight"]).view(1, t, nkv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        o = o.transpose(1, 2).reshape(1, t, h)
        x = x + F.linear(o, p[pre + "self_attn.o_proj.weight"])
        m = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        g = F.linear(m, p[pre + "mlp.gate_proj.weight"])
        u = F.linear(m, p[pre + "mlp.up_proj.weight"])
        x = x + F.linear(F.silu(g) * u, p[pre + "mlp.down_proj.weight"])
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p.get("lm_head.weight", p["model.embed_tokens.weight"])
    return F.linear(x, head)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="HF folder with f32 model.safetensors")
    ap.add_argument("--tokens", required=True, help="JSON: ids, targets, weights")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = json.load(open(f"{args.model}/config.json"))
    params = load_safetensors(f"{args.model}/model.safetensors")
    for t in params.values():
        t.requires_grad_(True)
    opt = torch.optim.AdamW(params.values(), lr=args.lr, weight_decay=0.0)
    batch = json.load(open(args.tokens))
    ids = torch.tensor([batch["ids"]], dtype=torch.long)
    targets = torch.tensor(batch["targets"], dtype=torch.long)
    weights = torch.tensor(batch["weights"], dtype=torch.float32)
    t = ids.shape[1]
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = torch.outer(torch.arange(t, dtype=torch.float32), inv)
    ang = torch.cat((ang, ang), dim=-1)
    cos, sin = ang.cos()[None, None], ang.sin()[None, None]

    times, first_loss = [], None
    for step in range(args.steps + 1):
        start = time.perf_counter()
        logits = forward(params, cfg, ids, cos, sin)[0]
        nll = F.cross_entropy(logits, targets, reduction="none")
        loss = (nll * weights).sum()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        elapsed = time.perf_counter() - start
        if first_loss is None:
            first_loss = loss.item()
        if step > 0:  # the first step warms up allocations and the optimizer state
            times.append(elapsed)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "seconds_per_step": statistics.median(times),
        "step_seconds": times,
        "peak_rss_bytes": rss,
        "first_loss": first_loss,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
