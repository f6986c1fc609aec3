#!/usr/bin/env python3
"""FP32 matrix products in PyTorch on a GPU, the peer of `./lory4j bench gemm --backend tornado`.

    python3 tools/torch/gemm_bench.py --shapes 1024,2048,4096x688x256,4096x4096x256T,32*128x688x256T

Shapes as in lory4j (MxNxK, T = B transposed, B* = a batch). For each: GFLOP/s with the operands resident on
the device (CUDA-event timed back-to-back products) and per call from host tensors (copy in, product, copy
out), like lory4j's two columns. TF32 is off: FP32 products like ours. Prints one JSON line per shape.
"""
import argparse
import json
import re
import time

import torch


def parse(shape):
    m = re.fullmatch(r"(?:(\d+)\*)?(\d+)(?:x(\d+)x(\d+))?(T?)", shape)
    if not m:
        raise SystemExit("bad shape " + shape)
    batch = int(m.group(1) or 1)
    mm = int(m.group(2))
    n = int(m.group(3) or mm)
    k = int(m.group(4) or mm)
    return batch, mm, n, k, m.group(5) == "T"


def seconds(fn, reps):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="1024,2048,4096,4096x688x256,4096x256x688,4096x4096x256T,32*128x688x256T")
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device(a.device)
    for shape in a.shapes.split(","):
        batch, m, n, k, t = parse(shape)
        ha = torch.rand(batch, m, k) * 2 - 1
        hb = torch.rand(batch, n, k) * 2 - 1 if t else torch.rand(batch, k, n) * 2 - 1
        da, db = ha.to(dev), hb.to(dev)
        op = (lambda x, y: x @ y.transpose(-1, -2)) if t else (lambda x, y: x @ y)
        flops = 2.0 * batch * m * n * k
        reps = max(3, int(2e11 / flops))  # about 0.01-0.1 s of products
        resident = flops / seconds(lambda: op(da, db), reps) / 1e9
        t0 = time.perf_counter()
        calls = 0
        while time.perf_counter() - t0 < 1.0 or calls < 3:
            op(ha.to(dev), hb.to(dev)).cpu()
            calls += 1
        per_call = flops * calls / (time.perf_counter() - t0) / 1e9
        print(json.dumps({"peer": "pytorch " + torch.__version__, "device": torch.cuda.get_device_name(dev),
                          "shape": shape, "resident_gflops": round(resident, 1), "call_gflops": round(per_call, 1)}),
              flush=True)


if __name__ == "__main__":
    main()
