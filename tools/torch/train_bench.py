#!/usr/bin/env python3
"""Training-step throughput of the lory4j "tiny" decoder (dense or Lory) in PyTorch, the peer of `./lory4j bench train`.

    /usr/bin/python3 tools/torch/train_bench.py --threads 2 [--steps 5] [--warmup 2] [--batch 8] [--seq 512]
                                                [--device cpu|cuda]

Prints one JSON line: {"peer":"pytorch ...","threads":N,"tokens_per_s":...,"step_ms":[...]}; the peer's name says
which OpenBLAS core ran (peer_blas.py: a generic fallback core is replaced by the one the CPU supports). The model is the
same as crosscheck.py's (by default vocab 256, hidden 256, 4 layers, 4 heads, intermediate 688, untied head),
trained with AdamW on random tokens; only the time per step is measured.

With --serve (how `./lory4j bench train` runs it, alternating its steps with ours): after the warm-up steps it
prints {"peer": ..., "ready": true}, then runs one step per line "step" read from standard input and answers
each with the step's seconds on one line ("rss": its peak resident set size in bytes); end of input stops it.
"""
import argparse
import json
import resource
import sys
import time

import peer_blas

peer_blas.ensure()  # before torch loads OpenBLAS: no generic fallback kernels for the peer (see peer_blas.py)

import torch  # noqa: E402

from crosscheck import Llama


class FastLlama(Llama):
    """The same model; the Lory layer written for speed as spec 3.2 suggests: one matmul merges all (row,
    segment) pairs (e @ Wflat), then batched matmuls apply each merged FFN to its segment."""

    def lory(self, x, prefix):
        cfg = self.cfg
        t = cfg["segment_length"]
        b, seq, d = x.shape
        n = seq // t
        e_count = cfg["num_experts"]
        segs = x.view(b * n, t, d)
        e = torch.softmax(segs.mean(1) @ self.w(prefix + "router.weight").t(), dim=-1).view(b, n, e_count)
        e_used = torch.cat([e[:, :1].detach(), e[:, : n - 1]], dim=1).reshape(b * n, e_count)
        def merged(name):
            w = self.w(prefix + "experts." + name)
            return (e_used @ w.reshape(e_count, -1)).view(b * n, w.shape[1], w.shape[2])
        z = torch.nn.functional.silu(torch.bmm(segs, merged("gate_proj").transpose(1, 2))) * \
            torch.bmm(segs, merged("up_proj").transpose(1, 2))
        return torch.bmm(z, merged("down_proj").transpose(1, 2)).view(b, seq, d)


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
    ap.add_argument("--experts", type=int, default=0, help="0: dense; E > 0: Lory with E experts")
    ap.add_argument("--segment", type=int, default=128)
    ap.add_argument("--serve", action="store_true", help="one step per 'step' line on stdin (see the docstring)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU peer of --backend tornado (FP32, no TF32)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.device != "cpu":
        torch.backends.cuda.matmul.allow_tf32 = False  # FP32 products, like ours
        torch.backends.cudnn.allow_tf32 = False
        torch.set_default_device(a.device)  # every tensor the model makes (RoPE tables, masks) lives there too
    torch.manual_seed(0)
    cfg = {"vocab_size": a.vocab, "hidden_size": a.hidden, "num_hidden_layers": a.layers,
           "num_attention_heads": a.heads, "intermediate_size": a.intermediate, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "tie_word_embeddings": False}
    if a.experts > 0:
        cfg.update({"moe_kind": "lory", "num_experts": a.experts, "segment_length": a.segment})
    h, inter, v = a.hidden, a.intermediate, a.vocab
    params = {"model.embed_tokens.weight": torch.randn(v, h) * 0.02, "model.norm.weight": torch.ones(h),
              "lm_head.weight": torch.randn(v, h) * 0.02}
    for i in range(a.layers):
        p = "model.layers.%d." % i
        params[p + "input_layernorm.weight"] = torch.ones(h)
        params[p + "post_attention_layernorm.weight"] = torch.ones(h)
        for n in "qkvo":
            params[p + "self_attn.%s_proj.weight" % n] = torch.randn(h, h) * 0.02
        if a.experts > 0:
            params[p + "mlp.router.weight"] = torch.randn(a.experts, h) * 0.02
            params[p + "mlp.experts.gate_proj"] = torch.randn(a.experts, inter, h) * 0.02
            params[p + "mlp.experts.up_proj"] = torch.randn(a.experts, inter, h) * 0.02
            params[p + "mlp.experts.down_proj"] = torch.randn(a.experts, h, inter) * 0.02
        else:
            params[p + "mlp.gate_proj.weight"] = torch.randn(inter, h) * 0.02
            params[p + "mlp.up_proj.weight"] = torch.randn(inter, h) * 0.02
            params[p + "mlp.down_proj.weight"] = torch.randn(h, inter) * 0.02
    model = FastLlama(cfg, params)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    blas = peer_blas.describe()
    name = "pytorch " + torch.__version__ + (", " + blas if blas else "")

    def one_step():
        tokens = torch.randint(0, v, (a.batch, a.seq))
        targets = torch.randint(0, v, (a.batch, a.seq))
        t0 = time.perf_counter()
        logits = model(tokens)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, v), targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if a.device != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    if a.serve:
        for _ in range(a.warmup):
            one_step()
        print(json.dumps({"peer": name, "ready": True}), flush=True)
        for line in sys.stdin:
            if line.strip() == "step":
                print(repr(one_step()), flush=True)
            elif line.strip() == "rss":  # peak resident set size of this process, bytes (Linux: ru_maxrss in KiB)
                print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)
        return
    times = []
    for step in range(a.warmup + a.steps):
        dt = one_step()
        if step >= a.warmup:
            times.append(dt)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"peer": name, "threads": a.threads, "device": a.device,
                      "model": "lory E=%d T=%d" % (a.experts, a.segment) if a.experts else "dense",
                      "tokens_per_s": a.batch * a.seq / median, "step_ms": [round(t * 1e3, 1) for t in times]}))


if __name__ == "__main__":
    main()
