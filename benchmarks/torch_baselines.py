#!/usr/bin/env python3
"""What a PyTorch user runs instead of memloc, timed on the same machine in the same run.

Times PyTorch eager on the shapes of perf-goals.md and writes JSON in Google Benchmark's
layout, with names `group/case/torch_*` that match the memloc benchmarks' `group/case/memloc`,
so benchmarks/report.py puts both in one row. `--shapes gpu` (the default with --device cuda)
uses memloc_cuda_bench's cases; `--shapes host` (the default with --device cpu) uses
memloc_host_bench's: fewer samples per fold case, C with N = 5 000 in batches of 1 000 and
D <= 2048, and no ranking (D), whose host benchmarks are named otherwise.

- A (μ fold): x[B, V, U, S] (NCHW, positions flattened) or x[B, V, S, U] (token-major);
  `torch_mean13` is x.mean(dim=(1, 3), dtype=float32), `torch_mean3_mean1` is
  x.mean(3, dtype=float32).mean(1); `torch_eager` is the faster of the two plus what memloc's
  update also keeps: the max with its argmax and the fp64 sum over samples.
- A9: the class sums of μ with index_add_ (`torch_eager`).
- B: UnitMem from μ[N, U]: max/argmax/fp64 sum and the formula (`torch_eager`). For the
  median variant, the authors' pipeline (spec §11.1: μ of every sample kept, then per unit
  the median of the column without its maximum; `torch_authors`, sorting each column as
  numpy's median does in effect), the same values from two torch.kthvalue calls
  (`torch_kthvalue`), and torch.median (`torch_median`; the lower middle of all N values, where
  memloc averages the two middle values of the N - 1 others: the same selection work).
- C: the mean pairwise distance of each sample's V views, for f and for g, with torch.cdist
  (`torch_cdist`) and with the expanded Gram form |a|^2 + |b|^2 - 2 a.b over a batched matrix
  product (`torch_gram`).
- D (GPU shapes only): torch.topk.

Inputs rotate among copies as memloc's benchmarks do (at least 4 copies that together
exceed --rotate-mb, unless one input is at least half of it), so a timed call does not read
what the previous one left in a cache. Timing: CUDA events around each call on a GPU, the
wall clock on the CPU; the median of --repeats calls after a warm-up. On the CPU, --threads
sets torch's intra-op threads (give memloc's OpenMP thread count). A small --scale makes a
quick check of the script itself.

    python3 benchmarks/torch_baselines.py --out torch.json
    python3 benchmarks/torch_baselines.py --device cpu --threads 2 --out torch_cpu.json
"""

import argparse
import json
import os
import re
import statistics
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"), help="cuda (default) or cpu")
    p.add_argument("--shapes", choices=("gpu", "host"), default=None,
                   help="which benchmark suite's cases (default: gpu with cuda, host with cpu)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads on the CPU (default: torch's own choice)")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per case (median reported)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiplies every sample count (below 1 for a quick check of the script)")
    p.add_argument("--rotate-mb", type=float, default=512.0,
                   help="inputs rotate among copies that together exceed this many MiB (0: no copies)")
    p.add_argument("--only", default="", help="run only cases whose name matches this regular expression")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    if not 0 < args.scale <= 1:
        p.error(f"--scale must be in (0, 1], got {args.scale}")
    if args.threads < 0:
        p.error(f"--threads must be >= 0, got {args.threads}")
    if args.rotate_mb < 0:
        p.error(f"--rotate-mb must be >= 0, got {args.rotate_mb}")
    try:
        re.compile(args.only)
    except re.error as e:
        p.error(f"--only must be a regular expression, got {args.only!r} ({e})")
    if args.shapes is None:
        args.shapes = "gpu" if args.device == "cuda" else "host"
    return args


# (case, samples on the GPU, samples on the host, views, units, positions, dtypes on the GPU,
# dtypes on the host, token-major). The host counts are memloc_host_bench's (64-256 MB inputs).
FOLD_CASES = [
    ("A1_prep", 256, 64, 10, 64, 1024, ["fp32", "bf16"], ["fp32", "bf16"], False),
    ("A2_layer1", 256, 100, 10, 128, 256, ["fp32"], ["fp32"], False),
    ("A3_layer2", 512, 200, 10, 256, 64, ["fp32"], ["fp32"], False),
    ("A3_layer2", 512, 200, 10, 256, 64, [], ["fp32"], True),
    ("A4_layer3", 1024, 400, 10, 512, 16, ["fp32", "bf16"], ["fp32", "bf16"], False),
    ("A5_last_conv", 8192, 3200, 10, 256, 4, ["fp32"], ["fp32"], False),
    ("A6_vit_mlp", 64, 8, 10, 3072, 197, ["bf16"], ["bf16"], False),
    ("A7_vit_mlp", 64, 8, 10, 3072, 197, ["bf16"], ["bf16"], True),
    ("A8_latency", 32, 0, 10, 128, 16, ["fp32"], [], False),
]
CLASSMEM_SAMPLES = {"gpu": 1024, "host": 400}  # the A4 shape
STATS_CASES = {"gpu": [(50000, 64), (50000, 256), (50000, 512), (50000, 3072), (1281167, 512)],
               "host": [(50000, 64), (50000, 256), (50000, 512), (50000, 3072)]}
MEDIAN_CASES = {"gpu": [(50000, 512)], "host": [(50000, 64), (50000, 512)]}
# (samples, batch, feature counts)
DISTANCE_CASES = {"gpu": (1024, 1024, (128, 512, 2048, 49344)), "host": (5000, 1000, (128, 512, 2048))}


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


class Rotating:
    """Copies of one input handed out in turn (see the module's docstring)."""

    def __init__(self, make, rotate_bytes):
        first = make(0)
        nbytes = first.numel() * first.element_size()
        copies = 1
        if rotate_bytes > 0 and nbytes < rotate_bytes / 2:
            copies = max(4, -(-int(rotate_bytes) // max(1, nbytes)))
        self.copies = [first] + [make(c) for c in range(1, copies)]
        self.turn = 0
        self.nbytes = nbytes

    def next(self):
        x = self.copies[self.turn]
        self.turn = (self.turn + 1) % len(self.copies)
        return x


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
    if args.device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    timer = Timer(torch, args.device, args.repeats)
    gen = torch.Generator(device=dev)
    gen.manual_seed(7)
    shapes = args.shapes
    rotate_bytes = args.rotate_mb * (1 << 20)
    results = []

    def n(count):
        return max(2, int(count * args.scale))

    context = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "device": args.device,
               "shapes": shapes, "scale": args.scale, "repeats": args.repeats, "rotate_mb": args.rotate_mb}
    if args.device == "cuda":
        context["device"] = torch.cuda.get_device_name(0)
        context["cuda"] = torch.version.cuda
    else:
        context["torch_threads"] = torch.get_num_threads()
        context["num_cpus"] = os.cpu_count()

    def record(name, seconds, nbytes):
        results.append({"name": name, "run_name": name, "run_type": "iteration", "iterations": args.repeats,
                        "real_time": seconds * 1e3, "cpu_time": seconds * 1e3, "time_unit": "ms",
                        "bytes": float(nbytes), "bytes_per_second": nbytes / seconds})
        # Written after every timing, so a run stopped by a time limit keeps what it measured.
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump({"context": context, "benchmarks": results}, out, indent=1)

    def wanted(name):
        # Matched as scripts/bench's --filter matches the benchmark names.
        return re.search(args.only, name + "torch") is not None

    def random(shape, dtype):
        return (torch.rand(shape, generator=gen, device=dev) * 3 - 1).to(dtype)

    def rotating(shape, dtype):
        return Rotating(lambda _: random(shape, dtype), rotate_bytes)

    def state_over_samples(mu):
        # What memloc's update keeps besides μ: per unit, the max with its sample and the
        # fp64 sum over samples.
        top, where = mu.max(0)
        return top, where, mu.sum(0, dtype=torch.float64)

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}

    def fold_baselines(name, inputs, positions_dim):
        # μ over views (dim 1) and positions: in one call, or positions first then views.
        one_call = lambda: inputs.next().mean(dim=(1, positions_dim), dtype=torch.float32)
        two_calls = lambda: inputs.next().mean(positions_dim, dtype=torch.float32).mean(1)
        t_one, t_two = timer(one_call), timer(two_calls)
        record(f"{name}torch_mean1{positions_dim}", t_one, inputs.nbytes)
        record(f"{name}torch_mean{positions_dim}_mean1", t_two, inputs.nbytes)
        fold = one_call if t_one <= t_two else two_calls
        record(name + "torch_eager", timer(lambda: state_over_samples(fold())), inputs.nbytes)

    for case, gpu_b, host_b, v, u, s, gpu_kinds, host_kinds, token_major in FOLD_CASES:
        b, kinds = (gpu_b, gpu_kinds) if shapes == "gpu" else (host_b, host_kinds)
        for kind in kinds:
            name = f"fold/{case}{'_token_major' if token_major else ''}_{kind}/"
            if not wanted(name):
                continue
            shape = (n(b), v, s, u) if token_major else (n(b), v, u, s)
            inputs = rotating(shape, dtypes[kind])
            fold_baselines(name, inputs, 2 if token_major else 3)
            del inputs
    for classes in (10, 1000):
        name = f"fold/A9_classmem_{classes}_classes_fp32/"
        if not wanted(name):
            continue
        inputs = rotating((n(CLASSMEM_SAMPLES[shapes]), 10, 512, 16), torch.float32)
        labels = torch.arange(inputs.copies[0].shape[0], device=dev) % classes
        sums = torch.zeros((classes, 512), dtype=torch.float64, device=dev)

        def class_sums():
            sums.zero_()
            sums.index_add_(0, labels, inputs.next().mean(dim=(1, 3), dtype=torch.float32).double())

        record(name + "torch_eager", timer(class_sums), inputs.nbytes)
        del inputs

    for samples, units in STATS_CASES[shapes]:
        name = f"stats/B_mean_N{samples}_U{units}/"
        if not wanted(name):
            continue
        inputs = rotating((n(samples), units), torch.float32)

        def unitmem_mean():
            mu = inputs.next()
            top, where, total = state_over_samples(mu)
            rest = (total - top.double()) / (mu.shape[0] - 1)
            return (top.double() - rest) / (top.double() + rest), where

        record(name + "torch_eager", timer(unitmem_mean), inputs.nbytes)
        del inputs
    for samples, units in MEDIAN_CASES[shapes]:
        name = f"stats/B_median_N{samples}_U{units}/"
        if not wanted(name):
            continue
        inputs = rotating((n(samples), units), torch.float32)
        others = n(samples) - 1
        # 0-based ranks of the middle of the N - 1 others; they are also the ranks among all N,
        # since the maximum sorts last.
        low, high = (others - 1) // 2, others // 2

        def selectivity(top, rest):
            return (top - rest) / (top + rest)

        def authors():
            column_sorted = inputs.next().double().sort(0).values
            top, rest = column_sorted[-1], column_sorted[:-1]
            return selectivity(top, 0.5 * (rest[low] + rest[high]))

        def kthvalue():
            mu = inputs.next()
            top = mu.max(0).values.double()
            lower = mu.kthvalue(low + 1, 0).values.double()
            upper = lower if high == low else mu.kthvalue(high + 1, 0).values.double()
            return selectivity(top, 0.5 * (lower + upper))

        record(name + "torch_authors", timer(authors), inputs.nbytes)
        record(name + "torch_kthvalue", timer(kthvalue), inputs.nbytes)
        record(name + "torch_median", timer(lambda: torch.median(inputs.next(), dim=0)), inputs.nbytes)
        del inputs

    samples, batch, feature_counts = DISTANCE_CASES[shapes]
    pairs = torch.triu_indices(10, 10, 1, device=dev)
    for features in feature_counts:
        for distance in ("l2", "cosine"):
            for kind in (["fp32", "bf16"] if distance == "l2" else ["fp32"]):
                name = f"distances/C_D{features}_{distance}_{kind}/"
                if not wanted(name):
                    continue
                rows = n(samples)
                inputs = rotating((2, rows, 10, features), dtypes[kind])

                def prepared(reps):
                    reps = reps.float()
                    return torch.nn.functional.normalize(reps, dim=2) if distance == "cosine" else reps

                def from_distances(d):
                    d = d[:, pairs[0], pairs[1]]
                    return d.mean(1) if distance == "l2" else (0.5 * d * d).mean(1)

                def by_cdist(reps):
                    reps = prepared(reps)
                    return from_distances(torch.cdist(reps, reps))

                def by_gram(reps):
                    reps = prepared(reps)
                    gram = torch.bmm(reps, reps.transpose(1, 2))
                    norms = gram.diagonal(dim1=1, dim2=2)
                    squares = norms.unsqueeze(2) + norms.unsqueeze(1) - 2 * gram
                    return from_distances(squares.clamp_min_(0).sqrt_())

                def both_encoders(method):
                    def run():
                        x = inputs.next()
                        return [method(x[e, first:first + batch]) for e in (0, 1)
                                for first in range(0, rows, batch)]
                    return run

                record(name + "torch_cdist", timer(both_encoders(by_cdist)), inputs.nbytes)
                record(name + "torch_gram", timer(both_encoders(by_gram)), inputs.nbytes)
                del inputs

    if shapes == "gpu":
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
