#!/usr/bin/env python3
"""Training-step throughput of the lory4j "tiny" decoder in PyTorch (the peer of `./lory4j bench train`).

    /usr/bin/python3 tools/torch/train_bench.py --threads 2 [--steps 5] [--warmup 2] [--batch 8] [--seq 512]

Prints one JSON line: {"peer":"pytorch","threads":N,"tokens_per_s":...,"step_ms":[...]}. The model is the
same as crosscheck.py's (vocab 256, hidden 256, 4 layers, 4 heads, intermediate 688, untied head), trained
with AdamW on random tokens; only the time per step is measured.
"""
import argparse
import json
import time

import torch

from crosscheck import Llama


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=688)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = {"vocab_size": a.vocab, "hidden_size": a.hidden, "num_hidden_layers": a.layers,
           "num_attention_heads": a.heads, "intermediate_size": a.intermediate, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "tie_word_embeddings": False}
    h, inter, v = a.hidden, a.intermediate, a.vocab
    params = {"model.embed_tokens.weight": torch.randn(v, h) * 0.02, "model.norm.weight": torch.ones(h),
              "lm_head.weight": torch.randn(v, h) * 0.02}
    for i in range(a.layers):
        p = "model.layers.%d." % i
        params[p + "input_layernorm.weight"] = torch.ones(h)
        params[p + "post_attention_layernorm.weight"] = torch.ones(h)
        for n in "qkvo":
            params[p + "self_attn.%s_proj.weight" % n] = torch.randn(h, h) * 0.02
        params[p + "mlp.gate_proj.weight"] = torch.randn(inter, h) * 0.02
        params[p + "mlp.up_proj.weight"] = torch.randn(inter, h) * 0.02
        params[p + "mlp.down_proj.weight"] = torch.randn(h, inter) * 0.02
    model = Llama(cfg, params)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times = []
    for step in range(a.warmup + a.steps):
        tokens = torch.randint(0, v, (a.batch, a.seq))
        targets = torch.randint(0, v, (a.batch, a.seq))
        t0 = time.perf_counter()
        logits = model(tokens)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, v), targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if step >= a.warmup:
            times.append(dt)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"peer": "pytorch " + torch.__version__, "threads": a.threads,
                      "tokens_per_s": a.batch * a.seq / median, "step_ms": [round(t * 1e3, 1) for t in times]}))


if __name__ == "__main__":
    main()
