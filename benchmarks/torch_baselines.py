#!/usr/bin/env python3
"""What a PyTorch user runs instead of memloc, timed on the same card in the same run.

Times PyTorch eager on the shapes of perf-goals.md (cases A1-A9, B, C, D) and writes JSON in
Google Benchmark's layout, with names `group/case/torch_*` that match memloc_cuda_bench's
`group/case/memloc`, so benchmarks/report.py puts both in one row:

- A (μ fold): x[B, V, U, S] (NCHW, positions flattened) or x[B, V, S, U] (token-major);
  `torch_mean13` is x.mean(dim=(1, 3), dtype=float32), `torch_mean3_mean1` is
  x.mean(3, dtype=float32).mean(1); `torch_eager` is the faster of the two plus what memloc's
  update also keeps: the max with its argmax and the fp64 sum over samples.
- A9: the class sums of μ with index_add_ (`torch_eager`).
- B: UnitMem from μ[N, U]: max/argmax/fp64 sum (`torch_eager`), and torch.median (`torch_median`;
  it returns the lower middle of all N values where memloc averages the two middle values of
  the N - 1 others: the same selection work).
- C: mean pairwise distance of each sample's V views with torch.cdist, for f and for g.
- D: torch.topk.

Timing: CUDA events around each call, the median of --repeats calls after a warm-up. The A
and B inputs are those of memloc_cuda_bench; C's batches at small D fit in L2 here, where
memloc rotates copies, which favours PyTorch. With --device cpu and a small --scale it runs
anywhere, as a check of the script itself.

    python3 benchmarks/torch_baselines.py --out torch.json
"""

import argparse
import json
import statistics
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per case (median reported)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiplies every sample count (below 1 for a quick check of the script)")
    p.add_argument("--only", default="", help="run only cases whose name contains this text")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    if not 0 < args.scale <= 1:
        p.error(f"--scale must be in (0, 1], got {args.scale}")
    return args


class Timer:
    """Median seconds of a callable: CUDA events on a GPU, the wall clock on the CPU."""

    def __init__(self, torch, device, repeats):
        self.torch, self.device, self.repeats = torch, device, repeats

    def __call__(self, fn):
        torch = self.torch
        fn()  # warm-up: kernels selected, memory pooled
        times = []
        for _ in range(self.repeats):
            if self.device == "cuda":
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                times.append(start.elapsed_time(stop) * 1e-3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        return statistics.median(times)


def main(argv):
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch_baselines.py: PyTorch is not installed; nothing to measure", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("torch_baselines.py: no CUDA device visible to PyTorch", file=sys.stderr)
        return 2
    dev = torch.device(args.device)
    timer = Timer(torch, args.device, args.repeats)
    gen = torch.Generator(device=dev)
    gen.manual_seed(7)
    results = []

    def n(count):
        return max(2, int(count * args.scale))

    context = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "device": args.device,
               "scale": args.scale, "repeats": args.repeats}
    if args.device == "cuda":
        context["device"] = torch.cuda.get_device_name(0)
        context["cuda"] = torch.version.cuda

    def record(name, seconds, nbytes):
        results.append({"name": name, "run_name": name, "run_type": "iteration", "iterations": args.repeats,
                        "real_time": seconds * 1e3, "cpu_time": seconds * 1e3, "time_unit": "ms",
                        "bytes": float(nbytes), "bytes_per_second": nbytes / seconds})
        # Written after every timing, so a run stopped by a time limit keeps what it measured.
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump({"context": context, "benchmarks": results}, out, indent=1)

    def wanted(name):
        return args.only in name

    def random(shape, dtype):
        return (torch.rand(shape, generator=gen, device=dev) * 3 - 1).to(dtype)

    def state_over_samples(mu):
        # What memloc's update keeps besides μ: per unit, the max with its sample and the
        # fp64 sum over samples.
        top, where = mu.max(0)
        return top, where, mu.sum(0, dtype=torch.float64)

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    fold_cases = [("A1_prep", 256, 10, 64, 1024, ["fp32", "bf16"]), ("A2_layer1", 256, 10, 128, 256, ["fp32"]),
                  ("A3_layer2", 512, 10, 256, 64, ["fp32"]), ("A4_layer3", 1024, 10, 512, 16, ["fp32", "bf16"]),
                  ("A5_last_conv", 8192, 10, 256, 4, ["fp32"]), ("A6_vit_mlp", 64, 10, 3072, 197, ["bf16"]),
                  ("A8_latency", 32, 10, 128, 16, ["fp32"])]
    def fold_baselines(name, x, positions_dim):
        # μ over views (dim 1) and positions: in one call, or positions first then views.
        one_call = lambda: x.mean(dim=(1, positions_dim), dtype=torch.float32)
        two_calls = lambda: x.mean(positions_dim, dtype=torch.float32).mean(1)
        nbytes = x.numel() * x.element_size()
        t_one, t_two = timer(one_call), timer(two_calls)
        record(f"{name}torch_mean1{positions_dim}", t_one, nbytes)
        record(f"{name}torch_mean{positions_dim}_mean1", t_two, nbytes)
        fold = one_call if t_one <= t_two else two_calls
        record(name + "torch_eager", timer(lambda: state_over_samples(fold())), nbytes)

    for case, b, v, u, s, kinds in fold_cases:
        for kind in kinds:
            name = f"fold/{case}_{kind}/"
            if wanted(name):
                fold_baselines(name, random((n(b), v, u, s), dtypes[kind]), 3)
    name = "fold/A7_vit_mlp_token_major_bf16/"
    if wanted(name):
        fold_baselines(name, random((n(64), 10, 197, 3072), torch.bfloat16), 2)
    for classes in (10, 1000):
        name = f"fold/A9_classmem_{classes}_classes_fp32/"
        if not wanted(name):
            continue
        x = random((n(1024), 10, 512, 16), torch.float32)
        labels = torch.arange(x.shape[0], device=dev) % classes
        sums = torch.zeros((classes, 512), dtype=torch.float64, device=dev)

        def class_sums():
            sums.zero_()
            sums.index_add_(0, labels, x.mean(dim=(1, 3), dtype=torch.float32).double())

        record(name + "torch_eager", timer(class_sums), x.numel() * 4)
        del x

    for samples, units in ((50000, 64), (50000, 256), (50000, 512), (50000, 3072), (1281167, 512)):
        name = f"stats/B_mean_N{samples}_U{units}/"
        if not wanted(name):
            continue
        mu = random((n(samples), units), torch.float32)

        def unitmem_mean():
            top, where, total = state_over_samples(mu)
            rest = (total - top.double()) / (mu.shape[0] - 1)
            return (top.double() - rest) / (top.double() + rest)

        record(name + "torch_eager", timer(unitmem_mean), mu.numel() * 4)
        del mu
    name = "stats/B_median_N50000_U512/"
    if wanted(name):
        mu = random((n(50000), 512), torch.float32)
        record(name + "torch_median", timer(lambda: torch.median(mu, dim=0)), mu.numel() * 4)
        del mu

    for features in (128, 512, 2048, 49344):
        for distance in ("l2", "cosine"):
            for kind in (["fp32", "bf16"] if distance == "l2" else ["fp32"]):
                name = f"distances/C_D{features}_{distance}_{kind}/"
                if not wanted(name):
                    continue
                f = random((n(1024), 10, features), dtypes[kind])
                g = random((n(1024), 10, features), dtypes[kind])
                pairs = torch.triu_indices(10, 10, 1, device=dev)

                def mean_distance(reps):
                    reps = reps.float()
                    if distance == "cosine":
                        reps = torch.nn.functional.normalize(reps, dim=2)
                    d = torch.cdist(reps, reps)[:, pairs[0], pairs[1]]
                    return d.mean(1) if distance == "l2" else (0.5 * d * d).mean(1)

                record(name + "torch_cdist", timer(lambda: (mean_distance(f), mean_distance(g))),
                       2 * f.numel() * f.element_size())
                del f, g

    for samples in (50000, 1281167):
        for percent in (1, 10):
            name = f"ranking/D_top{percent}pct_N{samples}/"
            if not wanted(name):
                continue
            scores = torch.rand(n(samples), generator=gen, device=dev, dtype=torch.float64)
            k = max(1, -(-scores.numel() * percent // 100))
            record(name + "torch_topk", timer(lambda: torch.topk(scores, k).indices.cpu()), scores.numel() * 8)

    print(f"torch_baselines.py: {len(results)} timings written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
