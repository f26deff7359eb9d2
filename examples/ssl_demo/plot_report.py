#!/usr/bin/python3
"""Figures of a memloc_ssl_demo report, drawn by the project's plotting command.

    plot_report.py REPORT.json --out DIR

Writes the report's sections as the `memloc` command's layermem and unitmem reports
(DIR/reports/), runs `memloc plot` (tools/cli/memloc_plot.py) on them — LayerMem/ΔLayerMem,
UnitMem histograms, ClassMem vs UnitMem, UnitMem vs the SSLMem of the argmax sample — and
adds the one figure that command does not draw: UnitMem during f's training (LOC Fig. 10).
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PLOT = os.path.join(HERE, "..", "..", "tools", "cli", "memloc_plot.py")


def main(argv):
    if len(argv) != 3 or argv[1] != "--out":
        print("usage: plot_report.py REPORT.json --out DIR", file=sys.stderr)
        return 2
    path, out = argv[0], argv[2]
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot_report: cannot read {path}: {e}", file=sys.stderr)
        return 2
    reports = os.path.join(out, "reports")
    os.makedirs(reports, exist_ok=True)
    lm = report["layermem"]
    points = [{"name": name, "layermem": value, "delta_layermem": delta, "sslmem": scores["values"]}
              for name, value, delta, scores in zip(lm["points"], lm["all"], lm["delta_all"], lm["scores"])]
    written = [os.path.join(reports, "layermem.json")]
    with open(written[0], "w") as f:
        json.dump({"command": "layermem", "points": points}, f)
    for units, classes in zip(report["unitmem"], report["classmem"]):
        written.append(os.path.join(reports, f"conv{units['layer']}.json"))
        with open(written[-1], "w") as f:
            json.dump({"command": "unitmem", "unitmem": units["values"], "argmax": units["argmax"],
                       "classmem": classes["values"]}, f)
    status = subprocess.call([sys.executable, PLOT, *written, "--out", out])
    if status != 0:
        return status

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curve = report["unitmem_during_training"]
    figure, axis = plt.subplots(figsize=(5.5, 3.5))
    for index, layer in enumerate(curve["layers"]):
        axis.plot(curve["epochs"], [entry["values"][index] for entry in curve["mean"]], marker="o", markersize=3, label=layer)
    axis.set_xlabel("epoch of f's training")
    axis.set_ylabel("mean UnitMem over the candidates")
    axis.legend(title="conv layer", fontsize=7, ncol=2)
    for ext in ("png", "svg"):
        figure.savefig(os.path.join(out, f"unitmem_during_training.{ext}"), dpi=150, bbox_inches="tight")
    print(os.path.join(out, "unitmem_during_training.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
