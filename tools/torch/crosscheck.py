#!/usr/bin/env python3
"""Cross-check a lory4j dump against PyTorch.

A dump (written by `./lory4j dump ...`) is one safetensors file holding every model parameter under its
Hugging Face LLaMA name, `input.tokens`, `input.targets`, lory4j's `output.logits` / `output.loss` and every
parameter gradient under `grad.<name>`; its `__metadata__` holds the model config as JSON (HF keys).

This script rebuilds the same model in plain PyTorch (no `transformers` needed), runs forward and backward
once on the same tokens, and compares:

    /usr/bin/python3 tools/torch/crosscheck.py compare DUMP.safetensors       # prints max relative errors
    /usr/bin/python3 tools/torch/crosscheck.py golden DUMP.safetensors OUT.safetensors
        # writes a golden file: the parameters and inputs of DUMP plus PyTorch's logits, loss and gradients
        # (the Java test GoldenCrossCheckTest compares lory4j against such files)

Run with Debian's python3 (apt-get install python3-torch libopenblas0-pthread).
"""
import json
import math
import struct
import sys

import torch

DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
          "I64": (torch.int64, 8), "I32": (torch.int32, 4)}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        dtype, size = DTYPES[e["dtype"]]
        b, end = e["data_offsets"]
        buf = bytearray(raw[base + b: base + end])
        t = torch.frombuffer(buf, dtype=dtype) if end > b else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors, meta):
    header = {}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Llama(torch.nn.Module):
    """The decoder lory4j's DecoderLM implements: pre-norm blocks, RoPE (rotate-half), SwiGLU, RMSNorm."""

    def __init__(self, cfg, params):
        super().__init__()
        self.cfg = cfg
        self.p = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v.float().clone())
                                         for k, v in params.items()})

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def rms(self, x, name):
        eps = self.cfg["rms_norm_eps"]
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.w(name)

    def rope(self, x):
        d = x.shape[-1]
        seq = x.shape[-2]
        inv_freq = 1.0 / (self.cfg["rope_theta"] ** (torch.arange(0, d, 2).float() / d))
        t = torch.arange(seq).float()
        freqs = torch.outer(t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        rotated = torch.cat((-x2, x1), dim=-1)
        return x * cos + rotated * sin

    def mlp(self, x, prefix):
        g = x @ self.w(prefix + "gate_proj.weight").t()
        u = x @ self.w(prefix + "up_proj.weight").t()
        return (torch.nn.functional.silu(g) * u) @ self.w(prefix + "down_proj.weight").t()

    def lory(self, x, prefix):
        """Lory layer (spec section 2), written independently of lory4j with einsum: causal segment routing."""
        cfg = self.cfg
        t = cfg["segment_length"]
        b, seq, d = x.shape
        n = (seq + t - 1) // t
        xp = torch.nn.functional.pad(x, (0, 0, 0, n * t - seq))
        segs = xp.view(b, n, t, d)
        counts = torch.tensor([min(t, seq - k * t) for k in range(n)], dtype=torch.float32)
        means = segs.sum(2) / counts.view(1, n, 1)
        logits = means @ self.w(prefix + "router.weight").t()
        if cfg.get("router_bias"):
            logits = logits + self.w(prefix + "router.bias")
        e = torch.softmax(logits, dim=-1)
        e_used = torch.cat([e[:, :1].detach(), e[:, : n - 1]], dim=1)
        w1 = torch.einsum("bne,eij->bnij", e_used, self.w(prefix + "experts.gate_proj"))
        w3 = torch.einsum("bne,eij->bnij", e_used, self.w(prefix + "experts.up_proj"))
        w2 = torch.einsum("bne,eij->bnij", e_used, self.w(prefix + "experts.down_proj"))
        z = torch.nn.functional.silu(torch.einsum("bntd,bnid->bnti", segs, w1)) * \
            torch.einsum("bntd,bnid->bnti", segs, w3)
        out = torch.einsum("bnti,bndi->bntd", z, w2)
        return out.reshape(b, n * t, d)[:, :seq]

    def is_moe(self, layer):
        layers = self.cfg.get("moe_layers") or []
        return self.cfg.get("moe_kind", "dense") != "dense" and (not layers or layer in layers)

    def forward(self, tokens):
        cfg = self.cfg
        b, seq = tokens.shape
        heads = cfg["num_attention_heads"]
        hd = cfg["hidden_size"] // heads
        h = self.w("model.embed_tokens.weight")[tokens]
        mask = torch.triu(torch.ones(seq, seq, dtype=torch.bool), diagonal=1)
        for i in range(cfg["num_hidden_layers"]):
            pre = "model.layers.%d." % i
            x = self.rms(h, pre + "input_layernorm.weight")
            def proj(n):
                return (x @ self.w(pre + "self_attn." + n + "_proj.weight").t()).view(b, seq, heads, hd).transpose(1, 2)
            q, k, v = self.rope(proj("q")), self.rope(proj("k")), proj("v")
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            s = s.masked_fill(mask, float("-inf"))
            a = torch.softmax(s, dim=-1) @ v
            a = a.transpose(1, 2).reshape(b, seq, heads * hd)
            h = h + a @ self.w(pre + "self_attn.o_proj.weight").t()
            normed = self.rms(h, pre + "post_attention_layernorm.weight")
            h = h + (self.lory(normed, pre + "mlp.") if self.is_moe(i) else self.mlp(normed, pre + "mlp."))
        h = self.rms(h, "model.norm.weight")
        head = self.w("model.embed_tokens.weight") if cfg.get("tie_word_embeddings") else self.w("lm_head.weight")
        return h @ head.t()


def run_torch(tensors, meta):
    cfg = json.loads(meta["config"])
    kind = cfg.get("moe_kind", "dense")
    if kind not in ("dense", "lory"):
        sys.exit("crosscheck.py: moe_kind %r is not supported by this script (dense and lory are)" % kind)
    params = {k: v for k, v in tensors.items() if not k.startswith(("input.", "output.", "grad."))}
    model = Llama(cfg, params)
    tokens = tensors["input.tokens"].long()
    targets = tensors["input.targets"].long()
    logits = model(tokens)
    ignore = int(meta.get("ignore_index", "-100"))
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                             ignore_index=ignore)
    loss.backward()
    grads = {k: model.w(k).grad.detach() for k in params}
    return params, tokens, targets, logits.detach(), loss.detach(), grads


def rel(a, b):
    a = a.double()
    b = b.double()
    return ((a - b).norm() / max(b.norm().item(), 1e-30)).item()


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("compare", "golden"):
        sys.exit(__doc__)
    torch.manual_seed(0)
    tensors, meta = read_safetensors(sys.argv[2])
    params, tokens, targets, logits, loss, grads = run_torch(tensors, meta)
    if sys.argv[1] == "golden":
        if len(sys.argv) != 4:
            sys.exit("usage: crosscheck.py golden DUMP OUT")
        out = dict(params)
        out["input.tokens"] = tokens
        out["input.targets"] = targets
        out["output.logits"] = logits
        out["output.loss"] = loss.reshape(())
        for k, g in grads.items():
            out["grad." + k] = g
        meta = dict(meta)
        meta["golden_by"] = "PyTorch %s (tools/torch/crosscheck.py)" % torch.__version__
        write_safetensors(sys.argv[3], out, meta)
        print("wrote %s: loss %.6f" % (sys.argv[3], loss.item()))
        return
    worst = 0.0
    rows = [("output.loss", rel(tensors["output.loss"].reshape(()), loss)),
            ("output.logits", rel(tensors["output.logits"], logits))]
    rows += [("grad." + k, rel(tensors["grad." + k], g)) for k, g in grads.items()]
    for name, r in rows:
        worst = max(worst, r)
        print("%-60s rel err %.3e" % (name, r))
    print("loss lory4j %.6f, PyTorch %.6f; worst relative error %.3e" % (tensors["output.loss"].item(), loss.item(), worst))
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
