#!/usr/bin/env python3
"""memloc's UnitMem.update called from Python, against the same call from C++ and PyTorch eager.

Perf-goals 12 ("from Python, update on a batch >= 16 MB costs within 5 % of the same call
from C++") and 10 (faster than PyTorch eager on the CPU, same thread count), on case A4 of
benchmarks/host_fold.cpp: 400 samples x 10 views x 512 units x 16 positions, [N, V, U, S],
fp32 (131 MB) and bf16 (65.5 MB).

- memloc from Python: what one iteration of memloc_host_bench's fold/A4_layer3_<dtype>/memloc
  does, `acc.reset()` then `acc.update(x, ids=ids, layout="nvus")` on a default UnitMem
  (storage "auto": per unit for the mean variant), both inside the timed region as in C++.
  x is a torch CPU tensor, and for fp32 also a NumPy array over the same memory. As in C++,
  the inputs rotate among at least 4 copies that together exceed 512 MB, so no call reads
  what the previous one left in a cache.
- memloc from C++: memloc_host_bench (--cxx-bench) run with --benchmark_filter for the same
  cases, its JSON read back (median of the repetitions).
- PyTorch eager: torch_baselines.py's torch_eager, the faster of x.mean(dim=(1, 3),
  dtype=float32) and x.mean(3, dtype=float32).mean(1), plus the max with its argmax and the
  fp64 sum over samples, on the same rotating tensors.
- Per-call overhead: update on a tiny batch (2 x 2 x 4 x 1) and on A8's shape (32 x 10 x 128 x
  16, fp32), microseconds per call; each call folds a fresh range of ids into one accumulator
  (no reset). memloc_host_bench has no such case (A8 exists only in the CUDA suite), so there
  is no C++ figure beside them.

Timing is Google Benchmark's for all three: calls in a loop for at least --min-time seconds,
the mean per call, the median of --repetitions such loops (the C++ binary gets the same two
values). Each measurement is taken in --rounds rounds, C++, Python and eager interleaved
(this VM's memory bandwidth drifts), and the median over rounds is reported. OMP_NUM_THREADS (memloc, the C++
binary) and torch.set_num_threads are both --threads (default: nproc).

    build/venv/bin/python benchmarks/python_bindings.py --cxx-bench build/benchmarks/memloc_host_bench
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROTATION_BYTES = 512 << 20  # as benchmarks/host_bench_support.hpp
A4 = ("A4_layer3", 400, 10, 512, 16)


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cxx-bench", default=os.path.join(here, "..", "build", "benchmarks", "memloc_host_bench"),
                   help="memloc_host_bench binary (default: build/benchmarks/memloc_host_bench); "
                        "the C++ column is left empty if it does not exist")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="OpenMP threads for memloc and the C++ binary, and torch.set_num_threads (default: nproc)")
    p.add_argument("--repetitions", type=int, default=3,
                   help="per case and round, timed loops of calls (median taken), as --benchmark_repetitions")
    p.add_argument("--min-time", type=float, default=0.2,
                   help="seconds each timed loop runs at least (its mean per call is taken), as --benchmark_min_time")
    p.add_argument("--rounds", type=int, default=5, help="rounds of C++, Python and eager, interleaved (median taken)")
    p.add_argument("--calls", type=int, default=5000, help="calls per round for the per-call overhead cases")
    p.add_argument("--quick", action="store_true", help="one round, fewer repeats and calls (a check of the script)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.repetitions, args.min_time, args.calls = 1, 1, 0.05, 1000
    for name in ("threads", "repetitions", "rounds", "calls"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.min_time <= 0:
        p.error(f"--min-time must be > 0, got {args.min_time}")
    return args


def seconds_per_call(fn, repetitions, min_time):
    """What Google Benchmark reports with --benchmark_repetitions and --benchmark_min_time: fn()
    called in a loop until min_time has passed, the mean per call, and the median of
    repetitions such loops (after one warm-up call)."""
    fn()
    means = []
    for _ in range(repetitions):
        calls, t0 = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time:
                break
        means.append(elapsed / calls)
    return statistics.median(means)


def cxx_figures(binary, threads, repetitions, min_time):
    """{dtype: seconds} from memloc_host_bench's fold/A4_layer3_<dtype>/memloc, or {} without it."""
    if not binary or not os.path.exists(binary):
        return {}
    name = A4[0]
    cmd = [binary, f"--benchmark_filter=^fold/{name}_(fp32|bf16)/memloc(/|$)", "--benchmark_format=json",
           f"--benchmark_repetitions={repetitions}", f"--benchmark_min_time={min_time}",
           "--benchmark_report_aggregates_only=true"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({run.returncode}): {run.stderr.strip()}")
    report = json.loads(run.stdout)
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    figures = {}
    for b in report["benchmarks"]:
        # With repetitions, the aggregate "median"; with one repetition, the run itself.
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        dtype = b["run_name"].split("/")[1].rsplit("_", 1)[1]
        figures[dtype] = b["real_time"] * scale[b["time_unit"]]
    if set(figures) != {"fp32", "bf16"}:
        raise RuntimeError(f"{binary} reported {sorted(figures)} for {name}, expected fp32 and bf16")
    if report.get("context", {}).get("omp_threads") not in (None, str(threads)):
        raise RuntimeError(f"memloc_host_bench ran {report['context']['omp_threads']} OpenMP threads, not {threads}")
    return figures


def load_average():
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main(argv):
    args = parse_args(argv)
    load_at_start = load_average()
    # Before memloc's OpenMP runtime (and torch's) starts: both read it once.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    try:
        import numpy as np
        import torch
    except ImportError as e:
        print(f"python_bindings.py: {e}; needs numpy and torch", file=sys.stderr)
        return 2
    import memloc

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(7)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    case, samples, views, units, positions = A4
    ids = np.arange(samples, dtype=np.int64)

    def rotating(dtype):
        shape = (samples, views, units, positions)
        nbytes = samples * views * units * positions * torch.tensor([], dtype=dtype).element_size()
        copies = 1 if nbytes >= ROTATION_BYTES // 2 else max(4, -(-ROTATION_BYTES // nbytes))
        return [(torch.rand(shape, generator=gen) * 3 - 1).to(dtype) for _ in range(copies)], nbytes

    def memloc_update(inputs):
        acc = memloc.UnitMem(samples, units, views=views, positions=positions)
        turn = [0]

        def one_call():  # one iteration of the C++ benchmark: reset, then update
            x = inputs[turn[0]]
            turn[0] = (turn[0] + 1) % len(inputs)
            acc.reset()
            acc.update(x, ids=ids, layout="nvus")
        return one_call

    def eager(inputs, fold_kind):
        turn = [0]

        def fold(x):
            if fold_kind == "mean13":
                return x.mean(dim=(1, 3), dtype=torch.float32)
            return x.mean(3, dtype=torch.float32).mean(1)

        def one_call():
            x = inputs[turn[0]]
            turn[0] = (turn[0] + 1) % len(inputs)
            mu = fold(x)
            top, where = mu.max(0)
            return top, where, mu.sum(0, dtype=torch.float64)
        return one_call, fold

    measured = {}
    eager_choice = {}
    for r in range(args.rounds):
        cxx = cxx_figures(args.cxx_bench, args.threads, args.repetitions, args.min_time)
        for kind in ("fp32", "bf16"):
            inputs, nbytes = rotating(dtypes[kind])
            m = measured.setdefault(kind, {"bytes": nbytes})
            if kind in cxx:
                m.setdefault("cxx", []).append(cxx[kind])
            m.setdefault("python_torch", []).append(
                seconds_per_call(memloc_update(inputs), args.repetitions, args.min_time))
            if kind == "fp32":
                arrays = [x.numpy() for x in inputs]  # the same memory, as NumPy arrays
                m.setdefault("python_numpy", []).append(
                    seconds_per_call(memloc_update(arrays), args.repetitions, args.min_time))
                del arrays
            if kind not in eager_choice:  # the faster fold, chosen once as torch_baselines.py does
                folds = {}
                for fold_kind in ("mean13", "mean3_mean1"):
                    _, fold = eager(inputs, fold_kind)
                    folds[fold_kind] = seconds_per_call(lambda f=fold, x=inputs[0]: f(x), 1, args.min_time)
                eager_choice[kind] = min(folds, key=folds.get)
            m.setdefault("eager", []).append(seconds_per_call(eager(inputs, eager_choice[kind])[0], args.repetitions,
                                                             args.min_time))
            del inputs
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    # Per-call overhead: fresh ids each call into one accumulator, so no reset is timed.
    latency = []
    for name, (n, v, u, s) in (("tiny", (2, 2, 4, 1)), ("A8_latency", (32, 10, 128, 16))):
        x = (torch.rand((n, v, u, s), generator=gen) * 3 - 1)
        per_round = {"torch": [], "numpy": []}
        for _ in range(args.rounds):
            for source, batch in (("torch", x), ("numpy", x.numpy())):
                acc = memloc.UnitMem(n * (args.calls + 1), u, views=v, positions=s)
                id_ranges = [np.arange(c * n, (c + 1) * n, dtype=np.int64) for c in range(args.calls + 1)]
                acc.update(batch, ids=id_ranges[-1], layout="nvus")  # warm-up
                t0 = time.perf_counter()
                for c in range(args.calls):
                    acc.update(batch, ids=id_ranges[c], layout="nvus")
                per_round[source].append((time.perf_counter() - t0) / args.calls)
        latency.append((name, (n, v, u, s), x.numel() * 4, {k: statistics.median(t) for k, t in per_round.items()}))

    lscpu_model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                lscpu_model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    print(f"\nmachine: {lscpu_model or 'unknown'}, {os.cpu_count()} CPUs; threads: {args.threads} "
          f"(OMP_NUM_THREADS, torch.set_num_threads); torch {torch.__version__}, numpy {np.__version__}; "
          f"{args.rounds} round(s) x {args.repetitions} repetition(s) of >= {args.min_time} s, "
          f"median of round figures; "
          f"load average {load_at_start} "
          f"at the start, {load_average()} at the end\n")
    print("| case | dtype | input | memloc C++ | GB/s | memloc from Python | GB/s | vs C++ | PyTorch eager | "
          "memloc (Python) vs eager |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    results = {"load_average": [load_at_start, load_average()], "threads": args.threads, "cpu": lscpu_model,
               "rounds": args.rounds, "repetitions": args.repetitions, "min_time": args.min_time, "fold": [],
               "per_call": []}
    for kind in ("fp32", "bf16"):
        m = measured[kind]
        nbytes = m["bytes"]
        cxx = statistics.median(m["cxx"]) if "cxx" in m else None
        eager_s = statistics.median(m["eager"])
        for source in ("python_torch", "python_numpy"):
            if source not in m:
                continue
            py = statistics.median(m[source])
            cxx_cells = f"{cxx * 1e3:.2f} ms | {nbytes / cxx / 1e9:.1f}" if cxx else "– | –"
            overhead = f"{(py / cxx - 1) * 100:+.1f} %" if cxx else "–"
            print(f"| {case} | {kind} | {source.split('_')[1]} ({nbytes / 1e6:.1f} MB) | {cxx_cells} | "
                  f"{py * 1e3:.2f} ms | {nbytes / py / 1e9:.1f} | {overhead} | "
                  f"{eager_s * 1e3:.2f} ms ({eager_choice[kind]}) | {eager_s / py:.2f}× |")
            results["fold"].append({"case": case, "dtype": kind, "input": source.split("_")[1], "bytes": nbytes,
                                    "cxx_s": cxx, "python_s": py, "eager_s": eager_s, "eager_fold": eager_choice[kind],
                                    "cxx_rounds_s": m.get("cxx"), "python_rounds_s": m[source],
                                    "eager_rounds_s": m["eager"]})
    print("\n| per-call case | shape [N, V, U, S] | bytes | update from Python, torch | from Python, numpy | "
          "from C++ |")
    print("|---|---|---|---|---|---|")
    for name, shape, nbytes, t in latency:
        print(f"| {name} | {' x '.join(map(str, shape))} | {nbytes} | {t['torch'] * 1e6:.1f} µs | "
              f"{t['numpy'] * 1e6:.1f} µs | – (no host C++ case) |")
        results["per_call"].append({"case": name, "shape": shape, "bytes": nbytes, "torch_s": t["torch"],
                                    "numpy_s": t["numpy"]})
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
