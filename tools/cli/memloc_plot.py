#!/usr/bin/python3
"""memloc plot: paper-style figures from the memloc command's JSON reports, as PNG and SVG.

    memloc plot REPORT.json [REPORT.json ...] --out DIR

From a layermem report: LayerMem and ΔLayerMem per measurement point (LOC Fig. 2 style).
From unitmem reports: a UnitMem histogram per layer (LOC Fig. 3), ClassMem against UnitMem
with the diagonal when the report has labels (LOC Fig. 4), and, when a layermem report is
given too, each unit's UnitMem against the SSLMem of its argmax sample at the
report's last measurement point (LOC Fig. 1b). Needs matplotlib (Debian's
python3-matplotlib). Exit status 2 on bad input, as the command's other subcommands.
"""

import json
import os
import sys


def fail(message):
    print(f"memloc plot: {message}", file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: cannot read a JSON report: {e}")
    if not isinstance(report, dict) or report.get("command") not in ("unitmem", "layermem"):
        fail(f"{path}: not a unitmem or layermem report of the memloc command")
    return report


def number(x):
    return float("nan") if x is None else x


def save(figure, out, name):
    for ext in ("png", "svg"):
        figure.savefig(os.path.join(out, f"{name}.{ext}"), dpi=150, bbox_inches="tight")


def main(argv):
    args = [a for a in argv if a != "--out"]
    if "--out" not in argv or argv.index("--out") + 1 >= len(argv):
        fail("usage: memloc plot REPORT.json [REPORT.json ...] --out DIR")
    out = argv[argv.index("--out") + 1]
    args.remove(out)
    if not args:
        fail("usage: memloc plot REPORT.json [REPORT.json ...] --out DIR")
    reports = [(path, load(path)) for path in args]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("matplotlib is needed for figures (Debian: apt-get install python3-matplotlib)")
    os.makedirs(out, exist_ok=True)
    written = []

    layer_reports = [r for _, r in reports if r["command"] == "layermem"]
    unit_reports = [(p, r) for p, r in reports if r["command"] == "unitmem"]

    for index, report in enumerate(layer_reports):
        points = report["points"]
        names = [p["name"] for p in points]
        figure, axes = plt.subplots(1, 2, figsize=(max(6, 0.6 * len(names) + 4), 3.5))
        positions = list(range(len(names)))
        # The first point has no ΔLayerMem (null): its bar is left empty, its name stays.
        axes[0].bar(positions, [number(p["layermem"]) for p in points], color="tab:blue")
        axes[0].set_title("LayerMem")
        axes[1].bar(positions, [number(p["delta_layermem"]) for p in points], color="tab:orange")
        axes[1].set_title("ΔLayerMem")
        for axis in axes:
            axis.set_xticks(positions, names, rotation=60)
            axis.set_xlim(-0.6, len(names) - 0.4)
            axis.axhline(0, color="black", linewidth=0.5)
        name = "layermem" if len(layer_reports) == 1 else f"layermem_{index}"
        save(figure, out, name)
        plt.close(figure)
        written.append(name)

    for path, report in unit_reports:
        layer = os.path.splitext(os.path.basename(path))[0]
        values = [v for v in report["unitmem"] if v is not None]
        figure, axis = plt.subplots(figsize=(4.5, 3.5))
        axis.hist(values, bins=30, range=(min(0.0, min(values, default=0.0)), 1.0), color="tab:green")
        axis.set_xlabel("UnitMem")
        axis.set_ylabel("units")
        axis.set_title(f"{layer}: {len(values)} units")
        save(figure, out, f"unitmem_hist_{layer}")
        plt.close(figure)
        written.append(f"unitmem_hist_{layer}")
        if "classmem" in report:
            pairs = [(u, c) for u, c in zip(report["unitmem"], report["classmem"]) if u is not None and c is not None]
            figure, axis = plt.subplots(figsize=(4, 4))
            axis.scatter([p[1] for p in pairs], [p[0] for p in pairs], s=6)
            low = min([0.0] + [min(p) for p in pairs])
            axis.plot([low, 1], [low, 1], color="black", linewidth=0.5)  # above the diagonal: sample- over class-selective
            axis.set_xlabel("ClassMem")
            axis.set_ylabel("UnitMem")
            axis.set_title(layer)
            save(figure, out, f"classmem_vs_unitmem_{layer}")
            plt.close(figure)
            written.append(f"classmem_vs_unitmem_{layer}")
        if layer_reports:
            sslmem = layer_reports[-1]["points"][-1]["sslmem"]
            pairs = [(u, sslmem[a]) for u, a in zip(report["unitmem"], report["argmax"])
                     if u is not None and 0 <= a < len(sslmem) and sslmem[a] is not None]
            figure, axis = plt.subplots(figsize=(4.5, 3.5))
            axis.scatter([p[0] for p in pairs], [p[1] for p in pairs], s=6)
            axis.set_xlabel("UnitMem")
            axis.set_ylabel("SSLMem of the argmax sample")
            axis.set_title(layer)
            save(figure, out, f"unitmem_vs_sslmem_{layer}")
            plt.close(figure)
            written.append(f"unitmem_vs_sslmem_{layer}")

    for name in written:
        print(os.path.join(out, name + ".png"))


if __name__ == "__main__":
    main(sys.argv[1:])
