#!/usr/bin/python3
"""Checks that a memloc_ssl_demo JSON report is complete and internally consistent.

    check_report.py REPORT.json

Exit 0 when every check passes; otherwise each failed check is printed, naming the
section, the value and what was expected, and the exit status is 1 (2 for an unreadable file).
"""

import json
import math
import sys

POINTS = ["1", "2", "3", "4", "Res2", "5", "6", "7", "8", "Res6"]
CONV_UNITS = {}  # conv layer -> units, read from the report's encoder section
SECTIONS = ["data", "encoder", "training", "measurement", "control", "layermem", "unitmem", "classmem", "consistency", "t_test",
            "units_and_samples", "layer_choice", "unitmem_during_training", "seconds", "memory"]

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
    for key in ("held_out", "independent"):
        control = lm.get(key)
        if not isinstance(control, list) or len(control) != len(POINTS):
            fail(f"layermem.{key}: expected the control's {len(POINTS)} values, found {control!r}")
        else:
            for p, x in zip(POINTS, control):
                in_range(f"layermem.{key}[{p}]", x, -1.0, 1.0)
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


def check_encoder(r):
    e = r["encoder"]
    points = e.get("points", [])
    if [p.get("name") for p in points] != POINTS:
        fail(f"encoder.points: expected {POINTS}, found {[p.get('name') for p in points]!r}")
        return False
    widths = e.get("widths", [])
    convs = [p for p in points if p.get("conv")]
    if len(widths) != 8 or [p.get("channels") for p in convs] != widths:
        fail(f"encoder: expected 8 conv widths matching the conv points' channels, found {widths!r}")
        return False
    for p in points:
        for key in ("channels", "height", "width"):
            if not isinstance(p.get(key), int) or p[key] < 1:
                fail(f"encoder.points[{p['name']}].{key}: expected a positive integer, found {p.get(key)!r}")
    for name, pair in (("Res2", "4"), ("Res6", "8")):
        res = next(p for p in points if p["name"] == name)
        conv = next(p for p in points if p["name"] == pair)
        if [res.get(k) for k in ("channels", "height", "width")] != [conv.get(k) for k in ("channels", "height", "width")]:
            fail(f"encoder.points[{name}]: expected the shape of conv {pair}, found {res!r}")
    CONV_UNITS.update({p["name"]: p["channels"] for p in convs})
    return True


def check_control(r, d):
    c = r["control"]
    for key, count in (("candidates", d.get("candidate")), ("held_out", d.get("held_out")), ("independent", d.get("independent"))):
        if c.get(key) != count:
            fail(f"control.{key}: expected the data section's {count!r}, found {c.get(key)!r}")
    if c.get("point") != POINTS[-1]:
        fail(f"control.point: expected the last point {POINTS[-1]}, found {c.get('point')!r}")
    if c.get("test") != "welch" or c.get("alternative") != "greater":
        fail(f"control: expected Welch's test with alternative greater, found {c.get('test')!r}, {c.get('alternative')!r}")
    lm = r["layermem"]
    for key, expected in (("candidate_mean", lm["all"][-1]), ("held_out_mean", lm["held_out"][-1]),
                          ("independent_mean", lm["independent"][-1])):
        if not is_number(c.get(key)) or not is_number(expected) or abs(c[key] - expected) > 1e-9:
            fail(f"control.{key}: expected LayerMem's value at {POINTS[-1]} ({expected!r}), found {c.get(key)!r}")
    if not is_number(c.get("t")):
        fail(f"control.t: expected a finite number, found {c.get('t')!r}")
    elif is_number(c.get("candidate_mean")) and is_number(c.get("held_out_mean")) and (c["t"] > 0) != (c["candidate_mean"] > c["held_out_mean"]):
        fail(f"control.t: its sign ({c['t']!r}) disagrees with the difference of the means")
    n1, n2 = c.get("candidates", 0), c.get("held_out", 0)
    if not is_number(c.get("df")) or not min(n1, n2) - 1 - 1e-9 <= c["df"] <= n1 + n2 - 2 + 1e-9:
        fail(f"control.df: expected Welch's df in [{min(n1, n2) - 1}, {n1 + n2 - 2}], found {c.get('df')!r}")
    in_range("control.p_value", c.get("p_value"), 0.0, 1.0)


def check_links(r, candidates):
    rows = r["units_and_samples"]
    if [x.get("layer") for x in rows] != list(CONV_UNITS):
        fail(f"units_and_samples: expected the conv layers {list(CONV_UNITS)}")
        return
    scores = r["layermem"]["scores"][-1]["values"]
    top_set = set(r["layermem"]["top_samples"])
    for x, u in zip(rows, r["unitmem"]):
        where = f"units_and_samples[{x['layer']}]"
        units = CONV_UNITS[x["layer"]]
        top = math.ceil(0.1 * units)
        if x.get("units") != units or x.get("top_units") != top:
            fail(f"{where}: expected {units} units and ceil(10 %) = {top} top units, found {x.get('units')!r}, {x.get('top_units')!r}")
            continue
        # Recompute from the unitmem section: the top units by UnitMem (ties by lower index) and their argmax candidates.
        ranked = sorted(range(units), key=lambda i: (-u["values"][i], i))[:top]
        argmax = [u["argmax"][i] for i in ranked]
        counts = {s: argmax.count(s) for s in argmax}
        expected = {"distinct_argmax": len(counts), "most_shared_count": max(counts.values()),
                    "argmax_in_top_set": sum(a in top_set for a in argmax)}
        for key, value in expected.items():
            if x.get(key) != value:
                fail(f"{where}.{key}: expected {value} from the unitmem section, found {x.get(key)!r}")
        mean = sum(scores[a] for a in argmax) / top
        if not is_number(x.get("argmax_score_mean")) or abs(x["argmax_score_mean"] - mean) > 1e-9:
            fail(f"{where}.argmax_score_mean: expected {mean!r}, found {x.get('argmax_score_mean')!r}")
        if not isinstance(x.get("most_shared_sample"), int) or not 0 <= x["most_shared_sample"] < candidates:
            fail(f"{where}.most_shared_sample: expected a candidate index, found {x.get('most_shared_sample')!r}")
        # Kendall's tau is undefined (NaN, written null) when either side is constant, e.g.
        # every unit of a small layer having the same argmax candidate.
        constant = len(set(u["values"])) == 1 or len({scores[a] for a in u["argmax"]}) == 1
        if not (constant and x.get("tau") is None and x.get("p_value") is None):
            in_range(f"{where}.tau", x.get("tau"), -1.0, 1.0)
            in_range(f"{where}.p_value", x.get("p_value"), 0.0, 1.0)
    c = r["layer_choice"]
    lm = r["layermem"]
    k = c.get("count")
    for key, values, reverse in (("top_delta", lm["delta_all"], True), ("least_delta", lm["delta_all"], False),
                                 ("top_layermem", lm["all"], True)):
        order = sorted((i for i in range(len(POINTS)) if is_number(values[i])), key=lambda i: (-values[i] if reverse else values[i], i))
        expected = [POINTS[i] for i in order[:k]] if isinstance(k, int) else None
        if c.get(key) != expected:
            fail(f"layer_choice.{key}: expected {expected!r} from the layermem section, found {c.get(key)!r}")
    total = sum(CONV_UNITS.values())
    if c.get("layers") != list(CONV_UNITS) or sum(c.get("total_top_units", [])) != c.get("total_selected") or \
            c.get("total_selected") != math.ceil(0.1 * total):
        fail(f"layer_choice: expected ceil(10 %) of the {total} conv units spread over the conv layers, found {c!r}")


def check_memory(r):
    m = r["memory"]
    for key in ("before_measure_bytes", "measure_peak_bytes", "process_peak_bytes"):
        # -1: the peak of the pass alone needs a writable /proc/self/clear_refs (not under gVisor).
        if key == "measure_peak_bytes" and m.get(key) == -1:
            continue
        if not isinstance(m.get(key), int) or m[key] <= 0:
            fail(f"memory.{key}: expected a positive byte count (Linux /proc), found {m.get(key)!r}")
    if isinstance(m.get("measure_peak_bytes"), int) and isinstance(m.get("process_peak_bytes"), int) and m["measure_peak_bytes"] > m["process_peak_bytes"]:
        fail(f"memory: the measurement's peak {m['measure_peak_bytes']} exceeds the run's {m['process_peak_bytes']}")
    if not isinstance(m.get("memloc_state_bytes"), int) or m["memloc_state_bytes"] <= 0:
        fail(f"memory.memloc_state_bytes: expected a positive byte count, found {m.get('memloc_state_bytes')!r}")


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
    pools = {"fashion-mnist": (60000, 10000), "digits": (1797, 0)}
    subset = d.get("subset", 0)
    kept = d.get("shared", 0) + d.get("candidate", 0) + d.get("independent", 0)
    if d.get("dataset") not in pools or (d.get("train_pool"), d.get("held_out_pool")) != pools.get(d.get("dataset")):
        fail(f"data: expected fashion-mnist with 60000 + 10000 images or digits with 1797, found {d!r}")
    elif kept != subset or d.get("candidate") != d.get("independent") or d.get("candidate") != subset // 10:
        fail(f"data: expected the subset split 80/10/10, found {d!r}")
    elif not isinstance(d.get("held_out"), int) or d["held_out"] < 1 or \
            d["held_out"] > (d["held_out_pool"] or d["train_pool"] - subset):
        fail(f"data: expected held-out images drawn from a pool large enough, found {d!r}")
    if len(d.get("classes", [])) != 10:
        fail(f"data.classes: expected the 10 class names, found {d.get('classes')!r}")
    if not check_encoder(r):
        print(f"check_report: {argv[1]}: " + "; ".join(failures), file=sys.stderr)
        return 1
    epochs = r["training"].get("epochs")
    for key in ("f_loss", "g_loss"):
        losses = r["training"].get(key, [])
        if len(losses) != epochs or not all(is_number(x) and x > 0 for x in losses):
            fail(f"training.{key}: expected {epochs} positive losses, found {losses!r}")
    if r["measurement"].get("views") != 10:
        fail(f"measurement.views: expected 10 augmentations per candidate, found {r['measurement'].get('views')!r}")
    check_layermem(r, candidates)
    check_control(r, d)
    check_units(r, candidates)
    check_consistency(r, candidates)
    check_t_test(r)
    check_links(r, candidates)
    check_curve(r, epochs)
    check_memory(r)
    for phase, seconds in r["seconds"].items():
        if not is_number(seconds) or seconds < 0:
            fail(f"seconds.{phase}: expected a non-negative duration, found {seconds!r}")
    if failures:
        for message in failures:
            print(f"check_report: {argv[1]}: {message}", file=sys.stderr)
        print(f"check_report: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print(f"check_report: {argv[1]}: complete and consistent ({d['dataset']}, {candidates} candidates, {len(POINTS)} points)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
