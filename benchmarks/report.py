#!/usr/bin/env python3
"""Turns benchmark JSON into the tables of docs/benchmarks.md.

Reads Google Benchmark JSON files (memloc_host_bench, memloc_analysis_bench,
memloc_cuda_bench) and, optionally, the JSON of benchmarks/torch_baselines.py. Benchmarks
named `group/case/implementation` become one row per case, with memloc's median time and
throughput, its share of the in-run roofline of that case, and its speed-up over every
other implementation measured for the case. Other names (the analysis suite) are listed as
they are. Only the standard library is used, so it runs wherever the benchmarks do.

    benchmarks/report.py build/bench/host.json build/bench/analysis.json
    benchmarks/report.py --peak-gbs 4800 gpu/bench.json gpu/torch.json
"""

import argparse
import json
import sys
from collections import OrderedDict

TIME_TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
ROOFLINES = ("roofline", "roofline_read", "roofline_copy")
# PyTorch rows that compute everything memloc's row computes; the fastest of a case's is its
# `vs torch`. The others (a mean without the per-unit state, torch.median's lower middle of
# all values) do part of the work and get their own columns only with --each-torch.
TORCH_COMPLETE = ("torch_eager", "torch_authors", "torch_kthvalue", "torch_cdist", "torch_gram", "torch_topk")

# perf-goals.md, goals 6-9 (host, 2 threads) as checks on a row; GPU goals need the card's
# peak and the PyTorch rows, and are judged by hand in docs/benchmarks.md.
HOST_GOALS = {
    "fold": "goal 6: >= 50 % of roofline and >= 2.5x naive",
    "stats": "goal 7: >= 15 GB/s per thread (mean variant)",
    "distances": "goal 9: >= 10 GB/s per thread at D = 512",
}


def load_runs(paths):
    """Median (or only) run of every benchmark, keyed by run name, plus each file's context."""
    runs, contexts = OrderedDict(), []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        contexts.append((path, data.get("context", {})))
        for b in data.get("benchmarks", []):
            name = b.get("run_name", b["name"])
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            if b.get("run_type") == "aggregate" or name not in runs:
                runs[name] = b
    return runs, contexts


def seconds(run):
    return run["real_time"] * TIME_TO_SECONDS[run.get("time_unit", "ns")]


def split_name(name):
    base = name.split("/real_time")[0].split("/manual_time")[0]
    parts = base.split("/")
    # Arguments registered with ->Arg() follow the name as numbers; they are not part of it.
    while parts and parts[-1].lstrip("-").isdigit():
        parts.pop()
    if len(parts) < 3:
        return None
    return parts[0], "/".join(parts[1:-1]), parts[-1]


def fmt_time(s):
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def fmt_bytes(n):
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def host_goal(group, case, gbs, share, speedups, threads):
    if group == "fold":
        naive = speedups.get("naive")
        if share is None or naive is None:
            return ""
        return "met" if share >= 0.5 and naive >= 2.5 else "missed"
    if group == "stats" and "mean" in case:
        return "met" if gbs / threads >= 15 else "missed"
    if group == "distances" and "_D512_" in case:
        return "met" if gbs / threads >= 10 else "missed"
    return ""


def fastest_torch(impls):
    """The fastest complete PyTorch row of a case, labelled with its formulation."""
    complete = [(seconds(impls[i]), i) for i in TORCH_COMPLETE if i in impls]
    if not complete:
        return None
    _, name = min(complete)
    return dict(impls[name], formulation=name[len("torch_"):])


def grouped_tables(runs, threads, peak_gbs, each_torch=False):
    cases = OrderedDict()
    for name, run in runs.items():
        parts = split_name(name)
        if parts is None:
            continue
        group, case, impl = parts
        cases.setdefault((group, case), OrderedDict())[impl] = run
    if not each_torch:
        for key, impls in cases.items():
            fastest = fastest_torch(impls)
            kept = OrderedDict((i, r) for i, r in impls.items() if not i.startswith("torch_"))
            if fastest is not None:
                kept["torch"] = fastest
            cases[key] = kept
    groups = OrderedDict()
    for (group, case), impls in cases.items():
        groups.setdefault(group, []).append((case, impls))

    out = []
    for group, rows in groups.items():
        if not any("memloc" in impls for _, impls in rows):
            continue
        baselines = []
        for _, impls in rows:
            for impl in impls:
                if impl != "memloc" and impl not in ROOFLINES and impl not in baselines:
                    baselines.append(impl)
        rooflines = [r for r in ROOFLINES if any(r in impls for _, impls in rows)]
        header = ["case", "bytes", "memloc", "GB/s"]
        header += [f"% of {r}" for r in rooflines]
        if peak_gbs:
            header.append("% of peak")
        header += [f"vs {b}" for b in baselines]
        show_goal = peak_gbs is None and group in HOST_GOALS
        if show_goal:
            header.append(HOST_GOALS[group])
        show_torch_goal = peak_gbs is None and "torch" in baselines
        if show_torch_goal:
            header.append("goal 10: faster than torch")
        out.append(f"### {group}\n")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for case, impls in rows:
            mine = impls.get("memloc")
            if mine is None:
                continue
            t = seconds(mine)
            nbytes = mine.get("bytes", 0.0)
            gbs = mine.get("bytes_per_second", 0.0) / 1e9
            row = [case, fmt_bytes(nbytes) if nbytes else "–", fmt_time(t), f"{gbs:.1f}"]
            share = None
            for r in rooflines:
                if r in impls and impls[r].get("bytes_per_second"):
                    s = impls[r]["bytes_per_second"] / 1e9
                    # The copy moves every byte twice; compare with what it reads.
                    s = s / 2 if r == "roofline_copy" else s
                    frac = gbs / s
                    share = frac if share is None else share
                    row.append(f"{100 * frac:.0f} %")
                else:
                    row.append("–")
            if peak_gbs:
                row.append(f"{100 * gbs / peak_gbs:.0f} %")
            speedups = {}
            for b in baselines:
                if b in impls:
                    speedups[b] = seconds(impls[b]) / t
                    label = f" ({impls[b]['formulation']})" if "formulation" in impls[b] else ""
                    row.append(f"{speedups[b]:.2f}×{label}")
                else:
                    row.append("–")
            if show_goal:
                row.append(host_goal(group, case, gbs, share, speedups, threads))
            if show_torch_goal:
                row.append("" if "torch" not in speedups else "met" if speedups["torch"] > 1 else "missed")
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return out


def other_table(runs):
    rows = [(name, run) for name, run in runs.items() if split_name(name) is None]
    if not rows:
        return []
    out = ["### other\n", "| benchmark | wall (median) | CPU (median) |", "|---|---|---|"]
    for name, run in rows:
        cpu = run["cpu_time"] * TIME_TO_SECONDS[run.get("time_unit", "ns")]
        out.append(f"| {name} | {fmt_time(seconds(run))} | {fmt_time(cpu)} |")
    out.append("")
    return out


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", help="benchmark JSON files")
    parser.add_argument("--peak-gbs", type=float, default=None,
                        help="datasheet peak of the device in GB/s (adds a %% of peak column)")
    parser.add_argument("--each-torch", action="store_true",
                        help="a column per PyTorch formulation instead of one `vs torch` (the fastest complete one)")
    args = parser.parse_args(argv)
    try:
        runs, contexts = load_runs(args.json)
    except (OSError, ValueError, KeyError) as e:
        print(f"report.py: cannot read benchmark JSON: {e}", file=sys.stderr)
        return 2
    threads = 1
    torch_threads = set()
    for path, ctx in contexts:
        keys = ("host_name", "num_cpus", "mhz_per_cpu", "cpu", "compiler", "omp_threads", "commit", "date",
                "device", "driver", "cuda", "torch", "torch_threads")
        facts = ", ".join(f"{k}={ctx[k]}" for k in keys if k in ctx)
        print(f"- `{path}`: {facts}")
        if "omp_threads" in ctx:
            threads = max(threads, int(ctx["omp_threads"]))
        if "torch_threads" in ctx:
            torch_threads.add(int(ctx["torch_threads"]))
    # A comparison is only fair on equal threads (perf-goals goal 10).
    for other in sorted(torch_threads - {threads}):
        print(f"report.py: warning: torch ran on {other} threads, memloc on {threads}", file=sys.stderr)
    print()
    lines = grouped_tables(runs, threads, args.peak_gbs, args.each_torch) + other_table(runs)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
