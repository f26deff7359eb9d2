#!/usr/bin/python3
"""Checks that a memloc_digits_ssl JSON report is complete and internally consistent.

    check_report.py REPORT.json

Exit 0 when every check passes; otherwise each failed check is printed, naming the
section, the value and what was expected, and the exit status is 1 (2 for an unreadable file).
"""

import json
import math
import sys

POINTS = ["1", "2", "3", "4", "Res2", "5", "6", "7", "8", "Res6"]
CONV_UNITS = {"1": 16, "2": 32, "3": 32, "4": 32, "5": 64, "6": 64, "7": 64, "8": 64}
SECTIONS = ["data", "training", "measurement", "layermem", "unitmem", "classmem", "consistency", "t_test",
            "unitmem_during_training", "seconds"]

failures = []


def fail(message):
    failures.append(message)


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def in_range(where, x, low, high):
    if not is_number(x) or not low <= x <= high:
        fail(f"{where}: expected a number in [{low}, {high}], found {x!r}")


def check_layermem(r, candidates):
    lm = r["layermem"]
    if lm.get("points") != POINTS:
        fail(f"layermem.points: expected {POINTS}, found {lm.get('points')!r}")
        return
    if lm.get("samples") != candidates:
        fail(f"layermem.samples: expected the {candidates} candidates, found {lm.get('samples')!r}")
    k = lm.get("subset_size")
    if k != min(50, candidates // 2):
        fail(f"layermem.subset_size: expected min(50, {candidates} // 2) = {min(50, candidates // 2)}, found {k!r}")
    for column in ("all", "top", "least"):
        values, deltas = lm.get(column), lm.get("delta_" + column)
        if not isinstance(values, list) or len(values) != len(POINTS) or not isinstance(deltas, list) or len(deltas) != len(POINTS):
            fail(f"layermem.{column}: expected {len(POINTS)} values and as many deltas")
            continue
        for p, x in zip(POINTS, values):
            in_range(f"layermem.{column}[{p}]", x, -1.0, 1.0)
        if deltas[0] is not None:
            fail(f"layermem.delta_{column}[1]: the first point has no predecessor, expected null, found {deltas[0]!r}")
        for i in range(1, len(POINTS)):
            if not (is_number(deltas[i]) and is_number(values[i]) and is_number(values[i - 1])):
                fail(f"layermem.delta_{column}[{POINTS[i]}]: expected a number, found {deltas[i]!r}")
            elif abs(deltas[i] - (values[i] - values[i - 1])) > 1e-12:
                fail(f"layermem.delta_{column}[{POINTS[i]}]: expected LM({POINTS[i]}) - LM({POINTS[i - 1]}) = "
                     f"{values[i] - values[i - 1]!r}, found {deltas[i]!r}")
        if all(is_number(d) for d in deltas[1:]) and all(is_number(v) for v in values):
            total = sum(deltas[1:])
            if abs(total - (values[-1] - values[0])) > 1e-9:
                fail(f"layermem.delta_{column}: the deltas sum to {total!r}, expected last - first = {values[-1] - values[0]!r}")
    control = lm.get("independent")
    if not isinstance(control, list) or len(control) != len(POINTS):
        fail(f"layermem.independent: expected the control's {len(POINTS)} values, found {control!r}")
    else:
        for p, x in zip(POINTS, control):
            in_range(f"layermem.independent[{p}]", x, -1.0, 1.0)
    scores = lm.get("scores", [])
    if len(scores) != len(POINTS) or any(len(s.get("values", [])) != candidates for s in scores):
        fail(f"layermem.scores: expected {len(POINTS)} points x {candidates} candidates")
        return
    for p, s in zip(POINTS, scores):
        for i, x in enumerate(s["values"]):
            in_range(f"layermem.scores[{p}][{i}]", x, -1.0, 1.0)
    last = scores[-1]["values"]
    for name, column in (("top", "top_samples"), ("least", "least_samples")):
        chosen = lm.get(column, [])
        if len(chosen) != k or len(set(chosen)) != k or not all(isinstance(i, int) and 0 <= i < candidates for i in chosen):
            fail(f"layermem.{column}: expected {k} distinct candidate indices, found {chosen!r}")
            continue
        mean = sum(last[i] for i in chosen) / k
        if abs(mean - lm[name][-1]) > 1e-9:
            fail(f"layermem.{name}[Res6]: expected the mean score of {column} = {mean!r}, found {lm[name][-1]!r}")
    mean_all = sum(last) / candidates
    if abs(mean_all - lm["all"][-1]) > 1e-9:
        fail(f"layermem.all[Res6]: expected the mean of the scores {mean_all!r}, found {lm['all'][-1]!r}")
    if not lm["top"][-1] >= lm["all"][-1] >= lm["least"][-1]:
        fail(f"layermem at the ranking point Res6: expected top >= all >= least, found "
             f"{lm['top'][-1]!r}, {lm['all'][-1]!r}, {lm['least'][-1]!r}")
    top_set, least_set = set(lm["top_samples"]), set(lm["least_samples"])
    if min(last[i] for i in top_set) < max(last[i] for i in set(range(candidates)) - top_set):
        fail("layermem.top_samples: some candidate outside the top set scores higher than one inside it")
    if max(last[i] for i in least_set) > min(last[i] for i in set(range(candidates)) - least_set):
        fail("layermem.least_samples: some candidate outside the least set scores lower than one inside it")


def check_units(r, candidates):
    rows = r["unitmem"]
    if [u.get("layer") for u in rows] != list(CONV_UNITS):
        fail(f"unitmem: expected the conv layers {list(CONV_UNITS)}, found {[u.get('layer') for u in rows]!r}")
        return
    for u in rows:
        layer, units = u["layer"], CONV_UNITS[u["layer"]]
        where = f"unitmem[{layer}]"
        if u.get("units") != units or len(u.get("values", [])) != units or len(u.get("argmax", [])) != units:
            fail(f"{where}: expected {units} units with a value and an argmax each")
            continue
        if u.get("samples") != candidates:
            fail(f"{where}.samples: expected {candidates}, found {u.get('samples')!r}")
        if u.get("nan_units") != 0:
            fail(f"{where}.nan_units: expected 0 for post-ReLU activations, found {u.get('nan_units')!r}")
        for i, x in enumerate(u["values"]):
            in_range(f"{where}.values[{i}]", x, 0.0, 1.0)
        for i, a in enumerate(u["argmax"]):
            if not isinstance(a, int) or not 0 <= a < candidates:
                fail(f"{where}.argmax[{i}]: expected a candidate index in [0, {candidates}), found {a!r}")
        values = u["values"]
        if all(is_number(x) for x in values):
            expected = {"mean": sum(values) / units, "max": max(values), "share_above_half": sum(x > 0.5 for x in values) / units}
            for key, value in expected.items():
                if not is_number(u.get(key)) or abs(u[key] - value) > 1e-12:
                    fail(f"{where}.{key}: expected {value!r} from the unit values, found {u.get(key)!r}")
    classes = r["classmem"]
    if [c.get("layer") for c in classes] != list(CONV_UNITS):
        fail(f"classmem: expected the conv layers {list(CONV_UNITS)}")
        return
    for c, u in zip(classes, rows):
        where = f"classmem[{c['layer']}]"
        if len(c.get("values", [])) != CONV_UNITS[c["layer"]]:
            fail(f"{where}: expected {CONV_UNITS[c['layer']]} values")
            continue
        for i, x in enumerate(c["values"]):
            in_range(f"{where}.values[{i}]", x, 0.0, 1.0)
        in_range(f"{where}.share_unitmem_above_classmem", c.get("share_unitmem_above_classmem"), 0.0, 1.0)
        if not is_number(c.get("mean_unitmem")) or abs(c["mean_unitmem"] - u["mean"]) > 1e-12:
            fail(f"{where}.mean_unitmem: expected the UnitMem table's mean {u['mean']!r}, found {c.get('mean_unitmem')!r}")


def check_consistency(r, candidates):
    c = r["consistency"]
    convs = list(CONV_UNITS)
    expected_pairs = [(a, b) for i, a in enumerate(convs) for b in convs[i + 1:]]
    pairs = c.get("pairs", [])
    if [(p.get("a"), p.get("b")) for p in pairs] != expected_pairs:
        fail(f"consistency.pairs: expected the {len(expected_pairs)} pairs of conv layers in order")
        return
    k = c.get("k")
    if k != r["layermem"]["subset_size"]:
        fail(f"consistency.k: expected the subset size {r['layermem']['subset_size']}, found {k!r}")
    for p in pairs:
        where = f"consistency[{p['a']}-{p['b']}]"
        in_range(f"{where}.overlap_percent", p.get("overlap_percent"), 0.0, 100.0)
        if not isinstance(p.get("overlap"), int) or not 0 <= p["overlap"] <= k or abs(100.0 * p["overlap"] / k - p["overlap_percent"]) > 1e-9:
            fail(f"{where}.overlap: expected a count in [0, {k}] matching overlap_percent, found {p.get('overlap')!r}")
        in_range(f"{where}.tau", p.get("tau"), -1.0, 1.0)
        in_range(f"{where}.p_value", p.get("p_value"), 0.0, 1.0)
        if p.get("n") != candidates:
            fail(f"{where}.n: expected tau over the {candidates} candidates, found {p.get('n')!r}")


def check_t_test(r):
    t = r["t_test"]
    rows = t.get("layers", [])
    if [x.get("layer") for x in rows] != list(CONV_UNITS):
        fail(f"t_test.layers: expected the conv layers {list(CONV_UNITS)}")
        return
    for x in rows:
        where = f"t_test[{x['layer']}]"
        units = CONV_UNITS[x["layer"]]
        if x.get("units") != units or x.get("top_units") != math.ceil(0.1 * units):
            fail(f"{where}: expected {units} units and ceil(10 %) = {math.ceil(0.1 * units)} top units, found "
                 f"{x.get('units')!r} and {x.get('top_units')!r}")
        for key in ("most_mean", "least_mean", "most_top_mean", "least_top_mean"):
            in_range(f"{where}.{key}", x.get(key), 0.0, 1.0)
        for group in ("most", "least"):
            if is_number(x.get(group + "_top_mean")) and is_number(x.get(group + "_mean")) and x[group + "_top_mean"] < x[group + "_mean"] - 1e-12:
                fail(f"{where}: the mean of the top-10 % units ({x[group + '_top_mean']!r}) is below the mean of all units ({x[group + '_mean']!r})")
        if x.get("df") != 2 * units - 2:
            fail(f"{where}.df: expected 2 x {units} - 2 = {2 * units - 2} (Student, all units), found {x.get('df')!r}")
        if not is_number(x.get("t")):
            fail(f"{where}.t: expected a finite number, found {x.get('t')!r}")
        in_range(f"{where}.p_value", x.get("p_value"), 0.0, 1.0)


def check_curve(r, epochs):
    c = r["unitmem_during_training"]
    if c.get("layers") != list(CONV_UNITS):
        fail(f"unitmem_during_training.layers: expected {list(CONV_UNITS)}, found {c.get('layers')!r}")
    measured = c.get("epochs", [])
    if not measured or measured[0] != 0 or measured[-1] != epochs or measured != sorted(set(measured)):
        fail(f"unitmem_during_training.epochs: expected increasing epochs from 0 to {epochs}, found {measured!r}")
    for key in ("mean", "max"):
        series = c.get(key, [])
        if len(series) != len(measured):
            fail(f"unitmem_during_training.{key}: expected one entry per measured epoch ({len(measured)}), found {len(series)}")
            continue
        for e, entry in zip(measured, series):
            values = entry.get("values", [])
            if len(values) != len(CONV_UNITS):
                fail(f"unitmem_during_training.{key}[epoch {e}]: expected {len(CONV_UNITS)} layers")
            for layer, x in zip(CONV_UNITS, values):
                in_range(f"unitmem_during_training.{key}[epoch {e}][{layer}]", x, 0.0, 1.0)


def main(argv):
    if len(argv) != 2:
        print("usage: check_report.py REPORT.json", file=sys.stderr)
        return 2
    try:
        with open(argv[1]) as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_report: cannot read {argv[1]}: {e}", file=sys.stderr)
        return 2
    missing = [s for s in SECTIONS if s not in r]
    if missing:
        print(f"check_report: {argv[1]}: missing sections {missing}", file=sys.stderr)
        return 1
    d = r["data"]
    candidates = d.get("candidate")
    if not isinstance(candidates, int) or candidates < 4:
        fail(f"data.candidate: expected at least 4 candidates, found {candidates!r}")
        candidates = 0
    kept = d.get("shared", 0) + d.get("candidate", 0) + d.get("independent", 0)
    if d.get("images") != 1797 or kept > 1797 or d.get("candidate") != d.get("independent") or d.get("candidate") != kept // 10:
        fail(f"data: expected 1797 images and a 80/10/10 split, found {d!r}")
    epochs = r["training"].get("epochs")
    for key in ("f_loss", "g_loss"):
        losses = r["training"].get(key, [])
        if len(losses) != epochs or not all(is_number(x) and x > 0 for x in losses):
            fail(f"training.{key}: expected {epochs} positive losses, found {losses!r}")
    if r["measurement"].get("views") != 10:
        fail(f"measurement.views: expected 10 augmentations per candidate, found {r['measurement'].get('views')!r}")
    check_layermem(r, candidates)
    check_units(r, candidates)
    check_consistency(r, candidates)
    check_t_test(r)
    check_curve(r, epochs)
    for phase, seconds in r["seconds"].items():
        if not is_number(seconds) or seconds < 0:
            fail(f"seconds.{phase}: expected a non-negative duration, found {seconds!r}")
    if failures:
        for message in failures:
            print(f"check_report: {argv[1]}: {message}", file=sys.stderr)
        print(f"check_report: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print(f"check_report: {argv[1]}: complete and consistent ({candidates} candidates, {len(POINTS)} points)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
